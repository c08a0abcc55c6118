"""Reliability and security tests (issue 6): shared helpers.

The tests here run `iscc-lab serve` as a subprocess in a sandbox folder of its own (media,
temporary folder, Jupyter runtime folder and working folder all inside it), so that what the
server and its worker processes write, leak or leave behind can be checked from outside, and so
that it can be killed and restarted.

Unlike tests/server_ext, no test here uses pytest-jupyter's in-process server: a subprocess is
what a user runs, and only a subprocess can be killed, restarted and measured from outside.

`ISCC_LAB_RELIABILITY_SCALE` (default 1, the CI size) multiplies the counts of the fuzz, load
and repetition tests; figures of each run go to tests/artifacts/reliability/*.json.
"""

import datetime
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from tests.server_ext.conftest import b64

SCALE = float(os.environ.get("ISCC_LAB_RELIABILITY_SCALE", "1") or 1)
TOKEN = "reliability-token-0123456789abcdef"
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "reliability"
EXPLAIN_PATH = "explain/ISCC:KMDMRJYGHHVRCZ5TM6U4G6D4MXA6LAXC4ZRPOKFU7JBEQXR2BJOS6NA"
MEDIA_ID_LEN = 13


def scaled(n: float) -> int:
    """`n` times ISCC_LAB_RELIABILITY_SCALE, at least 1."""
    return max(1, round(n * SCALE))


