"""The collection routes (issue 12): list the caller's stored media in pages, look them up by
checksum or code, ask which of many are known, and search them by similarity.

Thin like the contract's handlers: parse, call the store's catalogue (`iscc_lab.media_catalogue`,
SQLite and in-memory Hamming kernels, fast enough to answer on the IO loop) or the worker pool
(`POST /search` processes its body like `POST /iscc`, without storing it), respond. Where private
files are on, every query is filtered by the caller's owner key: another address sees empty
results, never a hint that others' media exist.
"""

import datetime
from urllib.parse import urlencode

from tornado import web

from iscc_lab.errors import BadRequest
from iscc_lab.media_catalogue import LOOKUP_FIELDS, check_lookup_value, check_on
from iscc_lab.server_ext.handlers import (
    BaseHandler,
    MediaUploadHandler,
    StreamingBodyHandler,
    UploadMixin,
    api,
)

__all__ = ["handlers"]

MAX_PAGE_SIZE = 100
MAX_KNOWN = 1000
MAX_PAGE = 10**9
MAX_K = 100
#: query parameters Jupyter itself reads (token authentication), allowed beside ours
JUPYTER_PARAMS = ("token", "_xsrf")


def _iso(created: float) -> str:
    when = datetime.datetime.fromtimestamp(created, datetime.UTC)
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class CollectionMixin:
    """Query parsing and media rendering shared by the collection routes."""

    def owner_filter(self) -> str | None:
        """The owner whose media the caller sees: None (all) where private files are off."""
        return self.service.required_owner(self.client)

    def params(self, allowed: tuple[str, ...]) -> dict[str, str]:
        """The query parameters, each given at most once, none but `allowed`."""
        out = {}
        for name, values in self.request.query_arguments.items():
            if name in JUPYTER_PARAMS:
                continue
            if name not in allowed:
                raise BadRequest(
                    f"Unknown query parameter {name[:40]!r}: this endpoint takes "
                    f"{', '.join(allowed)}."
                )
            if len(values) > 1:
                raise BadRequest(f"Query parameter {name} is given more than once.")
            out[name] = self.decode_argument(values[0], name=name)
        return out

    @staticmethod
    def whole(params: dict, name: str, default: int, low: int, high: int) -> int:
        raw = params.get(name)
        if raw is None:
            return default
        if not (raw.isascii() and raw.isdigit() and len(raw) <= 10) or not low <= int(raw) <= high:
            span = f"from {low} to {high}" if high < MAX_PAGE else f"of at least {low}"
            raise BadRequest(f"{name} must be a whole number {span}, not {raw[:40]!r}.")
        return int(raw)

    def search_options(self, params: dict) -> tuple[int, str]:
        k = self.whole(params, "k", 10, 1, MAX_K)
        return k, check_on(params.get("on", "content"))

    def media(self, row: dict) -> dict:
        """A catalogue row as the API shows a media."""
        location = self.media_location(row["media_id"])
        return {**row, "created": _iso(row["created"]), "content": self.absolute(location)}

    def page_url(self, params: dict, page: int) -> str:
        query = {**{k: v for k, v in params.items() if k != "page"}, "page": str(page)}
        return self.absolute(self.request.path) + "?" + urlencode(sorted(query.items()))


class MediaListHandler(CollectionMixin, MediaUploadHandler):
    """GET /media: the caller's media in pages (POST /media, the contract's upload, as before)."""

    async def prepare(self):
        if self.request.method != "POST":  # no body to stream: skip the upload's checks (and
            await BaseHandler.prepare(self)  # undeclared methods get their 405)
            return
        await super().prepare()

    @api
    async def get(self):
        params = self.params(("page", "page_size", "ordering", "search"))
        page = self.whole(params, "page", 1, 1, MAX_PAGE)
        page_size = self.whole(params, "page_size", 50, 1, MAX_PAGE_SIZE)
        ordering = params.get("ordering", "-created")
        search = params.get("search") or None
        if search is not None and len(search) > 255:
            raise BadRequest("search is longer than 255 characters (a filename is at most 255).")
        count, rows = self.service.store.catalogue.listing(
            self.owner_filter(), page=page, page_size=page_size, ordering=ordering, search=search
        )
        self.respond({
            "count": count,
            "next": self.page_url(params, page + 1) if page * page_size < count else None,
            "previous": self.page_url(params, page - 1) if page > 1 else None,
            "results": [self.media(r) for r in rows],
        })  # fmt: skip


