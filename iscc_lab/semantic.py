"""The experimental Semantic-Codes (iscc-sct for text, iscc-sci for images) and their models.

Both packages download their ONNX model on first use; iscc-lab never lets them. The model must
be provided, once, with `iscc-lab models install FILE [--kind text|image]` (which checks it
against the published blake3 checksum), or by putting the file in the folder iscc-lab looks in:

- text: `iscc-sct-v0.2.0.onnx` in ISCC_SCT_MODEL_DIR (iscc-sct's own variable), else iscc-sct's
  user data folder;
- image: `iscc-sci-v0.1.0-w16.onnx` in ISCC_SCI_MODEL_DIR (iscc-lab's variable: iscc-sci has
  none), else iscc-sci's user data folder.

The folder is read when the work runs (not when iscc-sct is imported), and each package's model
is loaded once per process, on first use. Where the model or package is missing, asking for a
Semantic-Code is a `ToolMissing` (HTTP 422) saying what is missing and how to provide it;
`create_simprints` leaves SEMANTIC_TEXT_V0 out.

At load time neither package's download function can run: `wire()` replaces it with one that
returns the model in place or raises `ToolMissing`. iscc-sct loads whatever file is at its path;
iscc-sci would hash its file at every process start and download another on a mismatch, so
here it loads the file in place like iscc-sct. The checksum is checked where it is cheap to
act on: `models install` refuses a file that does not match, and `iscc-lab check` reports it.
"""

import importlib
import os
import tempfile
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from iscc_lab.errors import BadRequest, ToolMissing

__all__ = [
    "KINDS",
    "ModelSpec",
    "blake3_file",
    "install",
    "model_available",
    "model_path",
    "package_installed",
    "published_checksum",
    "require",
    "require_model",
    "semantic_text_features",
    "status",
    "unit_bits",
    "wire",
]


@dataclass(frozen=True)
class ModelSpec:
    """One semantic model: the package that runs it and where and how it is published."""

    kind: str  # "text" or "image"
    code: str  # the unit it makes
    package: str  # distribution name
    module: str  # import name
    install_hint: str  # how to get the package
    env: str  # the model folder variable
    app: str  # platformdirs app name of the package's data folder
    filename: str  # as published (the package's own value wins where installed)
    checksum: str  # blake3, as published (likewise)


BINARIES = "https://github.com/iscc/iscc-binaries/releases/tag/v1.0.0"

KINDS = {
    "text": ModelSpec(
        "text",
        "Semantic-Code Text",
        "iscc-sct",
        "iscc_sct",
        "pip install 'iscc-sct[cpu]'",
        "ISCC_SCT_MODEL_DIR",
        "iscc-sct",
        "iscc-sct-v0.2.0.onnx",
        "d4f763474f9be35ce5358637c87935ee11ba396b9196f73b95ab97da0cef8749",
    ),
    "image": ModelSpec(
        "image",
        "Semantic-Code Image",
        "iscc-sci",
        "iscc_sci",
        "pip install 'iscc-lab[semantic-image]'",
        "ISCC_SCI_MODEL_DIR",
        "iscc-sci",
        "iscc-sci-v0.1.0-w16.onnx",
        "9f24dd3d0440eaa07adf121b21a1cbd8518fe36048b9d8a72b606d8a6416e8a3",
    ),
}

_lock = threading.Lock()


def _spec(kind: str) -> ModelSpec:
    try:
        return KINDS[kind]
    except KeyError:
        raise BadRequest(f"Unknown model kind {kind!r}: text or image.") from None


def package_installed(kind: str = "text") -> bool:
    """Whether the package imports (with its ONNX runtime): what running it needs."""
    try:
        importlib.import_module(_spec(kind).module)
    except ImportError:
        return False
    return True


def package_version(kind: str = "text") -> str | None:
    try:
        return metadata.version(_spec(kind).package)
    except metadata.PackageNotFoundError:
        return None


