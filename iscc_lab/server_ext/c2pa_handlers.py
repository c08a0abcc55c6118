"""The Content Credentials routes: soft bindings and signing of stored media under
`{base_url}api/v1/`, and the C2PA Soft Binding Resolution API under `{base_url}c2pa/v1/`.

Thin like the contract's handlers: parse, run the core in the worker pool where the work is
heavy, respond. Queries of the resolution API see every manifest in the repository (a manifest
is published to be found); registering and deleting follow the private-files rule.
"""

import asyncio
import mimetypes
import os
import tempfile
from functools import partial
from pathlib import Path

from tornado import web

from iscc_lab.errors import BadRequest
from iscc_lab.server_ext.handlers import (
    MEDIA_ID,
    ApiError,
    BaseHandler,
    StreamingBodyHandler,
    api,
    decode_filename,
    parse_bool,
)

__all__ = ["handlers"]

C2PA = "application/c2pa"
ALG = "io.iscc.v0"
MAX_RESULTS = 10
MANIFEST_ID = r"([^/]+)"
JUPYTER_PARAMS = ("token", "_xsrf")  # Jupyter's own, on any request
SIDE_CAR_LIMIT = 16 << 20  # manifest stores are kilobytes; thumbnails can make them larger
#: media types whose content the ISCC can fingerprint (the API's byContent body types)
FINGERPRINTABLE = ("image/", "audio/", "video/", "text/", "application/", "model/")


def _jobs():
    from iscc_lab.provenance import verbs

    return verbs


