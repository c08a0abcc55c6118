"""Access goes through Jupyter's own authorizer (`@web.authenticated` and `@authorized` on the
`iscc_lab` resource): a server whose authorizer allows only reads of iscc_lab serves GETs and
refuses every write, streamed bodies before they are stored."""

import pytest
from jupyter_server.auth import Authorizer

from iscc_lab.server_ext.handlers import AUTH_RESOURCE
from tests.server_ext.conftest import upload

EXPLAIN = "ISCC:KMDMRJYGHHVRCZ5TM6U4G6D4MXA6LAXC4ZRPOKFU7JBEQXR2BJOS6NA"
ASKED = []


class ReadOnlyIsccLab(Authorizer):
    """Reads of iscc_lab only (everything else of Jupyter as usual)."""

    def is_authorized(self, handler, user, action, resource):
        if resource == AUTH_RESOURCE:
            ASKED.append((action, handler.request.method))
            return action == "read"
        return True


@pytest.fixture
def jp_server_config(media_path):
    return {
        "ServerApp": {
            "jpserver_extensions": {"iscc_lab.server_ext": True},
            "authorizer_class": ReadOnlyIsccLab,
        }
    }


async def test_jupyters_authorizer_decides(api, media_path):
    ASKED.clear()
    assert (await api("GET", "explain", EXPLAIN)).status == 200
    for route in ("media", "iscc"):
        r = await upload(api, b"some bytes", "a.txt", route=route)
        assert r.status == 403 and "not authorized to write" in r.text, r.text
    r = await api("POST", "simprint", body=b'{"text": "a text"}')
    assert r.status == 403
    assert not media_path.exists() or not [p for p in media_path.iterdir() if p.name[0] != "."]
    assert ("read", "GET") in ASKED and ASKED.count(("write", "POST")) == 3
