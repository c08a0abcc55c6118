"""Signing copies with the ISCC soft binding, and reading Content Credentials back."""

import hashlib
import io
import json

import c2pa
import iscc_samples
import pytest

import iscc_lab
from iscc_lab.credentials import context, read_store
from iscc_lab.errors import Unprocessable
from iscc_lab.provenance import ManifestRepository, read_c2pa, sign_media, soft_binding
from iscc_lab.settings import Settings
from tests.provenance.certs import SIGNER_NAME


def sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def signed_jpg(signer_files, tmp_path_factory, demo_jpg=iscc_samples.IMAGE / "demo.jpg"):
    chain, key = signer_files
    out = tmp_path_factory.mktemp("signed") / "demo.jpg"
    before = sha(demo_jpg)
    path, result = iscc_lab.sign(demo_jpg, outpath=out, cert=chain, key=key, alg="es256")
    assert sha(demo_jpg) == before  # the original untouched
    return path, result


def active(path):
    store = read_store(path)
    return store, store["manifests"][store["active_manifest"]]


def test_signed_copy_carries_the_soft_binding_and_the_iscc(signed_jpg, demo_jpg):
    path, result = signed_jpg
    store, manifest = active(path)
    assertions = {a["label"]: a["data"] for a in manifest["assertions"]}
    binding = assertions["c2pa.soft-binding"]
    assert binding["alg"] == "io.iscc.v0"
    assert binding["blocks"][0]["value"] == soft_binding(demo_jpg)["value"]
    assert (
        assertions["io.iscc.code"]["iscc"] == iscc_lab.create_iscc(demo_jpg, semantic=False)["iscc"]
    )
    actions = [a["action"] for a in assertions["c2pa.actions.v2"]["actions"]]
    assert actions == ["c2pa.opened", "c2pa.published"]
    assert manifest["ingredients"][0]["relationship"] == "parentOf"
    assert store["validation_state"] == "Valid"
    # the result is the copy's ISCC, with its Content Credentials
    assert result["c2pa"]["active_manifest"] == store["active_manifest"]
    assert result["units"][1] == soft_binding(demo_jpg)["units"][1]  # same Content-Code


def test_c2pa_field_reports_what_c2pa_python_reports(signed_jpg):
    path, _ = signed_jpg
    found = iscc_lab.create_iscc(path)["c2pa"]
    assert found["validation_state"] == "Valid"
    assert found["claim_generator"].startswith("iscc-lab/")
    assert found["title"] == "demo.jpg"
    assert found["signer"]["common_name"] == SIGNER_NAME
    assert "signingCredential.untrusted" in found["failures"]  # a home-made CA


def test_no_manifest_no_c2pa_field(samples):
    for path in samples[18:24]:  # the images
        assert read_c2pa(path) is None
    assert "c2pa" not in iscc_lab.create_iscc(iscc_samples.IMAGE / "demo.png")


def test_damaged_manifest_gives_its_state_never_a_failed_iscc(signed_jpg, tmp_path):
    path, _ = signed_jpg
    data = bytearray(path.read_bytes())
    data[data.find(b"c2pa.signature") + 200] ^= 0xFF  # inside the claim signature
    damaged = tmp_path / "damaged.jpg"
    damaged.write_bytes(bytes(data))
    result = iscc_lab.create_iscc(damaged)
    assert result["iscc"].startswith("ISCC:")
    assert result["c2pa"]["validation_state"] == "Invalid"
    assert "claimSignature.mismatch" in result["c2pa"]["failures"]