class C2paMixin:
    """The manifest repository (one per server, in the media folder) and provenance jobs."""

    @property
    def repository(self):
        repo = self.settings.get("iscc_lab_c2pa_repository")
        if repo is None:
            from iscc_lab.provenance.repository import ManifestRepository

            repo = ManifestRepository.for_media(self.service.store.root)
            self.settings["iscc_lab_c2pa_repository"] = repo
        return repo

    def content_type(self) -> str:
        """The request's media type, without parameters, lower case ('' when none)."""
        return self.request.headers.get("Content-Type", "").split(";")[0].strip().lower()

    def upload_suffix(self, content_type: str) -> str:
        """The suffix of a streamed body's file: from X-Upload-Filename, else the media type."""
        header = self.request.headers.get("X-Upload-Filename")
        return _suffix(content_type, decode_filename(header) if header else None)

    def open_sink(self):
        """Streamed bodies go to a temporary file in the media folder (see `check_request`)."""
        return TempSink(self.service.store.root / ".incoming", self.suffix, self.body_limit())

    async def provenance_job(self, name: str, *args, **kwargs):
        store = self.service.store
        call = partial(
            _jobs().run_job, name, str(store.root), store.max_upload_size,
            self.service.settings.model_dump(), *args, **kwargs,
        )  # fmt: skip
        return await self.service.pool.run(call)

    def check_params(self, *allowed: str) -> None:
        """BadRequest naming a query parameter this route does not take."""
        for name in self.request.query_arguments:
            if name not in allowed and name not in JUPYTER_PARAMS:
                takes = ", ".join(allowed) if allowed else "none"
                raise BadRequest(
                    f"Unknown query parameter {name[:40]!r}: this route takes {takes}."
                )

    async def off_loop(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(None, fn, *args)

    def max_results(self) -> int:
        raw = self.get_query_argument("maxResults", None)
        if raw is None:
            return MAX_RESULTS
        try:
            value = int(raw)
        except ValueError:
            raise BadRequest(f"maxResults must be an integer >= 1, not {raw[:40]!r}.") from None
        if value < 1:
            raise BadRequest(f"maxResults must be at least 1, not {value}.")
        return min(value, 1000)


def check_alg(alg) -> None:
    if alg is None or alg == "":
        raise BadRequest("alg is required: the soft binding algorithm (io.iscc.v0).")
    if alg != ALG:
        raise BadRequest(f"Unknown alg {str(alg)[:80]!r}: this service supports only {ALG}.")


class SoftBindingHandler(C2paMixin, BaseHandler):
    """GET /api/v1/soft-binding/{media_id}: the ISCC soft binding of a stored media."""

    @api
    async def get(self, media_id):
        self.check_params("semantic")
        self.visible_record(media_id)
        semantic = bool(parse_bool("semantic", self.get_query_argument("semantic", None)))
        self.respond(await self.provenance_job("soft_binding", media_id, semantic=semantic))


class SignHandler(C2paMixin, BaseHandler):
    """POST /api/v1/sign/{media_id}: a signed copy as a new media, its manifest kept in the
    repository. An optional JSON body: {"title": ...}."""

    @api
    async def post(self, media_id):
        self.check_params()
        self.owned_record(media_id)
        title = None
        if self.request.body.strip():
            title = self.json_body().get("title")
            if title is not None and (not isinstance(title, str) or len(title) > 1000):
                raise BadRequest("title must be a text of at most 1000 characters.")
        from iscc_lab.provenance.signing import signer_config

        signer_config(self.service.settings)  # 422 naming the setting, before any work
        owner = self.service.owner(self.client)
        record, result = await self.provenance_job("sign", media_id, owner, title=title)
        catalogue = getattr(self.service.store, "catalogue", None)
        if catalogue is not None:  # the collection's catalogue keeps step with the store
            await self.off_loop(catalogue.set_result, record["media_id"], result)
        location = self.media_location(record["media_id"])
        ids = {"media_id": record["media_id"], "content": self.absolute(location)}
        out = {}
        for key, value in result.items():
            out[key] = value
            if key == "iscc":
                out.update(ids)
        self.respond(out | ids, 201, location)


class SupportedAlgorithmsHandler(C2paMixin, BaseHandler):
    """GET /c2pa/v1/services/supportedAlgorithms."""

    @api
    async def get(self):
        self.check_params()
        self.respond({"watermarks": [], "fingerprints": [{"alg": ALG}]})


class ByBindingHandler(C2paMixin, BaseHandler):
    """GET (query) and POST (JSON body) /c2pa/v1/matches/byBinding."""

    async def _answer(self, alg, value):
        check_alg(alg)
        if not value:
            raise BadRequest("value is required: the base64 of the binding's ISCC-SEQ.")
        from iscc_lab.provenance.binding import decode_value

        units = decode_value(value)
        limit = self.max_results()
        matches = await self.off_loop(partial(self.repository.match, units, limit))
        self.respond({"matches": matches})

    @api
    async def get(self):
        self.check_params("alg", "value", "maxResults")
        alg = self.get_query_argument("alg", None)
        await self._answer(alg, self.get_query_argument("value", None))

    @api
    async def post(self):
        self.check_params("maxResults")
        self.max_results()  # a bad query is a 400 before the body is looked at
        body = self.json_body()
        alg, value = body.get("alg"), body.get("value")
        if not isinstance(value, str) and value is not None:
            raise BadRequest("value must be a base64 string.")
        await self._answer(alg, value)


class TempSink:
    """A request body received into a temporary file of the store's incoming folder (swept
    with the store's leftovers), never stored as a media."""

    def __init__(self, folder: Path, suffix: str, limit: int):
        folder.mkdir(parents=True, exist_ok=True)
        self.limit, self.size = limit, 0
        fd, name = tempfile.mkstemp(dir=folder, prefix="c2pa-", suffix=suffix)
        self.path = Path(name)
        self.file = os.fdopen(fd, "wb")

    def write(self, chunk: bytes):
        self.size += len(chunk)
        if self.size > self.limit:
            self.abort()
            raise BadRequest(f"The body is larger than the limit of {self.limit} bytes.")
        self.file.write(chunk)

    def commit(self) -> Path:
        self.file.close()
        if self.size == 0:
            self.abort()
            raise BadRequest("The request body is empty.")
        return self.path

    def abort(self):
        if not self.file.closed:
            self.file.close()
        self.path.unlink(missing_ok=True)


def _suffix(content_type: str, filename: str | None) -> str:
    """The file name suffix that tells iscc-sdk the media type of a body."""
    if filename and Path(filename).suffix:
        return Path(filename).suffix.lower()
    base = content_type.split(";")[0].strip().lower()
    if base in ("image/jpg",):
        base = "image/jpeg"
    guess = mimetypes.guess_extension(base) if base else None
    return {".jpe": ".jpg", ".jpeg": ".jpg"}.get(guess or "", guess or ".bin")


@web.stream_request_body
class ByContentHandler(C2paMixin, StreamingBodyHandler):
    """POST /c2pa/v1/matches/byContent: the asset's bytes; the binding is made on the server and
    the asset is not stored."""

    def check_request(self):
        # hintAlg/hintValue (a second binding to narrow the search) are taken and not used
        self.check_params("alg", "maxResults", "hintAlg", "hintValue")
        alg = self.get_query_argument("alg", None)
        if alg is not None:
            check_alg(alg)
        self.limit = self.max_results()
        content_type = self.content_type()
        if content_type and not content_type.startswith(FINGERPRINTABLE):
            raise ApiError(415, f"Cannot fingerprint an asset of type {content_type[:80]}.")
        self.suffix = self.upload_suffix(content_type)

    @api
    async def post(self):
        path = await self.committed()
        try:
            binding = await self.provenance_job("binding_file", str(path))
        finally:
            path.unlink(missing_ok=True)
        matches = await self.off_loop(partial(self.repository.match, binding["units"], self.limit))
        self.respond({"matches": matches})


@web.stream_request_body
class ManifestsHandler(C2paMixin, StreamingBodyHandler):
    """POST /c2pa/v1/manifests: register a manifest store. Either the asset itself, carrying its
    manifest embedded (JPEG or PNG; the asset is not kept), or `?media_id=` of a stored asset
    with the `application/c2pa` bytes of its sidecar store. It must validate against the asset."""

    def sidecar(self) -> bool:
        return self.content_type() == C2PA

    def body_limit(self) -> int:
        return SIDE_CAR_LIMIT if self.sidecar() else self.service.settings.max_upload_size

    def check_request(self):
        self.check_params("media_id")
        self.media_id = self.get_query_argument("media_id", None)
        if self.sidecar():
            if not self.media_id:
                raise BadRequest("media_id is required with a sidecar store: its stored asset.")
            self.suffix = ".c2pa"
            return
        if self.media_id:
            raise BadRequest(f"With ?media_id=, send the manifest store as {C2PA}.")
        content_type = self.content_type()
        self.suffix = self.upload_suffix(content_type)

    @api
    async def post(self):
        path = await self.committed()
        owner = self.service.owner(self.client)
        try:
            if self.sidecar():
                record = self.owned_record(self.media_id)
                manifest_id = await self.provenance_job(
                    "register", record.media_id, str(path), owner
                )
            else:
                manifest_id = await self.provenance_job("register_asset", str(path), owner)
        finally:
            path.unlink(missing_ok=True)
        location = manifest_location(self, manifest_id)
        self.respond({"manifestId": manifest_id}, 201, location)


def manifest_location(handler, manifest_id: str) -> str:
    from urllib.parse import quote

    from jupyter_server.utils import url_path_join

    return url_path_join(handler.base_url, "c2pa/v1/manifests", quote(manifest_id, safe=":"))


class ManifestHandler(C2paMixin, BaseHandler):
    """GET and DELETE /c2pa/v1/manifests/{manifestId}."""

    def _check_id(self, manifest_id: str) -> str:
        if not manifest_id.startswith(("urn:c2pa:", "urn:uuid:")) or len(manifest_id) > 200:
            raise BadRequest(
                f"Malformed manifest id {manifest_id[:80]!r}: a urn:c2pa: or urn:uuid: URN."
            )
        return manifest_id

    @api
    async def get(self, manifest_id):
        self.check_params("returnActiveManifest")
        self._check_id(manifest_id)
        active = parse_bool(
            "returnActiveManifest", self.get_query_argument("returnActiveManifest", None)
        )
        data = await self.off_loop(
            partial(self.repository.store, manifest_id, active_only=bool(active))
        )
        self.set_header("Content-Length", str(len(data)))
        self.finish(data, set_content_type=C2PA)

    @api
    async def delete(self, manifest_id):
        self.check_params()
        self._check_id(manifest_id)
        await self.off_loop(
            partial(self.repository.delete, manifest_id, self.service.required_owner(self.client))
        )
        self.set_status(204)
        self.finish()


class C2paNotFoundHandler(BaseHandler):
    """Anything else under c2pa/v1: 404 in plain text."""

    def _not_found(self, *args):
        raise ApiError(404, "Not Found: no such endpoint of the Soft Binding Resolution API.")

    get = post = put = delete = patch = head = _not_found

    async def prepare(self):
        pass


def handlers() -> list:
    """The routes, to be mounted before the contract's (its catch-all 404 comes last)."""
    return [
        (rf"api/v1/soft-binding/{MEDIA_ID}", SoftBindingHandler),
        (rf"api/v1/sign/{MEDIA_ID}", SignHandler),
        (r"c2pa/v1/services/supportedAlgorithms", SupportedAlgorithmsHandler),
        (r"c2pa/v1/matches/byBinding", ByBindingHandler),
        (r"c2pa/v1/matches/byContent", ByContentHandler),
        (r"c2pa/v1/manifests", ManifestsHandler),
        (rf"c2pa/v1/manifests/{MANIFEST_ID}", ManifestHandler),
        (r"c2pa/v1/.*", C2paNotFoundHandler),
    ]
