"""The one module that drives iscc-sdk: a file in, the contract's ISCC JSON out.

iscc-sdk takes `name` (and so the Meta-Code and metahash) from the file's name and picks some
extractors by suffix, so the work runs on a file that carries the (checked) original filename:
a hard link, symlink or copy in a private temporary folder. Some iscc-sdk helpers read the
global `idk.sdk_opts` rather than their arguments, so the options of a call are installed there
for the duration of the call (`sdk()`), under a lock, and restored after: nothing leaks from one
call to the next.
"""

import contextlib
import io
import os
import re
import shutil
import subprocess
import tempfile
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from iscc_lab import semantic as sem
from iscc_lab import tools
from iscc_lab.credentials import read_c2pa
from iscc_lab.errors import BadRequest, IsccLabError, Unprocessable
from iscc_lab.settings import Settings, get_settings
from iscc_lab.store import check_filename

__all__ = ["create_iscc", "iscc_file", "named_file", "private_tempdir", "sdk", "CONTEXT", "SCHEMA"]

CONTEXT = "http://purl.org/iscc/context/0.8.0.jsonld"
SCHEMA = "http://purl.org/iscc/schema/0.8.0.json"
UNIT_BITS = 256

_FIRST = ("@context", "@type", "$schema", "iscc", "media_id", "content", "name", "description", "meta", "mode", "filename", "filesize", "mediatype")  # fmt: skip
_LAST = ("thumbnail", "generator", "metahash", "datahash", "units", "features")
_VOLATILE = ("media_id", "content")
_lock = threading.RLock()


@contextmanager
def sdk(**options):
    """iscc-sdk with its tools wired and `options` installed as its global options."""
    tools.wire()
    import iscc_sdk as idk
    from PIL import Image

    with _lock, tools.native_stderr(), warnings.catch_warnings():
        # Native libraries' stderr noise (TagLib) is logged at debug, not shown (tools.py).
        # Pillow only refuses images over twice ISCC_SDK_IMAGE_MAX_PIXELS and warns between 1x
        # and 2x: refuse from 1x, as the setting says.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        saved = idk.sdk_opts
        idk.sdk_opts = saved.override(options)
        try:
            yield idk
        finally:
            idk.sdk_opts = saved


@contextmanager
def private_tempdir():
    """Point `tempfile` at a folder of its own for one job, and remove it afterwards.

    iscc-sdk leaves temporary folders behind (its embedders return a file inside a fresh
    folder; its video code makes two per file). For worker processes, which run one job at a
    time: the whole folder goes when the job ends, whatever the job left in it.
    """
    folder = tempfile.mkdtemp(prefix="iscc-lab-job-")
    saved = tempfile.tempdir
    tempfile.tempdir = folder
    try:
        yield folder
    finally:
        tempfile.tempdir = saved
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def named_file(source, filename: str | None = None) -> Iterator[Path]:
    """`source` (a path, bytes or a binary stream) as a file named `filename`, for the SDK.

    A path is hard-linked (or symlinked, or copied) into a private temporary folder; bytes and
    streams are written there. The folder is removed afterwards.
    """
    if isinstance(source, (str, os.PathLike)):
        src = Path(source)
        if not src.is_file():
            raise BadRequest(f"No file at {src}.")
        filename = filename or src.name
    elif isinstance(source, (bytes, bytearray, memoryview)):
        source = io.BytesIO(source)
        src = None
    elif hasattr(source, "read"):
        src = None
    else:
        raise BadRequest(f"Expected a path, bytes or a binary stream, not {type(source).__name__}.")
    if not filename:
        raise BadRequest("A filename is needed for bytes or a stream: it names the ISCC.")
    filename = check_filename(filename)
    folder = tempfile.mkdtemp(prefix="iscc-lab-")
    target = Path(folder) / filename
    try:
        if src is not None:
            for link in (os.link, os.symlink, shutil.copyfile):
                try:
                    link(src.resolve(), target)
                    break
                except OSError:
                    continue
        else:
            with open(target, "wb") as out:
                shutil.copyfileobj(source, out, 1 << 20)
        if target.stat().st_size == 0:
            raise BadRequest(f"{filename} is empty.")
        yield target
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _order(meta: dict) -> dict:
    first = {k: meta[k] for k in _FIRST if k in meta}
    last = {k: meta[k] for k in _LAST if k in meta}
    middle = {k: v for k, v in meta.items() if k not in first and k not in last}
    return first | middle | last


def _semantic_units(idk, path: Path, semantic: bool):
    """Where a Semantic-Code unit is asked for: fail clearly if it cannot be made (package or
    model missing; nothing is downloaded), else make it UNIT_BITS long like the others."""
    if not semantic:
        return contextlib.nullcontext()
    try:
        _, mode = idk.mediatype_and_mode(path)
    except idk.IsccUnsupportedMediatype:  # no semantic unit to make (maybe a fallback ISCC-SUM)
        return contextlib.nullcontext()
    if mode not in ("text", "image"):
        return contextlib.nullcontext()
    sem.require(mode)
    return sem.unit_bits(mode, UNIT_BITS)