def record(name: str, data: dict) -> Path:
    """Write the figures of a run to tests/artifacts/reliability/<name>.json (git-ignored);
    <name>-scale<N>.json for runs with ISCC_LAB_RELIABILITY_SCALE=N."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    suffix = "" if SCALE == 1 else f"-scale{SCALE:g}"
    path = ARTIFACTS / f"{name}{suffix}.json"
    doc = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "scale": SCALE,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "system": platform.platform(),
        },
        **data,
    }
    path.write_text(json.dumps(doc, indent=2, ensure_ascii=False, default=str) + "\n")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def session() -> requests.Session:
    """A client that keeps no cookies: Jupyter sets its login cookie on token-authenticated
    responses, which would otherwise authenticate later requests that send no token."""
    import http.cookiejar

    s = requests.Session()
    s.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
    return s


def tree(root: Path, skip: tuple[Path, ...] = ()) -> set[str]:
    """Every file and folder under `root` (relative paths), leaving out the `skip` folders."""
    out = set()
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        dirnames[:] = [d for d in dirnames if here / d not in skip]
        for name in dirnames + filenames:
            out.add(str((here / name).relative_to(root)))
    return out


def media_ids(media: Path) -> list[str]:
    return sorted(
        p.name
        for p in media.iterdir()
        if len(p.name) == MEDIA_ID_LEN and not p.name.startswith(".")
    )


@dataclass
class Served:
    """An `iscc-lab serve` subprocess in its sandbox folder."""

    proc: subprocess.Popen
    port: int
    root: Path
    media: Path
    tmp: Path
    log: Path
    token: str = TOKEN
    env: dict = field(default_factory=dict)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api(self) -> str:
        return f"{self.base}/api/v1"

    @property
    def pid(self) -> int:
        return self.proc.pid

    def auth(self, **extra) -> dict:
        return {"Authorization": f"token {self.token}", **extra}

    def call(
        self, method: str, path: str, *, s: requests.Session | None = None, headers=None, **kw
    ):
        """A request to `{api}/{path}` with the token (no cookies kept)."""
        kw.setdefault("timeout", 120)
        return (s or session()).request(
            method, f"{self.api}/{path}", headers=self.auth(**(headers or {})), **kw
        )

    def upload(
        self,
        data: bytes,
        filename: str,
        route: str = "media",
        *,
        s=None,
        content_type="application/octet-stream",
        **kw,
    ):
        headers = {"X-Upload-Filename": b64(filename), "Content-Type": content_type}
        return self.call("POST", route, s=s, headers=headers, data=data, **kw)

    def alive(self) -> bool:
        """The server answers an explain request correctly."""
        r = self.call("GET", EXPLAIN_PATH, timeout=30)
        return r.status_code == 200 and r.json()["units"][0]["iscc_unit"] == "ISCC:AAA4RJYGHHVRCZ5T"

    def warm(self, workers: int = 2) -> None:
        """Every worker process has imported iscc-sdk and done a job."""
        from concurrent.futures import ThreadPoolExecutor

        body = json.dumps({"text": "warm up the worker processes " * 20})
        with ThreadPoolExecutor(workers) as ex:
            for r in ex.map(lambda _: self.call("POST", "simprint", data=body), range(workers * 2)):
                assert r.status_code == 200, r.text

    def children(self) -> list[int]:
        import psutil

        try:
            return [p.pid for p in psutil.Process(self.pid).children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def fds(self) -> list[str]:
        """What the server process has open (targets of /proc/<pid>/fd)."""
        out = []
        for fd in os.listdir(f"/proc/{self.pid}/fd"):
            try:
                out.append(os.readlink(f"/proc/{self.pid}/fd/{fd}"))
            except OSError:
                pass
        return sorted(out)

    def rss(self, pid: int | None = None) -> int:
        """Resident memory in bytes (of the server process by default)."""
        with open(f"/proc/{pid or self.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        raise AssertionError("no VmRSS")

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        """SIGTERM (jupyter-server shuts down cleanly), SIGKILL after 20 s; then any worker that
        is left."""
        kids = self.children()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        reap(kids)


def reap(pids: list[int], timeout: float = 10) -> list[int]:
    """Wait for `pids` (worker processes of a stopped server) to exit; kill what is left after
    `timeout`. Returns the pids that had to be killed."""
    import psutil

    procs = []
    for pid in pids:
        try:
            procs.append(psutil.Process(pid))
        except psutil.NoSuchProcess:
            pass
    _, alive = psutil.wait_procs(procs, timeout=timeout)
    for p in alive:
        try:
            p.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(alive, timeout=5)
    return [p.pid for p in alive]


def serve(
    root: Path, *, env: dict | None = None, media: Path | None = None, token: str = TOKEN, args=()
) -> Served:
    """Start `iscc-lab serve` on a free loopback port with its sandbox under `root`; returns once
    the banner is printed."""
    root.mkdir(parents=True, exist_ok=True)
    media = media or root / "media"
    tmp, cwd, runtime = root / "tmp", root / "cwd", root / "runtime"
    for d in (tmp, cwd, runtime):
        d.mkdir(exist_ok=True)
    port = free_port()
    cmd = [
        os.path.join(os.path.dirname(sys.executable), "iscc-lab"),
        "serve",
        "--port",
        str(port),
        "--token",
        token,
        "--media-path",
        str(media),
        *args,
    ]
    base_env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ISCC_WEB_", "ISCC_SDK_", "JUPYTER_"))
    }
    extra = {"ISCC_WEB_MAX_WORKERS": "2", **{k: str(v) for k, v in (env or {}).items()}}
    full_env = base_env | {"TMPDIR": str(tmp), "JUPYTER_RUNTIME_DIR": str(runtime)} | extra
    log = root / f"serve-{port}.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, cwd=cwd, env=full_env, stdout=out, stderr=subprocess.STDOUT)
    served = Served(proc, port, root, media, tmp, log, token, extra)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if "API docs:" in served.log_text():
            return served
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    served.stop()
    raise AssertionError(f"iscc-lab serve did not start:\n{served.log_text()[-3000:]}")


def exchange(
    port: int, data: bytes, *, half_close: bool = False, local_addr=None, timeout: float = 15
) -> dict:
    """Send raw bytes to the server, read until it closes (or `timeout`); the responses parsed.

    Returns {"responses": [(status, headers, body), ...], "closed": bool, "error": str|None}.
    """
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout, source_address=local_addr)
    raw, error, closed = b"", None, False
    try:
        try:
            sock.sendall(data)
            if half_close:
                sock.shutdown(socket.SHUT_WR)
        except OSError as e:  # the server refused early and reset: its answer may still be there
            error = f"send: {e!r}"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(1 << 16)
            except TimeoutError:
                break
            except OSError as e:
                error = f"recv: {e!r}"
                closed = True
                break
            if not chunk:
                closed = True
                break
            raw += chunk
            if not half_close and _complete(raw) and b"connection: close" not in raw.lower():
                # keep-alive: stop once the responses we can expect are complete
                sock.settimeout(0.5)
    finally:
        sock.close()
    return {"responses": parse_responses(raw), "closed": closed, "error": error, "raw": raw}


def _complete(raw: bytes) -> bool:
    try:
        return bool(parse_responses(raw))
    except ValueError:
        return False


def parse_responses(raw: bytes) -> list:
    """(status, headers, body) of each complete HTTP/1.1 response in `raw`."""
    out = []
    while raw:
        head, sep, rest = raw.partition(b"\r\n\r\n")
        if not sep:
            break
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            key, _, value = line.partition(":")
            headers[key.strip().lower()] = value.strip()
        n = int(headers.get("content-length", 0))
        if len(rest) < n:
            break
        out.append((status, headers, rest[:n]))
        raw = rest[n:]
    return out