class LookupHandler(CollectionMixin, BaseHandler):
    """GET /lookup?sha256=|datahash=|iscc=: the caller's media with that checksum or code."""

    @api
    async def get(self):
        params = self.params(LOOKUP_FIELDS)
        if len(params) != 1:
            raise BadRequest("Give exactly one of the query parameters sha256, datahash or iscc.")
        ((name, value),) = params.items()
        rows = self.service.store.catalogue.lookup(name, value, self.owner_filter())
        self.respond({"results": [self.media(r) for r in rows]})


class KnownHandler(CollectionMixin, BaseHandler):
    """POST /known {"sha256": [...], "datahash": [...], "iscc": [...]}: {value: {"known"}}."""

    @api
    async def post(self):
        self.params(())
        body = self.json_body()
        unknown = [k for k in body if k not in LOOKUP_FIELDS]
        if unknown:
            raise BadRequest(
                f"Unknown key {unknown[0][:40]!r}: the body takes sha256, datahash and iscc."
            )
        if not body:
            raise BadRequest("The body names no values: give sha256, datahash or iscc lists.")
        total = 0
        for name, values in body.items():
            if not isinstance(values, list):
                raise BadRequest(f"{name} must be a list of strings.")
            total += len(values)
        if total > MAX_KNOWN:
            raise BadRequest(f"At most {MAX_KNOWN} values in all, not {total}.")
        catalogue, owner = self.service.store.catalogue, self.owner_filter()
        answer = {}
        for name, values in body.items():
            checked = [check_lookup_value(name, v) for v in values]
            found = catalogue.known(name, sorted(set(checked)), owner)
            for sent, value in zip(values, checked, strict=True):
                answer[sent] = {"known": value in found}
        self.respond(answer)


@web.stream_request_body
class SearchHandler(CollectionMixin, UploadMixin, StreamingBodyHandler):
    """GET /search?iscc=: the caller's media nearest to a code. POST /search: nearest to the
    file in the body (X-Upload-Filename as for POST /iscc), processed, not stored."""

    received_body = None  # the body once received, removed once answered

    async def prepare(self):
        if self.request.method != "POST":
            await BaseHandler.prepare(self)
            return
        await super().prepare()

    def check_request(self):
        self.k, self.on = self.search_options(self.params(("k", "on")))
        super().check_request()

    def close_sink(self, sink):
        self.received_body = sink
        return sink.received()

    @api
    async def get(self):
        params = self.params(("iscc", "k", "on"))
        if "iscc" not in params:
            raise BadRequest("Missing query parameter iscc (the ISCC to search by).")
        k, on = self.search_options(params)
        self.answer(params["iscc"], k, on)

    @api
    async def post(self):
        path = await self.committed()
        try:
            result = await self.service.job("iscc_body", str(path), self.filename)
        finally:
            self.received_body.abort()
        self.answer(result["iscc"], self.k, self.on)

    def answer(self, code: str, k: int, on: str) -> None:
        catalogue = self.service.store.catalogue
        matches = catalogue.search(code, k=k, on=on, owner=self.owner_filter())
        self.respond({"query": {"iscc": check_lookup_value("iscc", code)}, "matches": matches})


def handlers() -> list:
    """The routes, mounted before the contract's (their `/media` route is this one's POST)."""
    return [
        (r"api/v1/media", MediaListHandler),
        (r"api/v1/lookup", LookupHandler),
        (r"api/v1/known", KnownHandler),
        (r"api/v1/search", SearchHandler),
    ]