def _published(kind: str, name: str, default: str) -> str:
    """MODEL_FILENAME or MODEL_CHECKSUM as the installed package publishes it, else ours."""
    if not package_installed(kind):
        return default
    try:
        utils = importlib.import_module(f"{_spec(kind).module}.utils")
    except ImportError:
        return default
    return getattr(utils, name, default)


def published_checksum(kind: str = "text") -> str:
    """The blake3 checksum the package publishes for its model (hex)."""
    return _published(kind, "MODEL_CHECKSUM", _spec(kind).checksum)


def model_dir(kind: str = "text") -> Path:
    spec = _spec(kind)
    if os.environ.get(spec.env):
        return Path(os.environ[spec.env])
    from platformdirs import PlatformDirs

    return Path(PlatformDirs(appname=spec.app, appauthor="iscc").user_data_dir)


def model_path(kind: str = "text") -> Path:
    """Where the `kind` model is looked for (ISCC_SCT_MODEL_DIR / ISCC_SCI_MODEL_DIR, read now)."""
    return model_dir(kind) / _published(kind, "MODEL_FILENAME", _spec(kind).filename)


def model_available(kind: str = "text") -> bool:
    return package_installed(kind) and model_path(kind).is_file()


def _missing_package(spec: ModelSpec) -> ToolMissing:
    return ToolMissing(
        f"{spec.code} needs the {spec.package} package, which is not installed: "
        f"{spec.install_hint}."
    )


def _missing_model(spec: ModelSpec, path: Path) -> ToolMissing:
    return ToolMissing(
        f"{spec.code} needs {spec.package}'s ONNX model {path.name}, which is not at {path}. "
        f"iscc-lab does not download it at run time: fetch it where you have access (it is "
        f"published with the iscc-binaries releases on GitHub, {BINARIES}), then run "
        f"`iscc-lab models install {path.name} --kind {spec.kind}`, or put it in a folder and "
        f"set {spec.env} to that folder."
    )


def require(kind: str = "text") -> Path:
    """The model's path, with its package wired to it; ToolMissing, saying what is missing and
    how to provide it, unless both package and model are there."""
    spec = _spec(kind)
    if not package_installed(kind):
        raise _missing_package(spec)
    path = model_path(kind)
    if not path.is_file():
        raise _missing_model(spec, path)
    wire(kind)
    return path


def require_model() -> None:
    """ToolMissing unless iscc-sct and its model are there (the text model)."""
    require("text")


def _model_in_place(kind: str) -> Path:
    """Stands in for the packages' `get_model`: the file in place, never a download."""
    spec = _spec(kind)
    path = model_path(kind)
    if not path.is_file():
        raise _missing_model(spec, path)
    return path


def wire(kind: str = "text") -> None:
    """Point the package at the model folder read now, and replace its downloading
    `get_model`. Cheap and idempotent; the package loads its model once per process, so a
    folder changed after that first load is not seen by that process."""
    from loguru import logger

    with _lock:
        logger.disable(_spec(kind).module)  # DEBUG timings per chunk would flood notebooks
        if kind == "text":
            import iscc_sct
            import iscc_sct.utils

            path = model_path("text")
            iscc_sct.MODEL_PATH = iscc_sct.utils.MODEL_PATH = path
            iscc_sct.get_model = iscc_sct.utils.get_model = lambda: _model_in_place("text")
        else:
            import iscc_sci
            import iscc_sci.utils

            iscc_sci.utils.MODEL_PATH = model_path("image")
            iscc_sci.get_model = iscc_sci.utils.get_model = lambda: _model_in_place("image")


@contextmanager
def unit_bits(kind: str, bits: int):
    """Semantic-Code units of `bits` bits while the block runs. iscc-sdk calls iscc-sct and
    iscc-sci with their global options (64 bits by default); the caller holds the lock that
    serialises ISCC work in this process (`generate.sdk`), and the old options come back after."""
    module = importlib.import_module(_spec(kind).module)
    name = "sct_opts" if kind == "text" else "sci_opts"
    saved = getattr(module, name)
    setattr(module, name, saved.override({"bits": bits}))
    try:
        yield
    finally:
        setattr(module, name, saved)