@contextmanager
def _one_metadata_parse(idk) -> Iterator[None]:
    """iscc-sdk (0.9.7) parses a document with Tika for its metadata twice per ISCC: in
    `code_text`, and again in `code_meta` (through `iscc_sdk.metadata.EXTRACTORS`). Within one
    call the second parse is answered from the first (a copy: callers change the dict); a
    parse that fails fails again, as before. A third of a small text file's time, more of a
    large document's."""
    import iscc_sdk.metadata as sdk_metadata

    original = idk.text_meta_extract
    extractors = getattr(sdk_metadata, "EXTRACTORS", {})
    registered = extractors.get("text")
    found: dict = {}

    def once(fp):
        key = os.fspath(fp)
        if key not in found:
            found[key] = original(fp)
        return dict(found[key])

    idk.text_meta_extract = once
    if registered is original:
        extractors["text"] = once
    try:
        yield
    finally:
        idk.text_meta_extract = original
        if registered is original:
            extractors["text"] = original


def iscc_file(path, *, semantic: bool, granular: bool, fallback: bool) -> dict:
    """The contract's ISCC JSON for the file at `path`, named as it is named.

    Raises Unprocessable (unsupported media with fallback off, or processing failed) or
    ToolMissing (a tool or model is not installed).
    """
    path = Path(path)
    keep_text = semantic and granular
    with sdk(
        fallback=fallback,
        experimental=semantic,
        granular=granular,
        byte_offsets=True,
        add_units=True,
        bits=UNIT_BITS,
        wide=True,  # the contract's fallback: a wide 2-unit ISCC-SUM
        text_keep=keep_text,
    ) as idk:
        try:
            with _semantic_units(idk, path, semantic), _one_metadata_parse(idk):
                meta = idk.code_iscc(path).dict()
        except idk.IsccUnsupportedMediatype as e:
            raise Unprocessable(
                f"{path.name}: unsupported media type ({e}). With ISCC_SDK_FALLBACK=true such "
                "files get a 2-unit ISCC-SUM."
            ) from None
        except IsccLabError:
            raise
        except Exception as e:  # noqa: BLE001 - any failure inside iscc-sdk is this file's 422
            raise Unprocessable(
                f"ISCC processing of {path.name} failed: {_reason(e, path)}"
            ) from None
    text = meta.pop("text", None)
    # Granular features are text features (the contract; iscc-sdk also has video scenes)
    features = [
        f
        for f in meta.pop("features", None) or []
        if f.get("subtype") == "text" and f.get("simprints")
    ]
    if granular and text and semantic:
        features.append(sem.semantic_text_features(text))
    if granular and features:
        meta["features"] = features
    for key in _VOLATILE:
        meta.pop(key, None)
    credentials = read_c2pa(path)  # Content Credentials, if the file carries a manifest
    if credentials is not None:
        meta["c2pa"] = credentials
    meta.setdefault("@context", CONTEXT)
    meta.setdefault("$schema", SCHEMA)
    return _order(meta)


_PATHS = re.compile(r"(?:/[^\s'\"/:]+)+/([^\s'\"/:]+)")


def _reason(e: Exception, path: Path) -> str:
    """Why the work failed, for a user: the tool's last complaint or the exception's text, with
    no server paths (only file names) and no command lines."""
    stderr = getattr(e, "stderr", None)
    lines = [ln for ln in (stderr or b"").decode("utf-8", "replace").splitlines() if ln.strip()]
    if lines:
        text = lines[-1]
    elif isinstance(e, subprocess.CalledProcessError):
        text = f"{Path(str(e.cmd[0])).name} failed with exit status {e.returncode}"
    else:
        text = str(e)
    text = _PATHS.sub(r"\1", text.replace(str(path.parent) + "/", ""))[:300]
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


def create_iscc(
    source,
    filename: str | None = None,
    *,
    semantic: bool | None = None,
    granular: bool | None = None,
    settings: Settings | None = None,
) -> dict:
    """The ISCC of `source` (a path, bytes or a binary stream) as the contract's JSON.

    :param filename: the name the ISCC is made under (defaults to the path's name; needed for
        bytes and streams). The Meta-Code comes from it unless the file embeds a title.
    :param semantic: add the experimental Semantic-Code (default: ISCC_SDK_EXPERIMENTAL).
    :param granular: add granular text features (default: ISCC_SDK_GRANULAR).
    """
    settings = settings or get_settings()
    semantic = settings.experimental if semantic is None else bool(semantic)
    granular = settings.granular if granular is None else bool(granular)
    with named_file(source, filename) as path:
        return iscc_file(path, semantic=semantic, granular=granular, fallback=settings.fallback)
