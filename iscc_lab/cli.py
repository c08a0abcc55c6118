"""`iscc-lab serve`: the REST API on a Jupyter server of its own; `iscc-lab check`: versions,
tools and models; `iscc-lab models`: install the semantic models."""

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
    if not getattr(args, "full_jupyter", False):  # the token opens the ISCC API, nothing else
        c.ServerApp.authorizer_class = "iscc_lab.server_ext.authorizer.ApiOnlyAuthorizer"
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

        def find_server_extensions(self):
            """The API alone: the server extensions that Jupyter's config files enable
            (JupyterLab, terminals, the language servers, ...) are left off, unless
            `--full-jupyter`; one named on the command line is loaded as asked."""
            asked = set(self.jpserver_extensions)
            super().find_server_extensions()
            if args.full_jupyter:
                return
            for name in set(self.jpserver_extensions) - asked:
                self.jpserver_extensions[name] = False
                self.config.ServerApp.jpserver_extensions[name] = False

    ServeApp.launch_instance(argv=args.jupyter_args)
    return 0


PACKAGES = ("iscc-sdk", "iscc-lib", "iscc-core", "iscc-sct", "iscc-sci", "c2pa-python")
REQUIRED = {"iscc-sdk", "iscc-lib", "iscc-core"}
OPTIONAL_HINT = {
    "iscc-sct": "pip install 'iscc-sct[cpu]' (Semantic-Code Text)",
    "iscc-sci": "pip install 'iscc-lab[semantic-image]' (Semantic-Code Image)",
    "c2pa-python": "pip install c2pa-python (C2PA manifests)",
}


def _version(package: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def tool_version(path: str) -> str:
    """The version a tool reports (`ffmpeg -version` -> "5.1.6-0+deb12u1"), or "?"."""
    import subprocess

    try:
        proc = subprocess.run([path, "-version"], capture_output=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return "?"
    words = (proc.stdout or proc.stderr).decode("utf-8", "replace").split()
    return words[2] if len(words) > 2 and words[1] == "version" else "?"


def _model_lines(kinds=("text", "image")) -> tuple[list[str], dict]:
    """Lines on the semantic models, and {kind: ready (package, model, published checksum)}."""
    from iscc_lab import semantic

    lines, ready = [], {}
    for kind in kinds:
        info = semantic.status(kind)
        if not info["installed"]:
            state = "absent "
            where = f"{info['package']} not installed (or it does not import)"
        elif not info["present"]:
            state = "absent "
            where = f"no model at {info['path']}"
        elif info["checksum"] == info["published"]:
            state = "ok     "
            where = f"{info['path']} (blake3 matches the published checksum)"
        else:
            state = "differs"
            where = f"{info['path']} (blake3 {info['checksum']})"
        ready[kind] = state.strip() == "ok"
        lines.append(f"  {kind:7} {state} {info['code']}: {where}")
        if info["fix"]:
            lines.append(f"  {'':7}   fix: {info['fix']}")
    return lines, ready


def check(args) -> int:
    """Versions of the ISCC packages and tools, whether the tools and semantic models are
    there, and how to fix what is missing. Exit 1 when something required is missing (the
    tools, iscc-sdk and its libraries; the semantic models named with --require-semantic)."""
    import platform

    from iscc_lab import tools

    ok = True
    print(
        f"iscc-lab {_version('iscc-lab') or '?'}, Python {platform.python_version()}, "
        f"{platform.platform()}"
    )
    print("packages")
    for name in PACKAGES:
        version = _version(name)
        ok &= version is not None or name not in REQUIRED
        state = version or ("MISSING" if name in REQUIRED else "not installed")
        hint = "" if version else f"  fix: {OPTIONAL_HINT.get(name, 'make venv')}"
        print(f"  {name:12} {state}{hint}")
    print("tools")
    for name, path in tools.check_tools().items():
        there = os.path.isabs(path)
        ok &= there
        if there:
            print(f"  {name:8} ok      {tool_version(path):20} {path}")
        else:
            print(f"  {name:8} MISSING\n  {'':8}   fix: {path}")
    print("semantic models (optional: for semantic=true)")
    lines, ready = _model_lines()
    print("\n".join(lines))
    for kind in args.require_semantic or ():
        if not ready[kind]:
            ok = False
            print(f"required by --require-semantic: the {kind} model is not ready", file=sys.stderr)
    return 0 if ok else 1


def models(args) -> int:
    """`iscc-lab models install FILE [--kind]` and `iscc-lab models list`."""
    from iscc_lab import semantic
    from iscc_lab.errors import IsccLabError

    if args.action == "list":
        print("\n".join(_model_lines()[0]))
        return 0
    try:
        target = semantic.install(args.file, args.kind)
    except IsccLabError as e:
        print(f"iscc-lab models install: {e}", file=sys.stderr)
        return 1
    spec = semantic.KINDS[args.kind]
    print(f"installed {target.name} at {target} (blake3 matches the published checksum).")
    if os.environ.get(spec.env):
        print(
            f"iscc-lab finds it there while {spec.env}={os.environ[spec.env]} is set "
            "(also for `iscc-lab serve` and Jupyter)."
        )
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="iscc-lab", description="The ISCC toolkit for Jupyter.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("serve", help="serve the ISCC REST API (/api/v1) from a Jupyter server")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument("--ip", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--token", default=None, help="API token (default: a new random one)")
    p.add_argument("--media-path", default=None, help="folder for uploads (ISCC_WEB_MEDIA_PATH)")
    p.add_argument(
        "--anonymous",
        action="store_true",
        help="serve the API without a token (trusted networks only)",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        help="ISCC worker processes (default: one per core; ISCC_WEB_MAX_WORKERS)",
    )
    p.add_argument(
        "--full-jupyter",
        action="store_true",
        help="a full Jupyter server: the server extensions Jupyter has enabled (JupyterLab, "
        "terminals, ...) and, for the token's holder, its kernels and contents; by default the "
        "token opens the ISCC API only",
    )
    p.add_argument(
        "jupyter_args",
        nargs=argparse.REMAINDER,
        help="further jupyter-server and extension options, e.g. "
        "--ServerApp.base_url=/iscc/ --IsccLabApp.max_upload_size=10000000",
    )
    p.set_defaults(func=serve)
    c = sub.add_parser("check", help="versions, tools and semantic models, and how to fix them")
    c.add_argument(
        "--require-semantic",
        action="append",
        choices=("text", "image"),
        help="also fail unless this semantic model is installed and published",
    )
    c.set_defaults(func=check)
    m = sub.add_parser("models", help="install or list the semantic models (iscc-sct, iscc-sci)")
    msub = m.add_subparsers(dest="action", required=True)
    mi = msub.add_parser("install", help="check a model file's blake3 checksum and install it")
    mi.add_argument("file", help="the model file, e.g. iscc-sct-v0.2.0.onnx")
    mi.add_argument(
        "--kind",
        choices=("text", "image"),
        default="text",
        help="text (iscc-sct, default) or image (iscc-sci)",
    )
    msub.add_parser("list", help="where the models are looked for and whether they are there")
    m.set_defaults(func=models)
    args, unknown = parser.parse_known_args(argv)
    if unknown and args.command != "serve":
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    if unknown:  # `--Class.option=value` options of Jupyter's, anywhere after `serve`
        args.jupyter_args = unknown + args.jupyter_args
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