def test_no_signer_names_the_setting(demo_jpg, monkeypatch):
    for name in ("ISCC_LAB_SIGN_CERT", "ISCC_LAB_SIGN_KEY"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(Unprocessable, match="ISCC_LAB_SIGN_CERT"):
        iscc_lab.sign(demo_jpg, settings=Settings())


def test_signer_from_settings_and_unsupported_format(signer_env, tmp_path):
    s = Settings()
    assert s.sign_cert == signer_env[0]
    path, result = iscc_lab.sign(
        iscc_samples.AUDIO / "demo.mp3", outpath=tmp_path / "a.mp3", settings=s
    )
    assert result["c2pa"]["validation_state"] == "Valid"
    with pytest.raises(Unprocessable, match="cannot embed a manifest"):
        iscc_lab.sign(iscc_samples.TEXT / "demo.txt", settings=s)


def test_sign_media_keeps_the_manifest_in_the_repository(store, signer_env, demo_jpg):
    store.max_upload_size = 1 << 30
    original = store.put(demo_jpg, content_type="image/jpeg", owner="alice")
    repo = ManifestRepository.for_media(store.root)
    new, result = sign_media(store, original.media_id, "alice", settings=Settings())
    assert new.media_id != original.media_id
    assert sha(store.file(original)) == sha(demo_jpg)
    manifest_id = result["c2pa"]["active_manifest"]
    assert store.read_result(new.media_id, "iscc")["c2pa"]["active_manifest"] == manifest_id
    assert manifest_id in repo and len(repo) == 1
    # the kept store validates against the signed copy, as a sidecar
    kept = repo.store(manifest_id)
    with open(store.file(new), "rb") as f:
        reader = c2pa.Reader("image/jpeg", f, kept, context())
        assert reader.get_validation_state() == "Valid"
        assert json.loads(reader.json())["active_manifest"] == manifest_id
    # persistent: another instance (another process) sees it; upload expiry does not touch it
    store.expire(0, now=new.created + 10)
    assert ManifestRepository.for_media(store.root).store(manifest_id) == kept
    assert repo.info(manifest_id)["media_id"] == new.media_id


def test_repository_match_and_threshold(tmp_path, signed_jpg, demo_jpg):
    from PIL import Image

    path, result = signed_jpg
    repo = ManifestRepository(tmp_path / "r.sqlite")
    manifest_id = result["c2pa"]["active_manifest"]
    repo.add(manifest_id, b"store", soft_binding(demo_jpg))
    audio = soft_binding(iscc_samples.AUDIO / "demo.mp3")
    repo.add("urn:c2pa:other", b"store", audio)
    image = Image.open(path)
    buf = io.BytesIO()
    image.resize((int(image.width * 0.9), int(image.height * 0.9))).save(buf, "JPEG", quality=80)
    stripped = soft_binding(buf.getvalue(), "stripped.jpg")
    matches = repo.match(stripped["units"])
    assert matches[0]["manifestId"] == manifest_id and matches[0]["similarityScore"] >= 75
    assert repo.match(soft_binding(iscc_samples.VIDEO / "demo.mp4")["units"]) == []
    assert repo.match(audio["units"], max_results=1) == [
        {"manifestId": "urn:c2pa:other", "similarityScore": 100}
    ]
    with pytest.raises(ValueError):  # no base64 value: refused before anything is written
        repo.add("urn:c2pa:bad", b"x", {"units": ["ISCC:AAA4RJYGHHVRCZ5T"], "value": ""})
    assert "urn:c2pa:bad" not in repo and len(repo) == 2  # nothing half-written
    repo.delete("urn:c2pa:other")
    assert len(repo) == 1 and repo.match(audio["units"]) == []
    # a change by another instance (another process) is seen by the next match
    ManifestRepository(tmp_path / "r.sqlite").add("urn:c2pa:again", b"store", audio)
    assert repo.match(audio["units"])[0]["manifestId"] == "urn:c2pa:again"


def test_card_says_who_when_what_and_the_iscc(signer_files, tmp_path, demo_jpg):
    from iscc_lab.provenance import manifest_card, manifest_facts

    chain, key = signer_files
    title = "<script>alert(1)</script> Harbour"
    path, result = iscc_lab.sign(
        demo_jpg, outpath=tmp_path / "c.jpg", title=title, cert=chain, key=key
    )
    store = read_store(path)
    facts = manifest_facts(store)
    assert facts["signer"] == SIGNER_NAME and facts["when"].endswith("Z")
    assert facts["actions"] == ["c2pa.opened", "c2pa.published"]
    assert facts["iscc"] == iscc_lab.create_iscc(demo_jpg, semantic=False)["iscc"]
    html = manifest_card(store)
    assert "<script>" not in html and "&lt;script&gt;" in html and facts["iscc"] in html
