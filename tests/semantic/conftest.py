"""The semantic suite: the test-made models (tests/conftest.py: semantic_model,
no_semantic_model), a stand-in for a missing iscc-sci, and the real Jupyter server of
tests/server_ext for the REST face, whose worker processes see this test's environment."""

import os

import pytest

from tests.server_ext.conftest import api, media_path, port, token  # noqa: F401

ENV_FIXTURES = ("semantic_model", "no_semantic_model", "without_iscc_sci")


@pytest.fixture
def without_iscc_sci(tmp_path, monkeypatch):
    """A PYTHONPATH folder whose `iscc_sci` fails to import, as where the extra is not
    installed: for subprocesses (PYTHONPATH) and for the worker processes of a server started
    after it (spawned workers take this process's sys.path)."""
    shadow = tmp_path / "shadow" / "iscc_sci"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError('No module named iscc_sci')\n")
    path = os.pathsep.join(filter(None, [str(shadow.parent), os.environ.get("PYTHONPATH")]))
    monkeypatch.setenv("PYTHONPATH", path)
    monkeypatch.syspath_prepend(str(shadow.parent))
    return shadow.parent


def _restart_server_workers():
    """End the process's shared worker pool, so that the next server's workers are spawned
    with the environment as it is now (the pool outlives servers in one process)."""
    from iscc_lab.server_ext.app import shared_pool
    from iscc_lab.settings import Settings

    shared_pool(Settings().max_workers).shutdown()


@pytest.fixture
def jp_server_config(media_path, request, monkeypatch):  # noqa: F811
    """tests/server_ext's server config (the extension, `iscc_env` settings), after this test's
    model environment is in place, with worker processes that see it; afterwards the workers
    are ended again, so that no later server inherits the test models."""
    for name in ENV_FIXTURES:
        if name in request.fixturenames:
            request.getfixturevalue(name)
    marker = request.node.get_closest_marker("iscc_env")
    for key, value in (marker.kwargs if marker else {}).items():
        monkeypatch.setenv(key, str(value))
    _restart_server_workers()
    request.addfinalizer(_restart_server_workers)
    return {"ServerApp": {"jpserver_extensions": {"iscc_lab.server_ext": True}}}
