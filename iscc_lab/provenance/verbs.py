"""The provenance verbs on files and on stored media, and the entry point of their jobs in
worker processes (the REST face's pool)."""

import tempfile
from pathlib import Path

from iscc_lab.generate import iscc_file, named_file, private_tempdir
from iscc_lab.provenance.binding import binding_file
from iscc_lab.provenance.repository import ManifestRepository
from iscc_lab.provenance.signing import c2pa_format, manifest_definition, sign_file, signer_config
from iscc_lab.settings import Settings, get_settings
from iscc_lab.store import MediaRecord, Store

__all__ = [
    "sign",
    "sign_media",
    "soft_binding_media",
    "register_media",
    "register_asset",
    "run_job",
]


def _version() -> str:
    import iscc_lab

    return iscc_lab.__version__


def _sign_path(path: Path, out: Path, settings: Settings, title=None, **signer):
    """Sign the file at `path` into `out`: (Signed, the original's soft binding)."""
    config = signer_config(settings, **signer)
    iscc = iscc_file(path, semantic=False, granular=False, fallback=settings.fallback)
    fmt = c2pa_format(path, iscc.get("mediatype"))
    binding = binding_file(path)
    definition = manifest_definition(path, binding, iscc, title=title, version=_version())
    return sign_file(path, out, definition, config, fmt), binding, iscc.get("mediatype")


def sign(
    source,
    filename: str | None = None,
    *,
    outpath=None,
    title: str | None = None,
    cert=None,
    key=None,
    alg: str | None = None,
    tsa_url: str | None = None,
    repository: ManifestRepository | None = None,
    settings: Settings | None = None,
) -> tuple[Path, dict]:
    """A signed copy of `source` (a path, bytes or a binary stream) and the ISCC of that copy.

    The copy carries a C2PA manifest with the ISCC soft binding (`c2pa.soft-binding`, alg
    `io.iscc.v0`) and the ISCC-CODE of `source` (`io.iscc.code`), signed by the certificate
    chain `cert` and private key `key` (PEM files; default: ISCC_LAB_SIGN_CERT / _KEY) with
    `alg` (es256, ps256, ed25519, ...; default ISCC_LAB_SIGN_ALG) and an optional time-stamp
    authority. The original is never modified; the copy goes to `outpath` or a new temporary
    folder (the caller owns it). With `repository`, the manifest is kept there too.
    Returns `(path of the copy, ISCC JSON of the copy with its `c2pa` field)`.
    """
    settings = settings or get_settings()
    signer = {"cert": cert, "key": key, "alg": alg, "tsa_url": tsa_url}
    with named_file(source, filename) as path:
        if outpath is None:
            outpath = Path(tempfile.mkdtemp(prefix="iscc-lab-sign-")) / path.name
        outpath = Path(outpath)
        outpath.parent.mkdir(parents=True, exist_ok=True)
        signed, binding, mediatype = _sign_path(path, outpath, settings, title, **signer)
    with named_file(outpath, outpath.name) as named:
        result = iscc_file(
            named,
            semantic=settings.experimental,
            granular=settings.granular,
            fallback=settings.fallback,
        )
    if repository is not None:
        repository.add(
            signed.manifest_id, signed.store, binding, filename=outpath.name, mediatype=mediatype
        )
    return outpath, result


def sign_media(
    store: Store, media_id: str, owner: str = "", *, title: str | None = None,
    repository: ManifestRepository | None = None, settings: Settings | None = None,
) -> tuple[MediaRecord, dict]:  # fmt: skip
    """Sign a copy of a stored media, store the copy as a new media owned by `owner`, keep its
    manifest in the repository (the media folder's by default), and create the copy's ISCC.
    The original is not changed. Returns (new record, ISCC of the copy)."""
    settings = settings or get_settings()
    repository = repository or ManifestRepository.for_media(store.root)
    record = store.get(media_id)
    with named_file(store.file(record), record.filename) as path:
        out = path.with_name(".signed-" + path.name)
        signed, binding, mediatype = _sign_path(path, out, settings, title)
        new = store.put(out, record.filename, record.content_type, owner)
    try:
        with named_file(store.file(new), new.filename) as named:
            result = iscc_file(
                named,
                semantic=settings.experimental,
                granular=settings.granular,
                fallback=settings.fallback,
            )
        store.write_result(new.media_id, "iscc", result)
        repository.add(signed.manifest_id, signed.store, binding, media_id=new.media_id,
                       filename=new.filename, mediatype=mediatype, owner=owner)  # fmt: skip
    except BaseException:
        store.delete(new.media_id)
        raise
    return new, result


