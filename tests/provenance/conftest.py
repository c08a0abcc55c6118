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
