"""The authorizer of `iscc-lab serve`: the ISCC API and nothing else of Jupyter's.

A Jupyter server's token opens all of Jupyter: kernels (code execution), contents (the files
under its root), sessions, terminals. A stand-alone API server hands its token to services and
scripts that call the API; with `ApiOnlyAuthorizer` that token reaches every route of the
extension (the `iscc_lab` resource, every action) and is refused elsewhere with Jupyter's own
403. `iscc-lab serve --full-jupyter` leaves Jupyter's default authorizer in place.
"""

from jupyter_server.auth import Authorizer

from iscc_lab.server_ext.handlers import AUTH_RESOURCE

__all__ = ["ApiOnlyAuthorizer"]


class ApiOnlyAuthorizer(Authorizer):
    """Authorizes every action on the ISCC API's resource, and nothing else."""

    def is_authorized(self, handler, user, action: str, resource: str) -> bool:
        return resource == AUTH_RESOURCE
