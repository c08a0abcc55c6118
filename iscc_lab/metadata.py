"""Embedded metadata: extract it from media, embed it into a copy (never the original)."""

import base64
import binascii
import logging
import shutil
import tempfile
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator

from iscc_lab.errors import BadRequest, IsccLabError, Unprocessable
from iscc_lab.generate import iscc_file, named_file, sdk
from iscc_lab.settings import Settings, get_settings

__all__ = ["FIELDS", "MetadataIn", "extract_metadata", "embed_metadata", "validate_metadata"]

log = logging.getLogger(__name__)

FIELDS = ("name", "description", "meta", "identifier", "creator", "license", "acquire", "credit", "rights")  # fmt: skip

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
        raise BadRequest(f"No metadata to embed: give at least one of {', '.join(FIELDS)}, keywords.")
    return fields


def _extract(path: Path) -> dict:
    """The present fields; {} where the media type has no metadata or it cannot be read."""
    with sdk() as idk:
        try:
            meta = idk.extract_metadata(path)
        except IsccLabError:
            raise
        except Exception as e:  # unsupported or unreadable: no metadata to report
            log.info("no metadata from %s: %s", path.name, e)
            return {}
    found = meta.dict() if meta is not None else {}
    return {k: found[k] for k in FIELDS if found.get(k) not in (None, "", [])}


def extract_metadata(source, filename: str | None = None) -> dict:
    """The metadata embedded in `source` (path, bytes or stream): only the present fields among
    name, description, meta, identifier, creator, license, acquire, credit, rights."""
    with named_file(source, filename) as path:
        return _extract(path)


def _embed(path: Path, fields: dict, out: Path) -> Path:
    with sdk() as idk:
        try:
            new = idk.embed_metadata(path, dict(fields))
        except IsccLabError:
            raise
        except Exception as e:
            raise Unprocessable(f"Embedding metadata into {path.name} failed: {e}") from None
    if not new:
        raise Unprocessable(f"{path.name}: this media type does not support embedded metadata.")
    shutil.move(new, out)
    return out


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
        _embed(path, fields, outpath)
    with named_file(outpath, outpath.name) as named:
        result = iscc_file(named, semantic=settings.experimental, granular=settings.granular, fallback=settings.fallback)
    return outpath, result
