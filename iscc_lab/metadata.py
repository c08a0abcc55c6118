"""Embedded metadata: extract it from media, embed it into a copy (never the original).

iscc-sdk embeds and reads most of the contract's fields; where it falls short, this module
writes and reads the rest with the libraries iscc-sdk itself uses, so that no new dependency is
needed: exiv2 for images (`credit` as XMP photoshop:Credit and IPTC Credit), TagLib for audio
(`identifier`, `creator`, `credit`, `rights`), ffmpeg for video (`identifier`, `credit`),
pypdf and python-docx for PDF and DOCX (`identifier`, `keywords`); `keywords` go into images as
XMP dc:subject. Every
embedding is then read back from the copy: a field that the format did not keep is a 422 naming
the field and the format, never a silent drop.
"""

import base64
import binascii
import json
import logging
import re
import shutil
import tempfile
import unicodedata
from pathlib import Path
from typing import Annotated

from pydantic import (
    BaseModel,
    ConfigDict,
    StringConstraints,
    ValidationError,
    field_validator,
)

from iscc_lab import tools
from iscc_lab.errors import BadRequest, IsccLabError, Unprocessable
from iscc_lab.generate import iscc_file, named_file, sdk
from iscc_lab.settings import Settings, get_settings

__all__ = [
    "FIELDS",
    "MetadataIn",
    "extract_metadata",
    "read_metadata",
    "embed_copy",
    "embed_file",
    "embed_metadata",
    "merge_embedded",
    "validate_metadata",
]

log = logging.getLogger(__name__)

FIELDS = (
    "name", "description", "meta", "identifier", "creator",
    "license", "acquire", "credit", "rights",
)  # fmt: skip

Text = Annotated[str, StringConstraints(max_length=4096)]


class MetadataIn(BaseModel):
    """The contract's POST /metadata body: all fields optional, unknown fields refused."""

    model_config = ConfigDict(extra="forbid", strict=True)

    name: Annotated[str, StringConstraints(max_length=128)] | None = None
    description: Annotated[str, StringConstraints(max_length=4096)] | None = None
    meta: Annotated[str, StringConstraints(max_length=16384)] | None = None
    identifier: Text | None = None
    creator: Text | None = None
    license: Text | None = None
    acquire: Text | None = None
    credit: Text | None = None
    rights: Text | None = None
    keywords: Text | list[Annotated[str, StringConstraints(max_length=256)]] | None = None

    @field_validator("meta")
    @classmethod
    def _data_url(cls, v):
        if v is None:
            return v
        head, comma, data = v.partition(",")
        if not (v.startswith("data:") and comma and head.endswith(";base64")):
            raise ValueError("meta must be a Data-URL (data:<media type>;base64,...)")
        try:
            base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("meta must be a Data-URL with valid base64 data") from None
        return v

    @field_validator("acquire", "license")
    @classmethod
    def _uri(cls, v):
        if v is not None and "://" not in v:
            raise ValueError("must be a URI such as https://example.com/license")
        return v


def validate_metadata(data) -> dict:
    """The given fields of a metadata object, checked; BadRequest saying what is wrong."""
    if not isinstance(data, dict):
        raise BadRequest("The metadata must be a JSON object.")
    try:
        fields = MetadataIn.model_validate(data).model_dump(exclude_none=True)
    except ValidationError as e:
        problems = "; ".join(
            f"{'.'.join(map(str, err['loc'])) or 'body'}: {err['msg']}" for err in e.errors()
        )
        raise BadRequest(f"Invalid metadata: {problems}.") from None
    if not fields:
        raise BadRequest(
            f"No metadata to embed: give at least one of {', '.join(FIELDS)}, keywords."
        )
    return fields


def read_metadata(path: Path) -> dict:
    """The present fields of the file at `path` (named as its media type is named); {} where the
    media type has no metadata or it cannot be read."""
    found = _read_all(path)
    return {k: found[k] for k in FIELDS if found.get(k) not in (None, "", [])}


def _read_all(path: Path) -> dict:
    """Everything iscc-sdk and the readers below find (also keywords, which the contract's
    GET /metadata does not list)."""
    with sdk() as idk:
        try:
            meta = idk.extract_metadata(path)
            mediatype, mode = idk.mediatype_and_mode(path)
        except IsccLabError:
            raise
        except Exception as e:  # noqa: BLE001  (unsupported or unreadable: no metadata)
            log.info("no metadata from %s: %s", path.name, e)
            return {}
        found = meta.dict() if meta is not None else {}
        try:
            found.update(_READERS.get(mode, _no_extra)(path, mediatype))
        except Exception as e:  # noqa: BLE001  (the fields iscc-sdk read are still good)
            log.info("no further metadata from %s: %s", path.name, e)
    return found


