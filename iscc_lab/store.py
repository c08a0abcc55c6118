"""The media store: uploads on disk, their records and the results computed for them.

Layout under the media folder::

    <media_id>/record.json     filename, content type, size, owner, created, sha256, ...
    <media_id>/<safe name>     the bytes as uploaded
    <media_id>/iscc.json       the ISCC result, once computed
    <media_id>/metadata.json   the extracted metadata, once computed
    .incoming/                 uploads being received (never listed, never served)
    .trash/                    media being deleted
    .salt                      the secret that owner hashes are salted with

A media exists once its folder is renamed into place, complete with its record: readers never
see half-written media. Results are written to a temporary file and renamed. Deleting renames
the folder away first, so a media disappears at once and whole.
"""

import errno
import hashlib
import hmac
import io
import json
import os
import re
import secrets
import shutil
import tempfile
import time
import unicodedata
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import BinaryIO

import iscc_core as ic

from iscc_lab.errors import BadRequest, Forbidden, NotFound

__all__ = [
    "MEDIA_ID_RE",
    "MediaRecord",
    "Store",
    "Upload",
    "check_filename",
    "check_media_id",
    "new_media_id",
]

MEDIA_ID_RE = re.compile(r"^[a-v0-9]{13}$")
MAX_FILENAME_BYTES = 255
CHUNK = 1 << 20
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_INCOMING, _TRASH, _SALT = ".incoming", ".trash", ".salt"


def new_media_id() -> str:
    """A new media_id: iscc-core's Flake (time-ordered), 13 chars of [a-v0-9].

    A 64-bit Flake holds a 16-bit counter per millisecond that starts at a random value, and
    iscc-core raises OverflowError when it runs past the top (a burst of ids in one
    millisecond): then the next millisecond is used.
    """
    while True:
        try:
            return ic.Flake().string.lower()
        except OverflowError:
            time.sleep(0.001)


def check_media_id(media_id) -> str:
    """`media_id` if it is 13 chars of [a-v0-9]; NotFound otherwise, before any disk access."""
    if not isinstance(media_id, str) or not MEDIA_ID_RE.match(media_id):
        raise NotFound(
            f"No media with id {str(media_id)[:40]!r}: ids are 13 characters of a-v, 0-9."
        )
    return media_id


def check_filename(name) -> str:
    """The filename if it is a plain, safe file name; BadRequest saying what is wrong otherwise.

    A plain file name: not empty, no folders (no `/` or `\\`), not `.` or `..`, no control
    characters, at most 255 UTF-8 bytes. Unicode is normalized to NFC.
    """
    if not isinstance(name, str) or not name.strip():
        raise BadRequest("The filename is empty.")
    name = unicodedata.normalize("NFC", name)
    if _CONTROL.search(name):
        raise BadRequest("The filename contains control characters.")
    if "/" in name or "\\" in name:
        raise BadRequest(f"The filename must be a plain file name, without folders: {name[:80]!r}.")
    if name.strip() in (".", ".."):
        raise BadRequest(f"{name!r} is not a file name.")
    if len(name.encode("utf-8")) > MAX_FILENAME_BYTES:
        raise BadRequest(f"The filename is longer than {MAX_FILENAME_BYTES} bytes.")
    return name


def _disk_name(filename: str) -> str:
    """The name the bytes are stored under: the checked name, not hidden, not a reserved one."""
    name = filename.strip()
    if name.startswith("."):
        name = "_" + name[1:]
    return name if name not in ("record.json", "iscc.json", "metadata.json") else "_" + name


