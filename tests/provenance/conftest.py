import pytest

from tests.provenance.certs import make_signer


@pytest.fixture(scope="session")
def signer_files(tmp_path_factory):
    """(chain.pem, key.pem) of a home-made CA's end-entity certificate (ES256)."""
    return make_signer(tmp_path_factory.mktemp("signer"))


@pytest.fixture
def signer_env(signer_files, monkeypatch):
    chain, key = signer_files
    monkeypatch.setenv("ISCC_LAB_SIGN_CERT", str(chain))
    monkeypatch.setenv("ISCC_LAB_SIGN_KEY", str(key))
    monkeypatch.setenv("ISCC_LAB_SIGN_ALG", "es256")
    return chain, key


@pytest.fixture
def media_path(tmp_path, monkeypatch):
    path = tmp_path / "media"
    monkeypatch.setenv("ISCC_WEB_MEDIA_PATH", str(path))
    return path


@pytest.fixture
def jp_server_config(media_path, signer_files, request, monkeypatch):
    """The extension with a signer (ISCC_LAB_SIGN_*), unless `@pytest.mark.no_signer`."""
    for name in ("ISCC_LAB_SIGN_CERT", "ISCC_LAB_SIGN_KEY", "ISCC_LAB_SIGN_TSA_URL"):
        monkeypatch.delenv(name, raising=False)
    config = {"ServerApp": {"jpserver_extensions": {"iscc_lab.server_ext": True}}}
    if request.node.get_closest_marker("signer_options"):  # as Jupyter config, not variables
        config["IsccLabApp"] = {"sign_cert": str(signer_files[0]), "sign_key": str(signer_files[1])}
    elif request.node.get_closest_marker("no_signer") is None:
        monkeypatch.setenv("ISCC_LAB_SIGN_CERT", str(signer_files[0]))
        monkeypatch.setenv("ISCC_LAB_SIGN_KEY", str(signer_files[1]))
    return config


def pytest_configure(config):
    config.addinivalue_line("markers", "no_signer: start the server without ISCC_LAB_SIGN_*")
    config.addinivalue_line("markers", "signer_options: the signer as IsccLabApp options only")
