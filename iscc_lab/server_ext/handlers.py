"""Thin tornado handlers: parse the request, call the core (in the worker pool where the work is
heavy), respond as the contract says. Errors are plain text.

Access is Jupyter's own: `@web.authenticated` and `@authorized` (the action from the HTTP method,
on `AUTH_RESOURCE`) on every API method, through `api`, and before a streamed body is read; the
one switch of ours is anonymous access (`IsccLabApp.allow_anonymous`), which lets a caller with
no Jupyter identity in as the `ANONYMOUS` user.
"""

import asyncio
import base64
import binascii
import functools
import json
from pathlib import Path
from urllib.parse import quote

from jupyter_server.auth import User
from jupyter_server.auth.decorator import allow_unauthenticated, authorized
from jupyter_server.base.handlers import APIHandler, FileFindHandler, JupyterHandler
from jupyter_server.extension.handler import ExtensionHandlerMixin
from jupyter_server.utils import url_path_join
from tornado import web

from iscc_lab.errors import BadRequest, IsccLabError, NotFound
from iscc_lab.explain import explain
from iscc_lab.metadata import validate_metadata
from iscc_lab.store import check_filename

HERE = Path(__file__).parent
MEDIA_ID = r"([a-v0-9]{13})"
JSON_BODY_LIMIT = 1 << 20  # POST /metadata bodies: the contract's fields fit in far less
DRAIN_MIN = 64 << 20  # a refused body is read and discarded up to max(4 x limit, this)
SIMPRINT_OVERHEAD = 1 << 16  # JSON framing around a text of up to max_upload_size bytes
READ_CHUNK = 1 << 18
TEXT = "text/plain; charset=UTF-8"
#: The resource Jupyter's authorizer is asked about for every API call (read or write).
AUTH_RESOURCE = "iscc_lab"
#: Who a caller without a Jupyter identity is when anonymous access is on.
ANONYMOUS = User("anonymous")
NEEDS_TOKEN = "Forbidden: authentication required (send 'Authorization: token <TOKEN>')."


class ApiError(web.HTTPError):
    """An HTTP error whose message is the plain-text body of the response."""

    def __init__(self, status: int, message: str):
        super().__init__(status)
        self.message = message


def api(method):
    """An API method: Jupyter's `@web.authenticated` and `@authorized`, then core errors mapped
    to their statuses."""

    @functools.wraps(method)
    async def mapped(self, *args, **kwargs):
        try:
            return await method(self, *args, **kwargs)
        except IsccLabError as e:
            raise ApiError(e.status, e.message) from None

    return web.authenticated(authorized(mapped))


def parse_bool(name: str, value: str | None) -> bool | None:
    if value is None:
        return None
    v = value.strip().lower()
    if v in ("true", "1", "yes", "on"):
        return True
    if v in ("false", "0", "no", "off"):
        return False
    raise BadRequest(f"Query parameter {name} must be true or false, not {value[:40]!r}.")


