"""The semantic suite: the test-made models (tests/conftest.py: semantic_model,
no_semantic_model) and the real Jupyter server of tests/server_ext for the REST face."""

from tests.server_ext.conftest import api, jp_server_config, media_path, port, token  # noqa: F401