def _no_extra(path: Path, mediatype: str) -> dict:
    return {}


# -- images: exiv2 (as iscc-sdk), for the credit line ------------------------------------------

IMAGE_CREDIT = ("Xmp.photoshop.Credit", "Iptc.Application2.Credit")
IPTC_CREDIT_MAX = 32  # bytes: IPTC IIM's limit for 2:110 Credit
IMAGE_KEYWORDS = "Xmp.dc.subject"


def _image_read(path: Path, mediatype: str) -> dict:
    import exiv2

    image = exiv2.ImageFactory.open(str(path))
    image.readMetadata()
    values, found = {}, {}
    for data in (image.xmpData(), image.iptcData()):
        for datum in data:
            if datum.key() in IMAGE_CREDIT and datum.key() not in values:
                values[datum.key()] = datum.toString()
            elif datum.key() == IMAGE_KEYWORDS:
                found["keywords"] = [datum.toString(i) for i in range(datum.count())]
    for key in IMAGE_CREDIT:
        if values.get(key, "").strip():
            found["credit"] = values[key].strip()
            break
    return found


def _image_write(path: Path, mediatype: str, fields: dict) -> None:
    if "credit" not in fields and "keywords" not in fields:
        return
    import exiv2

    image = exiv2.ImageFactory.open(str(path))
    image.readMetadata()
    xmp = image.xmpData()
    if "credit" in fields:
        credit = fields["credit"]
        xmp["Xmp.photoshop.Credit"] = credit
        if mediatype in ("image/jpeg", "image/tiff") and len(credit.encode()) <= IPTC_CREDIT_MAX:
            image.iptcData()["Iptc.Application2.Credit"] = credit
    if "keywords" in fields:
        bag = exiv2.XmpArrayValue(exiv2.TypeId.xmpBag)
        for keyword in _keywords(fields["keywords"]):
            bag.read(keyword)  # each read adds an item
        key = exiv2.XmpKey(IMAGE_KEYWORDS)
        while (found := xmp.findKey(key)) != xmp.end():
            xmp.erase(found)
        xmp.add(key, bag)
    image.writeMetadata()


def _keywords(value) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _joined(fields: dict, field: str) -> str:
    """A field's value as one text (keywords comma-separated)."""
    return ", ".join(_keywords(fields[field])) if field == "keywords" else fields[field]


def _split(text: str) -> list[str]:
    return [k.strip() for k in str(text).split(",") if k.strip()]


# -- audio: TagLib (as iscc-sdk), for the fields iscc-sdk does not write -----------------------

AUDIO_EXTRA = ("identifier", "creator", "credit", "rights", "keywords")
AUDIO_STANDARD = {"creator": "ARTIST", "rights": "COPYRIGHT"}  # also where players look


def _audio_sep(mediatype: str) -> str:
    return "_" if mediatype == "audio/mp4" else ":"  # TagLib drops MP4 names with a colon


def _audio_read(path: Path, mediatype: str) -> dict:
    import taglib

    with taglib.File(str(path)) as f:
        tags = dict(f.tags)
    found = {}
    for field in AUDIO_EXTRA:
        for key in (f"ISCC:{field.upper()}", f"ISCC_{field.upper()}"):
            if tags.get(key) and tags[key][0].strip():
                found[field] = tags[key][0]
                break
    if "keywords" in found:
        found["keywords"] = _split(found["keywords"])
    return found


def _audio_write(path: Path, mediatype: str, fields: dict) -> None:
    extra = {k: _joined(fields, k) for k in AUDIO_EXTRA if k in fields}
    if not extra:
        return
    import taglib

    sep = _audio_sep(mediatype)
    with taglib.File(str(path)) as f:
        for field, value in extra.items():
            f.tags[f"ISCC{sep}{field.upper()}"] = [value]
            if field in AUDIO_STANDARD:
                f.tags[AUDIO_STANDARD[field]] = [value]
        left = f.save()
    if left:
        log.info("TagLib kept no %s in %s", ", ".join(left), path.name)


# -- video: ffmpeg tags (as iscc-sdk), for the fields iscc-sdk does not write ------------------

VIDEO_EXTRA = {
    "identifier": "iscc_identifier",
    "credit": "iscc_credit",
    "keywords": "iscc_keywords",
}