def semantic_text_features(text: str) -> dict:
    """The SEMANTIC_TEXT_V0 feature set of `text` (256-bit simprints, UTF-8 byte offsets).

    The text is cut into chunks of at most 127 tokens (iscc-sct's window is 128, with the
    start token), overlapping by up to 48 tokens: one simprint per chunk. An empty text has no
    Semantic-Code (iscc-sct refuses it): BadRequest.
    """
    if not text:
        raise BadRequest("text is empty: iscc-sct makes no Semantic-Code of an empty text.")
    require("text")
    import iscc_sct

    result = iscc_sct.gen_text_code_semantic(
        text, simprints=True, offsets=True, sizes=True, byte_offsets=True, bits_granular=256
    )
    features = result["features"][0]
    features["byte_offsets"] = True
    return features


def blake3_file(path) -> str:
    """The blake3 checksum (hex) of the file at `path`, read in 1 MiB pieces."""
    from blake3 import blake3

    hasher = blake3(max_threads=blake3.AUTO)
    with open(path, "rb") as f:
        while piece := f.read(1 << 20):
            hasher.update(piece)
    return hasher.hexdigest()


def status(kind: str = "text", *, checksum: bool = True) -> dict:
    """What `iscc-lab check` reports of one semantic model: package and version, model path,
    whether it is there and matches the published checksum, and how to fix what is missing."""
    spec = _spec(kind)
    info = {
        "kind": kind,
        "code": spec.code,
        "package": spec.package,
        "version": package_version(kind),
        "installed": package_installed(kind),
        "path": model_path(kind),
        "present": False,
        "checksum": None,
        "published": published_checksum(kind),
        "fix": None,
    }
    if not info["installed"]:
        info["fix"] = spec.install_hint
        return info
    info["present"] = info["path"].is_file()
    if not info["present"]:
        info["fix"] = (
            f"fetch {info['path'].name} ({BINARIES}) and run "
            f"`iscc-lab models install {info['path'].name} --kind {kind}`"
        )
    elif checksum:
        info["checksum"] = blake3_file(info["path"])
        if info["checksum"] != info["published"]:
            info["fix"] = (
                f"not the published model (blake3 {info['published']}): its codes "
                f"will not match other ISCC implementations; install the published "
                f"file with `iscc-lab models install FILE --kind {kind}`"
            )
    return info


def install(source, kind: str = "text") -> Path:
    """Check the model file at `source` against the published blake3 checksum and put it where
    the package finds it (`model_path(kind)`), atomically. A file that does not match is
    refused (BadRequest naming both checksums) and nothing is copied."""
    spec = _spec(kind)
    src = Path(source)
    if not src.is_file():
        raise BadRequest(f"No file at {src}.")
    expected = published_checksum(kind)
    found = blake3_file(src)
    if found != expected:
        raise BadRequest(
            f"{src.name} is not {spec.package}'s published model: its blake3 checksum is "
            f"{found}, the published one is {expected}. Nothing was installed."
        )
    target = model_path(kind)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, part = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    try:
        from blake3 import blake3

        hasher = blake3()
        with os.fdopen(fd, "wb") as out, open(src, "rb") as f:
            while piece := f.read(1 << 20):
                hasher.update(piece)
                out.write(piece)
            out.flush()
            os.fsync(out.fileno())
        if hasher.hexdigest() != expected:  # the file changed while it was copied
            raise BadRequest(f"{src.name} changed while it was copied. Nothing was installed.")
        os.chmod(part, 0o644)
        os.replace(part, target)
    except BaseException:
        Path(part).unlink(missing_ok=True)
        raise
    return target
