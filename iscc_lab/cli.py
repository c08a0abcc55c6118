"""`iscc-lab serve`: the REST API on a Jupyter server of its own; `iscc-lab check`: the tools."""

import argparse
import os
import secrets
import sys

BANNER_ENV = "ISCC_LAB_SERVE_BANNER"


def serve(args) -> int:
    from jupyter_server.serverapp import ServerApp

    if args.media_path:
        os.environ["ISCC_WEB_MEDIA_PATH"] = os.path.abspath(args.media_path)
    if args.anonymous:
        os.environ["ISCC_WEB_ALLOW_ANONYMOUS"] = "true"
    token = args.token if args.token is not None else secrets.token_hex(24)
    os.environ[BANNER_ENV] = "1"
    argv = [
        f"--ServerApp.ip={args.ip}",
        f"--ServerApp.port={args.port}",
        "--ServerApp.port_retries=0",
        "--ServerApp.open_browser=False",
        f"--IdentityProvider.token={token}",
        "--ServerApp.jpserver_extensions={'iscc_lab.server_ext': True}",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        argv.append("--allow-root")  # containers and these machines run as root
    ServerApp.launch_instance(argv=argv + args.jupyter_args)
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
    p.add_argument("jupyter_args", nargs=argparse.REMAINDER,
                   help="further jupyter-server options, e.g. --ServerApp.base_url=/iscc/")
    p.set_defaults(func=serve)
    c = sub.add_parser("check", help="check that ffmpeg, ffprobe and fpcalc are installed")
    c.set_defaults(func=check)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