def decode_filename(header: str | None) -> str:
    """The filename from the base64 X-Upload-Filename header, checked."""
    if header is None:
        raise BadRequest("Missing header X-Upload-Filename (the base64-encoded filename).")
    if len(header) > 4096:
        raise BadRequest("X-Upload-Filename is too long.")
    try:
        raw = base64.b64decode(header.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest("X-Upload-Filename is not valid base64.") from None
    try:
        name = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("X-Upload-Filename does not decode to UTF-8 text.") from None
    try:
        return check_filename(name)
    except BadRequest as e:
        raise BadRequest(f"X-Upload-Filename: {e.message}") from None


class IsccLabMixin:
    """The service built once by the extension app (`IsccLabApp.initialize_settings`)."""

    @property
    def service(self):
        return self.settings["iscc_lab_service"]


class BaseHandler(IsccLabMixin, ExtensionHandlerMixin, APIHandler):
    """Shared by every API handler: the service, auth, plain-text errors, JSON and URLs."""

    auth_resource = AUTH_RESOURCE

    @property
    def client(self) -> str:
        return self.request.remote_ip or ""

    @property
    def anonymous_allowed(self) -> bool:
        return self.service.settings.allow_anonymous

    async def prepare(self):
        await super().prepare()
        if self.current_user is None and self.anonymous_allowed:
            self.current_user = ANONYMOUS

    @web.authenticated
    @authorized("write")  # explicit: `authorized` keeps the first action it derives
    def authorize_write(self) -> None:
        """Jupyter's checks for a write without running a method: for streamed bodies, which
        must be refused before their first byte is read."""

    def check_xsrf_cookie(self):
        # tornado calls this once before prepare() (no user yet: jupyter_server defers it)
        user_known = hasattr(self, "_jupyter_current_user")
        if user_known and self._jupyter_current_user is None:
            if self.anonymous_allowed:
                return None
            raise ApiError(403, NEEDS_TOKEN)  # no token and no session: not "_xsrf missing"
        return super().check_xsrf_cookie()

    def write_error(self, status_code: int, **kwargs):
        exc = (kwargs.get("exc_info") or (None, None, None))[1]
        if isinstance(exc, ApiError):
            message = exc.message
        elif isinstance(exc, web.HTTPError) and exc.log_message:
            message = exc.log_message % exc.args if exc.args else exc.log_message
        elif status_code == 403 and not self.current_user:
            message = NEEDS_TOKEN  # @web.authenticated: nobody logged in
        else:
            message = self._reason
        self.set_status(status_code)
        self.clear_header("Content-Disposition")
        if status_code == 405:
            methods = ("GET", "POST", "DELETE")
            own = [
                m
                for m in methods
                if getattr(type(self), m.lower()) is not getattr(web.RequestHandler, m.lower())
            ]
            self.set_header("Allow", ", ".join(own))
        if getattr(self, "body_unread", False):
            # refused before the body was read: tornado closes the connection after this
            # answer; say so, so that keep-alive clients do not reuse it
            self.set_header("Connection", "close")
        self.finish(message + "\n", set_content_type=TEXT)

    def respond(self, data, status: int = 200, location: str | None = None):
        self.set_status(status)
        if location:
            self.set_header("Location", location)
        self.finish(json.dumps(data, ensure_ascii=False), set_content_type="application/json")

    def media_location(self, media_id: str) -> str:
        """Root-relative URL of a media, under this server's base_url."""
        return url_path_join(self.base_url, "api/v1/media", media_id)

    def absolute(self, path: str) -> str:
        return f"{self.request.protocol}://{self.request.host}{path}"

    def visible_record(self, media_id: str):
        """The record, as a non-owner must not learn of it when files are private: 404."""
        store = self.service.store
        record = store.get(media_id)
        owner = self.service.required_owner(self.client)
        if owner is not None and record.owner != owner:
            raise NotFound(f"No media with id {media_id} (unknown, deleted or expired).")
        return record

    def owned_record(self, media_id: str):
        """The record, Forbidden (403) unless the caller uploaded it where files are private."""
        store = self.service.store
        record = store.get(media_id)
        store.check_owner(record, self.service.required_owner(self.client))
        return record

    def json_body(self) -> dict:
        if len(self.request.body) > JSON_BODY_LIMIT:
            raise BadRequest(f"The JSON body is larger than {JSON_BODY_LIMIT} bytes.")
        if not self.request.body.strip():
            raise BadRequest("The request body is empty; send a JSON object.")
        try:
            data = json.loads(self.request.body)
        except (ValueError, UnicodeDecodeError) as e:
            raise BadRequest(f"The request body is not valid JSON: {e}.") from None
        except RecursionError:
            raise BadRequest("The request body is nested too deeply.") from None
        if not isinstance(data, dict):
            raise BadRequest("The request body must be a JSON object.")
        return data


class StreamingBodyHandler(BaseHandler):
    """Receives a request body straight to disk, never holding it in memory.

    Checks run in `prepare()`, after authentication and before any body byte is read. A refusal
    is sent at once when the client waits for `100-continue` or sends no body; otherwise the
    body is read and discarded first, so that clients that send it whole see the 400 instead of
    a connection reset.
    """

    sink = None
    refusal: BadRequest | None = None
    body_unread = True  # until the body has been read (or drained) in full

    def body_limit(self) -> int:
        return self.service.settings.max_upload_size

    def open_sink(self):
        """Where the body goes: a `Store.begin` upload (write(bytes), commit(), abort())."""
        raise NotImplementedError

    def close_sink(self, sink):
        """The complete body, kept: the stored media's record."""
        return sink.commit()

    def check_request(self) -> None:
        """Header and query checks of the subclass (raise BadRequest)."""

    async def prepare(self):
        await super().prepare()
        await self.authorize_write()
        limit = self.body_limit()
        headers = self.request.headers
        try:
            self.check_request()
            length = headers.get("Content-Length")
            chunked = "chunked" in headers.get("Transfer-Encoding", "").lower()
            if length is not None:
                try:
                    size = int(length)
                except ValueError:
                    raise BadRequest("Content-Length is not a number.") from None
                if size == 0:
                    raise BadRequest("The request body is empty.")
                if size > limit:
                    raise BadRequest(
                        f"The body ({size} bytes) is larger than the limit of {limit} bytes."
                    )
            elif not chunked:
                raise BadRequest("The request body is empty.")
        except BadRequest as e:
            self.refuse(e)
            return
        # Allow the body through tornado (its default cap is below 1 GiB), with room to keep
        # reading and discarding past the limit when the size was not announced.
        self.request.connection.set_max_body_size(limit + self.drain_limit())
        self.sink = self.open_sink()

    def drain_limit(self) -> int:
        return max(4 * self.body_limit(), DRAIN_MIN)

    def refuse(self, error: BadRequest) -> None:
        headers = self.request.headers
        length = headers.get("Content-Length", "")
        drainable = length.isdigit() and 0 < int(length) <= self.drain_limit()
        if headers.get("Expect", "").lower() == "100-continue" or not drainable:
            raise ApiError(400, error.message)
        self.refusal = error  # answered after the body has been read
        self.request.connection.set_max_body_size(int(length))

    def data_received(self, chunk: bytes):
        if self.refusal is not None or self.sink is None:
            return
        try:
            self.sink.write(chunk)
        except BadRequest as e:  # over the limit mid-stream: the sink removed what it wrote
            self.sink = None
            self.refusal = e

    async def committed(self):
        """The body, complete: the sink's commit() result (off the IO loop)."""
        self.body_unread = False
        if self.refusal is not None:
            raise self.refusal
        sink, self.sink = self.sink, None
        try:
            return await asyncio.get_running_loop().run_in_executor(None, self.close_sink, sink)
        except BaseException:
            sink.abort()
            raise

    def _abort_sink(self):
        if self.sink is not None:
            self.sink.abort()
            self.sink = None

    def on_connection_close(self):
        self._abort_sink()  # the client went away mid-upload: nothing partial remains
        super().on_connection_close()

    def on_finish(self):
        self._abort_sink()
        super().on_finish()


class UploadMixin:
    def check_request(self):
        self.filename = decode_filename(self.request.headers.get("X-Upload-Filename"))

    def open_sink(self):
        content_type = self.request.headers.get("Content-Type", "")
        owner = self.service.owner(self.client)
        return self.service.store.begin(self.filename, content_type, owner)


@web.stream_request_body
class IsccHandler(UploadMixin, StreamingBodyHandler):
    """POST /iscc: upload a file and create its ISCC."""

    def check_request(self):
        super().check_request()
        self.semantic = parse_bool("semantic", self.get_query_argument("semantic", None))
        self.granular = parse_bool("granular", self.get_query_argument("granular", None))

    @api
    async def post(self):
        record = await self.committed()
        try:
            result = await self.service.job(
                "iscc", record.media_id, semantic=self.semantic, granular=self.granular
            )
        except BaseException:
            await asyncio.get_running_loop().run_in_executor(None, self._forget, record.media_id)
            raise
        location = self.media_location(record.media_id)
        body = {"media_id": record.media_id, "content": self.absolute(location)}
        self.respond(_merge(result, body), 201, location)

    def _forget(self, media_id):
        try:
            self.service.store.delete(media_id)
        except NotFound:
            pass


def _merge(result: dict, ids: dict) -> dict:
    """The ISCC result with media_id and content placed after `iscc`, as in the contract."""
    out = {}
    for key, value in result.items():
        out[key] = value
        if key == "iscc":
            out.update(ids)
    return out | ids


@web.stream_request_body
class MediaUploadHandler(UploadMixin, StreamingBodyHandler):
    """POST /media: upload a file without processing."""

    @api
    async def post(self):
        record = await self.committed()
        location = self.media_location(record.media_id)
        self.respond(
            {"media_id": record.media_id, "content": self.absolute(location)}, 201, location
        )


class IsccResultHandler(BaseHandler):
    """GET /iscc/{media_id}: the stored ISCC result."""

    @api
    async def get(self, media_id):
        self.visible_record(media_id)
        result = self.service.store.read_result(media_id, "iscc")
        if result is None:
            raise NotFound(
                f"No ISCC result for media {media_id}: it was uploaded with POST /media."
            )
        self.respond(result)


class MediaHandler(BaseHandler):
    """GET (download) and DELETE /media/{media_id}."""

    @api
    async def get(self, media_id):
        record = self.owned_record(media_id)
        with self.service.store.open(record) as f:
            self.set_header("Content-Length", str(record.size))
            self.set_header("Content-Disposition", content_disposition(record.filename))
            self.set_header("Content-Type", record.content_type)
            while chunk := f.read(READ_CHUNK):
                self.write(chunk)
                await self.flush()
        self.finish(set_content_type=record.content_type)

    @api
    async def delete(self, media_id):
        self.owned_record(media_id)
        self.service.store.delete(media_id)
        self.set_status(204)
        self.finish(set_content_type=TEXT)


class MetadataHandler(BaseHandler):
    """GET (extract) and POST (embed into a copy) /metadata/{media_id}."""

    @api
    async def get(self, media_id):
        self.visible_record(media_id)
        self.respond(await self.service.job("metadata", media_id))

    @api
    async def post(self, media_id):
        self.owned_record(media_id)
        fields = validate_metadata(self.json_body())
        owner = self.service.owner(self.client)
        record, result = await self.service.job("embed", media_id, fields, owner)
        location = self.media_location(record["media_id"])
        body = {"media_id": record["media_id"], "content": self.absolute(location)}
        self.respond(_merge(result, body), 201, location)


class ExplainHandler(BaseHandler):
    """GET /explain/{iscc}."""

    @api
    async def get(self, code):
        self.respond(explain(code))


@web.stream_request_body
class SimprintHandler(StreamingBodyHandler):
    """POST /simprint: simprints of a JSON {"text": ...} body (streamed to disk, parsed in a
    worker, so a large text blocks neither memory nor the IO loop)."""

    def check_request(self):
        self.offsets = bool(parse_bool("offsets", self.get_query_argument("offsets", None)))

    def body_limit(self) -> int:
        return self.service.settings.max_upload_size + SIMPRINT_OVERHEAD

    received_body = None  # the body once received, removed once answered

    def open_sink(self):
        store = self.service.store
        return store.begin("simprint.json", "application/json", "", limit=self.body_limit())

    def close_sink(self, sink):
        self.received_body = sink
        return sink.received()

    @api
    async def post(self):
        path = await self.committed()
        try:
            max_bytes = self.service.settings.max_upload_size
            result = await self.service.job("simprint", str(path), max_bytes, self.offsets)
            self.respond(result)
        finally:
            self.received_body.abort()


class NotFoundHandler(BaseHandler):
    """Anything else under api/v1 (including malformed media ids): 404 in plain text."""

    def _not_found(self, *args):
        raise ApiError(404, "Not Found: no such API endpoint or media id.")

    get = post = put = delete = patch = head = _not_found

    async def prepare(self):  # no auth needed to learn that nothing is here
        pass


class DocsHandler(JupyterHandler):
    """{base_url}docs: interactive API documentation (assets served locally)."""

    @allow_unauthenticated
    def get(self):
        self.set_header("Content-Type", "text/html; charset=UTF-8")
        self.finish((HERE / "static" / "index.html").read_bytes())


class OpenAPIHandler(JupyterHandler):
    """{base_url}docs/openapi.yaml: the contract as OpenAPI 3.0."""

    @allow_unauthenticated
    def get(self):
        self.set_header("Content-Type", "application/yaml; charset=UTF-8")
        self.finish((HERE / "openapi.yaml").read_bytes())


def content_disposition(filename: str) -> str:
    """`attachment` with an ASCII fallback and the exact UTF-8 name (RFC 6266 / 5987)."""
    fallback = "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else "_" for c in filename)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def handlers() -> list:
    import swagger_ui_bundle

    return [
        (r"api/v1/iscc", IsccHandler),
        (rf"api/v1/iscc/{MEDIA_ID}", IsccResultHandler),
        (r"api/v1/media", MediaUploadHandler),
        (rf"api/v1/media/{MEDIA_ID}", MediaHandler),
        (rf"api/v1/metadata/{MEDIA_ID}", MetadataHandler),
        (r"api/v1/explain/(.+)", ExplainHandler),
        (r"api/v1/simprint", SimprintHandler),
        (r"api/v1/.*", NotFoundHandler),
        (r"docs", DocsHandler),
        (r"docs/openapi.yaml", OpenAPIHandler),
        (r"docs/assets/(.*)", FileFindHandler, {"path": [swagger_ui_bundle.swagger_ui_path]}),
    ]