def _video_read(path: Path, mediatype: str) -> dict:
    proc = tools.run_ffprobe(["-v", "error", "-show_format", "-of", "json", str(path)])
    tags = {
        k.lower(): v
        for k, v in (json.loads(proc.stdout).get("format", {}).get("tags") or {}).items()
    }
    found = {field: tags[tag] for field, tag in VIDEO_EXTRA.items() if tags.get(tag, "").strip()}
    if "keywords" in found:
        found["keywords"] = _split(found["keywords"])
    return found


def _video_write(path: Path, mediatype: str, fields: dict) -> None:
    extra = {tag: _joined(fields, f) for f, tag in VIDEO_EXTRA.items() if f in fields}
    if not extra:
        return
    out = path.with_name(".tagged-" + path.name)
    args = ["-v", "error", "-i", str(path), "-map", "0", "-codec", "copy"]
    args += ["-movflags", "use_metadata_tags", "-map_metadata", "0"]
    for tag, value in extra.items():
        args += ["-metadata", f"{tag}={value}"]
    tools.run_ffmpeg([*args, "-y", str(out)])
    out.replace(path)


# -- documents: pypdf and python-docx (as iscc-sdk), for identifier and keywords ---------------

PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def _text_read(path: Path, mediatype: str) -> dict:
    found = {}
    if mediatype == PDF:
        from pypdf import PdfReader

        info = PdfReader(str(path)).metadata or {}
        identifier, keywords = info.get("/iscc_identifier"), info.get("/Keywords")
    elif mediatype == DOCX:
        from docx import Document

        props = Document(str(path)).core_properties
        identifier, keywords = props.identifier, props.keywords
    else:
        return found
    if identifier and str(identifier).strip():
        found["identifier"] = str(identifier)
    if keywords and str(keywords).strip():
        found["keywords"] = _split(keywords)
    return found


def _text_write(path: Path, mediatype: str, fields: dict) -> None:
    identifier = fields.get("identifier")
    keywords = _joined(fields, "keywords") if "keywords" in fields else None
    if identifier is None and keywords is None:
        return
    if mediatype == PDF:
        from pypdf import PdfReader, PdfWriter

        writer = PdfWriter(clone_from=PdfReader(str(path)))
        updates = {"/iscc_identifier": identifier, "/Keywords": keywords}
        writer.add_metadata({k: v for k, v in updates.items() if v is not None})
        tmp = path.with_name(".tagged-" + path.name)
        with open(tmp, "wb") as f:
            writer.write(f)
        tmp.replace(path)
    elif mediatype == DOCX:
        from docx import Document

        doc = Document(str(path))
        if identifier is not None:
            doc.core_properties.identifier = identifier
        if keywords is not None:
            doc.core_properties.keywords = keywords
        doc.save(str(path))


_READERS = {"image": _image_read, "audio": _audio_read, "video": _video_read, "text": _text_read}
_WRITERS = {
    "image": _image_write,
    "audio": _audio_write,
    "video": _video_write,
    "text": _text_write,
}


def extract_metadata(source, filename: str | None = None) -> dict:
    """The metadata embedded in `source` (path, bytes or stream): only the present fields among
    name, description, meta, identifier, creator, license, acquire, credit, rights."""
    with named_file(source, filename) as path:
        return read_metadata(path)


def _embed(path: Path, fields: dict, out: Path) -> Path:
    embed_file(path, fields, out)
    return out


def embed_file(path: Path, fields: dict, out: Path) -> dict:
    """Embed the checked `fields` into a copy of the file at `path` (named as it is named),
    written to `out`; returns the copy's metadata as GET /metadata shows it. Unprocessable,
    naming the fields and the format, if the format cannot carry one of them (read back from
    the copy), and then no copy is left."""
    with sdk() as idk:
        try:
            mediatype, mode = idk.mediatype_and_mode(path)
        except Exception:  # noqa: BLE001  (any library error: a message for the user)
            mediatype, mode = "", None
        fmt = f"{path.name} ({mediatype})" if mediatype else path.name
        try:
            new = idk.embed_metadata(path, dict(fields))
        except IsccLabError:
            raise
        except Exception as e:  # noqa: BLE001  (any library error: a message for the user)
            raise Unprocessable(
                f"{fmt} cannot carry the {_fields(fields)}: writing metadata into this format "
                f"failed ({_plain(e, path)})."
            ) from None
        if not new:
            raise Unprocessable(
                f"{fmt} cannot carry the {_fields(fields)}: iscc-lab embeds no metadata into "
                "this media type."
            )
        new = Path(new)
        try:
            try:
                _WRITERS.get(mode, lambda *a: None)(new, mediatype, fields)
            except IsccLabError:
                raise
            except Exception as e:  # noqa: BLE001  (any library error: a message for the user)
                raise Unprocessable(
                    f"Embedding metadata into {fmt} failed: {_plain(e, new)}"
                ) from None
            found = _read_all(new)
            lost = _lost(fields, found)
            if lost:
                raise Unprocessable(
                    f"{fmt} cannot carry the {_fields(lost)}: nothing was embedded. Send the "
                    "other fields alone, or use a format that keeps them."
                )
            shutil.move(new, out)
        finally:
            temp = Path(tempfile.gettempdir())
            if new.parent.parent == temp and new.parent.name.startswith("tmp"):
                shutil.rmtree(new.parent, ignore_errors=True)  # iscc-sdk's own temporary folder
    return {k: found[k] for k in FIELDS if found.get(k) not in (None, "", [])}


