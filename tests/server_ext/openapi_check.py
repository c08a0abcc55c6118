"""Validates real responses against the served OpenAPI document: status, content type, body."""

import json
import re
from functools import lru_cache
from pathlib import Path

import yaml
from openapi_schema_validator import OAS30Validator

import iscc_lab.server_ext

SPEC_PATH = Path(iscc_lab.server_ext.__file__).parent / "openapi.yaml"


@lru_cache(maxsize=1)
def spec() -> dict:
    return yaml.safe_load(SPEC_PATH.read_text())


def _operation(method: str, path: str):
    """The operation whose path template matches `path` (relative to /api/v1)."""
    for template, ops in spec()["paths"].items():
        pattern = "^" + re.sub(r"\{[^}]+\}", r"[^/]+", template) + "$"
        if re.match(pattern, path) and method.lower() in ops:
            return template, ops[method.lower()]
    raise AssertionError(f"{method} {path} is not in the OpenAPI document")


def _resolve(obj):
    if isinstance(obj, dict) and "$ref" in obj:
        node = spec()
        for part in obj["$ref"].lstrip("#/").split("/"):
            node = node[part]
        return node
    return obj


def check(method: str, path: str, status: int, content_type: str | None, body: bytes) -> None:
    """AssertionError unless the response conforms to the document."""
    template, op = _operation(method, path)
    responses = op["responses"]
    response = responses.get(str(status)) or responses.get(status)
    assert response is not None, f"{method} {template}: status {status} is not documented"
    response = _resolve(response)
    content = response.get("content") or {}
    if not content:
        assert not body, f"{method} {template} {status}: no body documented, got {body[:80]!r}"
        return
    media = (content_type or "").split(";")[0].strip()
    if media in content:
        media_spec = content[media]
    elif "*/*" in content:
        return  # any bytes
    else:
        raise AssertionError(
            f"{method} {template} {status}: content type {media!r} not in {list(content)}"
        )
    schema = media_spec.get("schema")
    if not schema:
        return
    if media == "application/json":
        data = json.loads(body)
    else:
        data = body.decode("utf-8")
    schema = dict(_resolve(schema))
    schema["components"] = spec()["components"]
    errors = sorted(OAS30Validator(schema).iter_errors(data), key=str)
    assert not errors, (
        f"{method} {template} {status}: {errors[0].message} at {list(errors[0].path)}"
    )
