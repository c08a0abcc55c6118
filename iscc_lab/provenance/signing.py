"""Signing: a copy of a file with a C2PA manifest that carries its ISCC soft binding and its
ISCC-CODE, signed with the user's certificate and key (c2pa-python, offline unless a time-stamp
authority is configured).

The manifest's assertions: `c2pa.soft-binding` (alg `io.iscc.v0`, iscc-sdk's definition),
`c2pa.actions` (`c2pa.opened` of the original, its parent ingredient, then `c2pa.published` by
iscc-lab with its time), and `io.iscc.code`: the ISCC-CODE
and units of the file as it was before signing (the signed copy's Data and Instance units differ
by the manifest's bytes; its Content unit does not).
"""

import mimetypes
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from iscc_lab.credentials import c2pa_module, context
from iscc_lab.errors import BadRequest, Unprocessable
from iscc_lab.settings import Settings

__all__ = ["ALGORITHMS", "SignerConfig", "Signed", "signer_config", "sign_file", "c2pa_format"]

ALGORITHMS = ("es256", "es384", "es512", "ps256", "ps384", "ps512", "ed25519")
ISCC_LABEL = "io.iscc.code"


@dataclass(frozen=True)
class SignerConfig:
    cert: Path
    key: Path
    alg: str = "es256"
    tsa_url: str | None = None


@dataclass(frozen=True)
class Signed:
    """What signing made: the manifest's id and the manifest store's bytes."""

    manifest_id: str
    store: bytes


def signer_config(settings: Settings, cert=None, key=None, alg=None, tsa_url=None) -> SignerConfig:
    """The signer from the arguments, else the settings; Unprocessable naming the setting that
    is missing or unreadable."""
    cert = cert or settings.sign_cert
    key = key or settings.sign_key
    alg = (alg or settings.sign_alg or "es256").lower()
    tsa_url = tsa_url or settings.sign_tsa_url
    for value, name, what in ((cert, "ISCC_LAB_SIGN_CERT", "certificate chain"),
                              (key, "ISCC_LAB_SIGN_KEY", "private key")):  # fmt: skip
        if not value:
            raise Unprocessable(
                f"No signer configured: set {name} to the PEM file of the {what} (the "
                f"extension's IsccLabApp.{name[10:].lower()} option, or sign(..., "
                f"{name[15:].lower()}=...)); see the README's Content Credentials section."
            )
        if not Path(value).is_file():
            raise Unprocessable(f"{name}: no readable file at {Path(value).name}.")
    if alg not in ALGORITHMS:
        raise BadRequest(f"Unknown signing algorithm {alg!r}; one of {', '.join(ALGORITHMS)}.")
    return SignerConfig(Path(cert), Path(key), alg, tsa_url or None)


def c2pa_format(path: Path, mediatype: str | None = None) -> str:
    """The format c2pa-python is given for `path`: its media type where c2pa can embed in it;
    Unprocessable otherwise."""
    c2pa = c2pa_module()
    supported = set(c2pa.Builder.get_supported_mime_types())
    suffix = path.suffix.lower().lstrip(".")
    guess = mediatype or mimetypes.guess_type(path.name)[0]
    for candidate in (guess, suffix):
        if candidate and candidate in supported:
            return candidate
    raise Unprocessable(
        f"{path.name}: c2pa cannot embed a manifest in this format ({guess or suffix}). It signs "
        "images (JPEG, PNG, TIFF, WebP, GIF, HEIF, AVIF, SVG), audio (MP3, WAV, FLAC, M4A), video "
        "(MP4, MOV, AVI) and documents (PDF, EPUB, DOCX, ODT, ...)."
    )


def _signer(config: SignerConfig):
    c2pa = c2pa_module()
    try:
        info = c2pa.C2paSignerInfo(
            config.alg, config.cert.read_bytes(), config.key.read_bytes(), config.tsa_url
        )
        return c2pa.Signer.from_info(info)
    except (c2pa.C2paError, ValueError, TypeError) as e:
        raise Unprocessable(
            f"The signer could not be made from ISCC_LAB_SIGN_CERT, ISCC_LAB_SIGN_KEY and "
            f"ISCC_LAB_SIGN_ALG={config.alg}: {e}"
        ) from None


def manifest_definition(
    path: Path, binding: dict, iscc: dict, *, title: str | None = None, version: str = ""
) -> dict:
    """The manifest definition signed for `path`."""
    when = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    agent = {"name": "iscc-lab", "version": version}
    code = {k: iscc[k] for k in ("iscc", "units", "datahash", "metahash", "mode") if k in iscc}
    return {
        "claim_generator_info": [agent],
        "title": title or path.name,
        "assertions": [
            binding["assertion"],
            {"label": ISCC_LABEL, "data": code},
        ],
        # c2pa adds `c2pa.opened` with the original as its parent ingredient (edit intent)
        "_action": {"action": "c2pa.published", "when": when, "softwareAgent": agent},
    }


def sign_file(path: Path, out: Path, definition: dict, config: SignerConfig, fmt: str) -> Signed:
    """Write `path` signed with `definition` to `out`; the manifest id and store bytes."""
    c2pa = c2pa_module()
    signer = _signer(config)
    try:
        definition = dict(definition)
        action = definition.pop("_action", None)
        with signer, c2pa.Builder(definition, context()) as builder:
            builder.set_intent(c2pa.C2paBuilderIntent.EDIT)
            if action:
                builder.add_action(action)
            with open(path, "rb") as src, open(out, "wb") as dest:
                store = builder.sign(signer, fmt, src, dest)
    except c2pa.C2paError as e:
        out.unlink(missing_ok=True)
        raise Unprocessable(
            f"Signing {path.name} failed: {type(e).__name__}: {str(e)[:300]}"
        ) from None
    except BaseException:
        out.unlink(missing_ok=True)
        raise
    from iscc_lab.credentials import read_store

    found = read_store(out)
    manifest_id = (found or {}).get("active_manifest")
    if not manifest_id:
        out.unlink(missing_ok=True)
        raise Unprocessable(f"Signing {path.name} wrote no readable manifest.")
    return Signed(manifest_id, bytes(store))