def merge_embedded(result: dict, found: dict, fields: dict) -> dict:
    """The ISCC JSON of a copy with the submitted `fields` merged in as the copy carries them
    (`found`, from `embed_file`), as the contract's POST /metadata answers: e.g. `credit`,
    which iscc-sdk's ISCC metadata does not show."""
    merged = dict(result)
    for key in FIELDS:
        if key in fields and key in found:
            merged[key] = found[key]
    return merged


def _fields(names) -> str:
    names = [n for n in (*FIELDS, "keywords") if n in names]
    return f"field{'s' if len(names) > 1 else ''} {', '.join(names)}"


def _same(given: str, found: str) -> bool:
    def norm(v):
        return " ".join(unicodedata.normalize("NFC", str(v)).split())

    return norm(given) == norm(found)


def _lost(fields: dict, found: dict) -> list[str]:
    """The fields of `fields` that `found` (read back from the copy) does not show as given.
    A creator may come back after the creators already there ("Cat Lover, Rowling"), as the
    contract's reference service answers."""
    lost = []
    for field in FIELDS:
        if field not in fields:
            continue
        value, back = fields[field], found.get(field)
        if back is None:
            lost.append(field)
        elif field == "creator":
            if not (_same(value, back) or _same(", " + value, back[-len(value) - 2 :])):
                lost.append(field)
        elif field == "meta":
            if value != back:
                lost.append(field)
        elif not _same(value, back):
            lost.append(field)
    if "keywords" in fields:  # read back, but not listed by the contract's GET /metadata
        back = {" ".join(k.split()) for k in found.get("keywords") or []}
        given = {" ".join(k.split()) for k in _split(_joined(fields, "keywords"))}
        if not given <= back:
            lost.append("keywords")
    return lost


_PATHS = re.compile(r"(?:/[^\s'\"/:]+)+/([^\s'\"/:]+)")


def _plain(e: Exception, path: Path) -> str:
    """An error's text without server paths (only file names)."""
    return _PATHS.sub(r"\1", str(e))[:300] or type(e).__name__


def embed_copy(source, metadata: dict, outpath, filename: str | None = None) -> Path:
    """A copy of `source` with `metadata` embedded, written to `outpath`, without its ISCC:
    `embed_metadata` without the ISCC. Unprocessable names a field the format cannot carry."""
    fields = validate_metadata(metadata)
    outpath = Path(outpath)
    outpath.parent.mkdir(parents=True, exist_ok=True)
    with named_file(source, filename) as path:
        embed_file(path, fields, outpath)
    return outpath


def embed_metadata(
    source,
    metadata: dict,
    filename: str | None = None,
    *,
    outpath=None,
    settings: Settings | None = None,
) -> tuple[Path, dict]:
    """A copy of `source` with `metadata` embedded, and the ISCC of that copy.

    The original is never modified. The copy is written to `outpath`, or to a new temporary
    folder (the caller owns it). Returns `(path of the copy, ISCC JSON)`.
    """
    settings = settings or get_settings()
    fields = validate_metadata(metadata)
    with named_file(source, filename) as path:
        if outpath is None:
            outpath = Path(tempfile.mkdtemp(prefix="iscc-lab-embed-")) / path.name
        outpath = Path(outpath)
        outpath.parent.mkdir(parents=True, exist_ok=True)
        found = embed_file(path, fields, outpath)
    with named_file(outpath, outpath.name) as named:
        result = iscc_file(
            named,
            semantic=settings.experimental,
            granular=settings.granular,
            fallback=settings.fallback,
        )
    return outpath, merge_embedded(result, found, fields)
