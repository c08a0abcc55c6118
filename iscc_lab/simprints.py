"""Granular simprints of plain text, keyed by simprint type (the contract's POST /simprint)."""

import iscc_lab.semantic as semantic
from iscc_lab.errors import BadRequest

__all__ = ["create_simprints", "content_text_features", "feature_entries"]


def content_text_features(text: str) -> dict:
    """The CONTENT_TEXT_V0 feature set of `text`: minhash simprints over content-defined
    chunks, offsets and sizes in UTF-8 bytes of `text` as given."""
    from iscc_lab.generate import sdk

    with sdk(byte_offsets=True) as idk:
        return idk.text_features(text, byte_offsets=True)


def feature_entries(feature_set: dict) -> list[dict]:
    """A feature set (parallel lists) as iscc-search entries: [{simprint, offset, size}]."""
    return [
        {"simprint": s, "offset": o, "size": z}
        for s, o, z in zip(
            feature_set["simprints"], feature_set["offsets"], feature_set["sizes"], strict=True
        )
    ]


def create_simprints(
    text: str, *, offsets: bool = False, semantic_features: bool | None = None
) -> dict:
    """Simprints of `text`, keyed by simprint type, as the contract's `POST /simprint`.

    By default each type has a list of bare simprint strings, the reference service's shape
    (iscc-search's `IsccQuery.simprints`): `{"CONTENT_TEXT_V0": ["SCXX_obwF2sK...", ...]}`.
    With `offsets=True` each is an entry `{"simprint", "offset", "size"}` (UTF-8 bytes of
    `text`; iscc-search's `IsccEntry.simprints`), the same simprints in the same order.

    SEMANTIC_TEXT_V0 is there when iscc-sct's model is (see `iscc_lab.semantic`); with
    `semantic_features=True` its absence is an error, with False it is never computed.
    """
    if not isinstance(text, str):
        raise BadRequest("text must be a string.")
    if not text.strip():
        raise BadRequest("text is empty.")
    _utf8(text)
    shape = feature_entries if offsets else _bare
    result = {"CONTENT_TEXT_V0": shape(content_text_features(text))}
    want = semantic.model_available() if semantic_features is None else semantic_features
    if want:
        result["SEMANTIC_TEXT_V0"] = shape(semantic.semantic_text_features(text))
    return result


def _bare(feature_set: dict) -> list[str]:
    return list(feature_set["simprints"])


def simprints_from_json_file(path, max_bytes: int, offsets: bool = False) -> dict:
    """POST /simprint: parse `{"text": ...}` from the file at `path` and create its simprints
    (with their offsets and sizes where `offsets`)."""
    import json

    try:
        with open(path, "rb") as f:
            data = json.load(f)
    except (ValueError, UnicodeDecodeError) as e:
        raise BadRequest(f"The request body is not valid JSON: {e}.") from None
    except RecursionError:
        raise BadRequest("The request body is nested too deeply.") from None
    if not isinstance(data, dict):
        raise BadRequest('The request body must be a JSON object: {"text": "..."}.')
    unknown = sorted(set(data) - {"text"})
    if unknown:
        raise BadRequest(f"Unknown field(s): {', '.join(unknown)}; the body has only text.")
    if "text" not in data:
        raise BadRequest('Missing field text: send {"text": "..."}.')
    text = data["text"]
    if isinstance(text, str) and len(_utf8(text)) > max_bytes:
        raise BadRequest(f"text is larger than the limit of {max_bytes} UTF-8 bytes.")
    return create_simprints(text, offsets=offsets)


def _utf8(text: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates, e.g. "\ud800" from JSON
        raise BadRequest("text is not valid Unicode (it contains lone surrogates).") from None
