"""One small exception hierarchy. Each error carries a message fit to show a user and the
HTTP status the REST face answers with."""

__all__ = ["IsccLabError", "BadRequest", "Forbidden", "NotFound", "Unprocessable", "ToolMissing"]


class IsccLabError(Exception):
    """Base of every error iscc-lab raises on purpose."""

    status = 500

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class BadRequest(IsccLabError, ValueError):
    """The input is malformed: a bad code, filename, body or parameter (HTTP 400)."""

    status = 400


class Forbidden(IsccLabError, PermissionError):
    """The media belongs to someone else (HTTP 403)."""

    status = 403


class NotFound(IsccLabError, LookupError):
    """No such media, or it has expired (HTTP 404)."""

    status = 404


class Unprocessable(IsccLabError):
    """The input is well-formed but could not be processed (HTTP 422)."""

    status = 422


class ToolMissing(Unprocessable):
    """A tool or model that the work needs is not installed; the message says how to get it."""