def soft_binding_media(store: Store, media_id: str, *, semantic: bool = False) -> dict:
    """The soft binding of a stored media."""
    record = store.get(media_id)
    with named_file(store.file(record), record.filename) as path:
        return binding_file(path, semantic=semantic)


def run_job(job: str, root: str, max_upload_size: int, settings: dict, *args, **kwargs):
    """Entry point for worker processes, with a private temporary folder for the job."""
    from iscc_lab import tools

    tools.wire()
    with private_tempdir():
        store = Store(root, max_upload_size=max_upload_size)
        s = Settings(**settings)
        if job == "soft_binding":
            return soft_binding_media(store, *args, **kwargs)
        if job == "sign":
            new, result = sign_media(store, *args, settings=s, **kwargs)
            return new.to_dict(), result
        if job == "register":
            return register_media(store, *args, **kwargs)
        if job == "register_asset":
            return register_asset(*args, media_path=store.root, **kwargs)
        if job == "binding_file":
            return binding_file(Path(args[0]), **kwargs)
        raise ValueError(f"unknown job {job!r}")


def register_media(store: Store, media_id: str, manifest_path, owner: str = "",
                   repository: ManifestRepository | None = None) -> str:  # fmt: skip
    """Keep the manifest store at `manifest_path` (sidecar `application/c2pa` bytes) for a
    stored media, if it validates against it; BadRequest with c2pa-python's reason if not.
    Returns the active manifest's id."""
    from iscc_lab.credentials import c2pa_module, read_store
    from iscc_lab.errors import BadRequest

    c2pa = c2pa_module()
    repository = repository or ManifestRepository.for_media(store.root)
    data = Path(manifest_path).read_bytes()
    record = store.get(media_id)
    with named_file(store.file(record), record.filename) as path:
        fmt = _format(path)
        try:
            with open(path, "rb") as f:
                found = read_store(f, fmt, data)
        except c2pa.C2paError as e:
            raise BadRequest(
                f"The manifest store does not validate: {type(e).__name__}: {str(e)[:300]}"
            ) from None
        if not found or not found.get("active_manifest"):
            raise BadRequest("The body holds no manifest store (application/c2pa bytes).")
        _check_valid(found, f"media {media_id}")
        binding = binding_file(path)
    manifest_id = found["active_manifest"]
    repository.add(manifest_id, data, binding, media_id=media_id, filename=record.filename,
                   mediatype=record.content_type or None, owner=owner)  # fmt: skip
    return manifest_id


def _format(path: Path) -> str:
    import mimetypes

    return mimetypes.guess_type(path.name)[0] or path.suffix.lstrip(".").lower()


def register_asset(path, owner: str = "", repository: ManifestRepository | None = None,
                   *, media_path=None) -> str:  # fmt: skip
    """Keep the manifest store embedded in the asset at `path` (JPEG or PNG), if it validates,
    with the asset's soft binding; BadRequest with c2pa-python's reason if not. Returns the
    active manifest's id. The asset itself is not kept."""
    from iscc_lab.credentials import c2pa_module, embedded_store, read_store
    from iscc_lab.errors import BadRequest, Unprocessable

    c2pa = c2pa_module()
    path = Path(path)
    repository = repository or ManifestRepository.for_media(media_path)
    try:
        found = read_store(path)
    except c2pa.C2paError as e:
        reason = f"{type(e).__name__}: {str(e)[:300]}"
        raise BadRequest(f"The asset's manifest cannot be read: {reason}") from None
    if not found or not found.get("active_manifest"):
        raise BadRequest("The asset carries no C2PA manifest; send a sidecar with ?media_id=.")
    _check_valid(found, "the asset")
    data = embedded_store(path)
    if data is None:
        raise Unprocessable(
            f"{path.suffix or 'This'} files: iscc-lab takes embedded manifests out of JPEG and PNG "
            "only; upload the asset (POST /api/v1/media) and register its store as a sidecar "
            "(application/c2pa with ?media_id=)."
        )
    manifest_id = found["active_manifest"]
    repository.add(manifest_id, data, binding_file(path), filename=path.name, owner=owner)
    return manifest_id


def _check_valid(found: dict, what: str) -> None:
    from iscc_lab.errors import BadRequest

    if found.get("validation_state") != "Invalid":
        return
    results = (found.get("validation_results") or {}).get("activeManifest") or {}
    reasons = "; ".join(
        f"{f.get('code')}: {f.get('explanation', '')}"
        for f in results.get("failure") or []
        if f.get("code") != "signingCredential.untrusted"
    )
    raise BadRequest(f"The manifest does not validate against {what}: {reasons[:500]}")
