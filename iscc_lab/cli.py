"""`iscc-lab serve`: the REST API on a Jupyter server of its own; `iscc-lab check`: the tools."""

import argparse
import os
import secrets
import sys

def serve_config(args):
    """The Jupyter server's config for `iscc-lab serve ARGS`: the server's own options and the
    extension's (`IsccLabApp` traitlets), never the environment."""
    from traitlets.config import Config

    c = Config()
    c.ServerApp.ip = args.ip
    c.ServerApp.port = args.port
    c.ServerApp.port_retries = 0
    c.ServerApp.open_browser = False
    c.ServerApp.jpserver_extensions = {"iscc_lab.server_ext": True}
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        c.ServerApp.allow_root = True  # containers and these machines run as root
    c.IdentityProvider.token = args.token if args.token is not None else secrets.token_hex(24)
    c.IsccLabApp.banner = True
    if args.media_path:
        c.IsccLabApp.media_path = os.path.abspath(args.media_path)
    if args.anonymous:
        c.IsccLabApp.allow_anonymous = True
    if args.workers is not None:
        c.IsccLabApp.max_workers = args.workers
    return c


def serve(args) -> int:
    from jupyter_server.serverapp import ServerApp

    class ServeApp(ServerApp):
        """The Jupyter server of `iscc-lab serve`: its options rank as command-line options,
        over Jupyter's config files; the jupyter-server options given after them win."""

        def parse_command_line(self, argv=None):
            super().parse_command_line(argv)
            given = self.cli_config
            self.cli_config = serve_config(args)
            self.cli_config.merge(given)
            self.update_config(self.cli_config)

    ServeApp.launch_instance(argv=args.jupyter_args)
    return 0


def check(_args) -> int:
    from iscc_lab import semantic, tools

    ok = True
    for name, path in tools.check_tools().items():
        there = os.path.isabs(path)
        ok &= there
        print(f"{name:8} {'ok  ' if there else 'MISSING'} {path}")
    model = semantic.model_path()
    print(f"{'sct':8} {'ok  ' if model.is_file() else 'absent'} {model}"
          + ("" if model.is_file() else " (semantic features off; see README)"))
    return 0 if ok else 1


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="iscc-lab", description="The ISCC toolkit for Jupyter.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("serve", help="serve the ISCC REST API (/api/v1) from a Jupyter server")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument("--ip", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--token", default=None, help="API token (default: a new random one)")
    p.add_argument("--media-path", default=None, help="folder for uploads (ISCC_WEB_MEDIA_PATH)")
    p.add_argument("--anonymous", action="store_true",
                   help="serve the API without a token (trusted networks only)")
    p.add_argument("--workers", type=int, default=None,
                   help="ISCC worker processes (default: one per core; ISCC_WEB_MAX_WORKERS)")
    p.add_argument("jupyter_args", nargs=argparse.REMAINDER,
                   help="further jupyter-server and extension options, e.g. "
                   "--ServerApp.base_url=/iscc/ --IsccLabApp.max_upload_size=10000000")
    p.set_defaults(func=serve)
    c = sub.add_parser("check", help="check that ffmpeg, ffprobe and fpcalc are installed")
    c.set_defaults(func=check)
    args, unknown = parser.parse_known_args(argv)
    if unknown and args.command != "serve":
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    if unknown:  # `--Class.option=value` options of Jupyter's, anywhere after `serve`
        args.jupyter_args = unknown + args.jupyter_args
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