def _write_json(path: Path, data) -> None:
    """Write JSON atomically: a temporary file in the same folder, fsync, rename."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, ensure_ascii=False)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@dataclass
class MediaRecord:
    """What the store knows about one media."""

    media_id: str
    filename: str
    disk_name: str
    content_type: str
    size: int
    owner: str
    created: float
    sha256: str
    datahash: str | None = None
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


class Upload:
    """An upload being received: write chunks, then `commit()` or `abort()`.

    The size limit (the store's, or `limit`) is enforced on every write; an oversize or empty
    upload is removed and BadRequest raised. Used as a context manager, an exception aborts it.
    A body used once and not kept (`POST /simprint`) takes `received()` instead of `commit()`.
    """

    def __init__(
        self, store: "Store", filename: str, content_type: str, owner: str, limit: int | None = None
    ):
        self.store = store
        self.limit = store.max_upload_size if limit is None else limit
        self.filename = check_filename(filename)
        self.content_type = (content_type or "application/octet-stream").strip()[:255]
        self.owner = owner
        self.size = 0
        self._sha = hashlib.sha256()
        self.media_id = new_media_id()
        self._dir = Path(tempfile.mkdtemp(dir=store.root / _INCOMING, prefix=self.media_id + "-"))
        self._disk_name = _disk_name(self.filename)
        self._file = open(self._dir / self._disk_name, "wb")
        self.done = False

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.limit:
            self.abort()
            raise BadRequest(f"The upload is larger than the limit of {self.limit} bytes.")
        self._sha.update(chunk)
        self._file.write(chunk)

    def commit(self) -> MediaRecord:
        """Make the media visible, complete with its record; returns the record."""
        if self.size == 0:
            self.abort()
            raise BadRequest("The upload is empty.")
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        while True:
            record = MediaRecord(
                media_id=self.media_id,
                filename=self.filename,
                disk_name=self._disk_name,
                content_type=self.content_type,
                size=self.size,
                owner=self.owner,
                created=time.time(),
                sha256=self._sha.hexdigest(),
            )
            _write_json(self._dir / "record.json", record.to_dict())
            try:
                os.rename(self._dir, self.store.root / self.media_id)
                break
            except OSError as e:
                # Flakes made in another process (a worker embedding metadata) in the same
                # millisecond can coincide: never overwrite, take a new id.
                if e.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                    raise
                self.media_id = new_media_id()
        self.done = True
        return record

    def received(self) -> Path:
        """The complete body's file, closed, left in the incoming folder (never listed, swept if
        forgotten) instead of committed; `abort()` removes it after use."""
        self._file.close()
        return self._dir / self._disk_name

    def abort(self) -> None:
        """Remove everything this upload wrote. Safe to call more than once."""
        if self.done:
            return
        self.done = True
        self._file.close()
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            self.abort()
        return False


class Store:
    """Media on disk under `root`; safe for several processes sharing the folder."""

    def __init__(self, root, max_upload_size: int = 1_073_741_824):
        self.root = Path(root).expanduser().resolve()
        self.max_upload_size = max_upload_size
        for sub in (_INCOMING, _TRASH):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        self._salt = self._load_salt()

    @classmethod
    def from_settings(cls, settings) -> "Store":
        return cls(settings.media_path, max_upload_size=settings.max_upload_size)

    def _load_salt(self) -> bytes:
        path = self.root / _SALT
        try:
            return path.read_bytes()
        except FileNotFoundError:
            salt = secrets.token_bytes(32)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:  # another process made it first
                return path.read_bytes()
            with os.fdopen(fd, "wb") as f:
                f.write(salt)
            return salt

    # -- owners ------------------------------------------------------------------------------
    def owner_of(self, identity: str) -> str:
        """The owner key of a client identity (e.g. its address): salted, never the raw value."""
        return hmac.new(self._salt, identity.encode("utf-8"), hashlib.sha256).hexdigest()

    # -- writing -----------------------------------------------------------------------------
    def begin(
        self, filename: str, content_type: str = "", owner: str = "", limit: int | None = None
    ) -> Upload:
        """Start an upload to write chunk by chunk (the REST face streams into this); `limit`
        replaces the store's size limit for this one."""
        return Upload(self, filename, content_type, owner, limit)

    def put(
        self, source, filename: str | None = None, content_type: str = "", owner: str = ""
    ) -> MediaRecord:
        """Store `source` (a path, bytes or a binary stream) and return its record."""
        if isinstance(source, (str, os.PathLike)):
            path = Path(source)
            filename = filename or path.name
            with open(path, "rb") as f:
                return self.put(f, filename, content_type, owner)
        if isinstance(source, (bytes, bytearray, memoryview)):
            source = io.BytesIO(source)
        if not filename:
            raise BadRequest("A filename is needed to store bytes or a stream.")
        with self.begin(filename, content_type, owner) as upload:
            while chunk := source.read(CHUNK):
                upload.write(chunk)
            return upload.commit()

    # -- reading -----------------------------------------------------------------------------
    def _dir(self, media_id: str) -> Path:
        return self.root / check_media_id(media_id)

    def get(self, media_id: str) -> MediaRecord:
        """The record of `media_id`; NotFound if unknown or deleted."""
        try:
            data = json.loads((self._dir(media_id) / "record.json").read_text("utf-8"))
        except (FileNotFoundError, NotADirectoryError):
            raise NotFound(f"No media with id {media_id} (unknown, deleted or expired).") from None
        return MediaRecord(**data)

    def check_owner(self, record: MediaRecord, owner: str | None) -> None:
        """Forbidden unless `owner` uploaded it. `owner=None` skips the check (private off)."""
        if owner is not None and not hmac.compare_digest(record.owner, owner):
            raise Forbidden("Only the client that uploaded this media may access or change it.")

    def file(self, record: MediaRecord) -> Path:
        """Path of the stored bytes of a record already in hand (no second read of it)."""
        return self._dir(record.media_id) / record.disk_name

    def path(self, media_id: str) -> Path:
        """Path of the stored bytes."""
        return self.file(self.get(media_id))

    def open(self, media: "str | MediaRecord") -> BinaryIO:
        """The stored bytes of a media id or record, opened for streaming. An open file keeps
        working if the media is deleted meanwhile."""
        record = media if isinstance(media, MediaRecord) else self.get(media)
        try:
            return open(self.file(record), "rb")
        except FileNotFoundError:
            raise NotFound(
                f"No media with id {record.media_id} (unknown, deleted or expired)."
            ) from None

    def read_result(self, media_id: str, name: str) -> dict | None:
        """A stored result (`iscc` or `metadata`), or None if not computed."""
        try:
            return json.loads((self._dir(media_id) / f"{name}.json").read_text("utf-8"))
        except (FileNotFoundError, NotADirectoryError):
            return None

    def write_result(self, media_id: str, name: str, data: dict) -> None:
        """Store a result atomically; NotFound if the media is gone meanwhile."""
        folder = self._dir(media_id)
        if not (folder / "record.json").exists():
            raise NotFound(f"No media with id {media_id} (deleted while it was processed).")
        try:
            _write_json(folder / f"{name}.json", data)
        except FileNotFoundError:
            raise NotFound(
                f"No media with id {media_id} (deleted while it was processed)."
            ) from None
        if name == "iscc" and data.get("datahash"):
            record = self.get(media_id)
            record.datahash = data["datahash"]
            _write_json(folder / "record.json", record.to_dict())

    # -- removing ----------------------------------------------------------------------------
    def delete(self, media_id: str) -> None:
        """Delete the media and every stored result; NotFound if not there."""
        folder = self._dir(media_id)
        trash = self.root / _TRASH / f"{media_id}-{secrets.token_hex(4)}"
        try:
            os.rename(folder, trash)
        except FileNotFoundError:
            raise NotFound(f"No media with id {media_id} (unknown, deleted or expired).") from None
        shutil.rmtree(trash, ignore_errors=True)

    def expire(self, max_age: float, now: float | None = None) -> list[str]:
        """Delete media older than `max_age` seconds, and leftovers of interrupted work.

        Returns the deleted media ids.
        """
        now = time.time() if now is None else now
        gone = []
        for record in self:
            if now - record.created > max_age:
                try:
                    self.delete(record.media_id)
                    gone.append(record.media_id)
                except NotFound:
                    pass
        self.sweep(older_than=min(max_age, 3600), now=now)
        return gone

    def sweep(self, older_than: float = 3600, now: float | None = None) -> None:
        """Remove uploads that were never committed (a crash mid-upload) and stale trash."""
        now = time.time() if now is None else now
        for sub in (_INCOMING, _TRASH):
            for entry in (self.root / sub).iterdir():
                try:
                    if now - entry.stat().st_mtime > older_than:
                        shutil.rmtree(entry, ignore_errors=True)
                except FileNotFoundError:
                    pass

    # -- listing and look-ups ----------------------------------------------------------------
    def __iter__(self) -> Iterator[MediaRecord]:
        """Every complete media, oldest first (media ids are time-ordered)."""
        for entry in sorted(os.listdir(self.root)):
            if MEDIA_ID_RE.match(entry):
                try:
                    yield self.get(entry)
                except NotFound:
                    continue

    def __contains__(self, media_id) -> bool:
        try:
            self.get(media_id)
            return True
        except NotFound:
            return False

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def listing(self, owner: str | None = None, page: int = 1, page_size: int = 50) -> dict:
        """One page of media (of `owner`, or all), newest first.

        Returns `{"count", "page", "page_size", "results": [record dicts]}`.
        """
        if page < 1 or not 1 <= page_size <= 1000:
            raise BadRequest("page starts at 1; page_size is between 1 and 1000.")
        records = [r for r in self if owner is None or r.owner == owner]
        records.reverse()
        start = (page - 1) * page_size
        return {
            "count": len(records),
            "page": page,
            "page_size": page_size,
            "results": [r.to_dict() for r in records[start : start + page_size]],
        }

    def find(self, *, sha256: str | None = None, datahash: str | None = None) -> list[MediaRecord]:
        """Media whose bytes have this sha256, or whose ISCC has this datahash."""
        if not sha256 and not datahash:
            raise BadRequest("Give a sha256 or a datahash to look up.")
        return [
            r
            for r in self
            if (sha256 and r.sha256 == sha256.lower()) or (datahash and r.datahash == datahash)
        ]
