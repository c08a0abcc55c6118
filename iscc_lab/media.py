"""The verbs on stored media, by media_id. Plain functions of a Store, so that they run as well
in a worker process (the REST face's pool) as in a notebook."""

from iscc_lab.generate import iscc_file, named_file, private_tempdir
from iscc_lab.metadata import embed_file, merge_embedded, read_metadata, validate_metadata
from iscc_lab.settings import Settings, get_settings
from iscc_lab.store import MediaRecord, Store

__all__ = ["iscc_media", "metadata_media", "embed_media", "iscc_body", "run_job"]


def iscc_media(
    store: Store,
    media_id: str,
    *,
    semantic: bool | None = None,
    granular: bool | None = None,
    settings: Settings | None = None,
) -> dict:
    """Create, store and return the ISCC of a stored media (without media_id and content)."""
    settings = settings or get_settings()
    semantic = settings.experimental if semantic is None else semantic
    granular = settings.granular if granular is None else granular
    record = store.get(media_id)
    with named_file(store.file(record), record.filename) as path:
        result = iscc_file(path, semantic=semantic, granular=granular, fallback=settings.fallback)
    store.write_result(media_id, "iscc", result)
    return result


def metadata_media(store: Store, media_id: str) -> dict:
    """The metadata embedded in a stored media (computed once, then kept)."""
    cached = store.read_result(media_id, "metadata")
    if cached is not None:
        return cached
    record = store.get(media_id)
    with named_file(store.file(record), record.filename) as path:
        found = read_metadata(path)
    store.write_result(media_id, "metadata", found)
    return found


def embed_media(
    store: Store, media_id: str, metadata: dict, owner: str = "", settings: Settings | None = None
) -> tuple[MediaRecord, dict]:
    """Embed `metadata` into a copy of a stored media, store the copy as a new media owned by
    `owner`, and create its ISCC. The original is not changed. Returns (new record, ISCC)."""
    settings = settings or get_settings()
    fields = validate_metadata(metadata)
    record = store.get(media_id)
    with named_file(store.file(record), record.filename) as path:
        out = path.with_name(".embedded-" + path.name)
        found = embed_file(path, fields, out)
        new = store.put(out, record.filename, record.content_type, owner)
    try:
        result = merge_embedded(iscc_media(store, new.media_id, settings=settings), found, fields)
        store.write_result(new.media_id, "iscc", result)  # with the embedded fields, as answered
    except BaseException:
        store.delete(new.media_id)
        raise
    return new, result


def iscc_body(path, filename: str, *, settings: Settings | None = None) -> dict:
    """The ISCC of a file that is not stored (a query): `path` named `filename`, without
    granular features."""
    settings = settings or get_settings()
    with named_file(path, filename) as named:
        return iscc_file(
            named, semantic=settings.experimental, granular=False, fallback=settings.fallback
        )


def run_job(job: str, root: str, max_upload_size: int, settings: dict, *args, **kwargs):
    """Entry point for worker processes: run verb `job` on the store at `root` (with a private
    temporary folder, removed afterwards, so that nothing a job leaves behind accumulates)."""
    with private_tempdir():
        return _run_job(job, root, max_upload_size, settings, *args, **kwargs)


def _run_job(job: str, root: str, max_upload_size: int, settings: dict, *args, **kwargs):
    store = Store(root, max_upload_size=max_upload_size)
    s = Settings(**settings)
    if job == "iscc":
        return iscc_media(store, *args, settings=s, **kwargs)
    if job == "metadata":
        return metadata_media(store, *args)
    if job == "embed":
        new, result = embed_media(store, *args, settings=s, **kwargs)
        return new.to_dict(), result
    if job == "simprint":
        from iscc_lab.simprints import simprints_from_json_file

        return simprints_from_json_file(*args)
    if job == "iscc_body":  # a received body that is not stored (POST /search)
        return iscc_body(*args, settings=s)
    raise ValueError(f"unknown job {job!r}")
