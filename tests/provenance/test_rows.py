"""Provenance in batch rows: a `c2pa` column for files with a manifest, `soft_binding` on ask."""

import iscc_samples
import pandas as pd

import iscc_lab
from iscc_lab.batch.rows import to_frame, work
from iscc_lab.provenance import soft_binding


def test_rows_carry_c2pa_and_soft_binding(signer_files, tmp_path, demo_jpg):
    chain, key = signer_files
    signed, result = iscc_lab.sign(demo_jpg, outpath=tmp_path / "signed.jpg", cert=chain, key=key)
    paths = [demo_jpg, signed, tmp_path / "missing.jpg"]
    frame = to_frame([work(p, False, False, None, soft_binding=True) for p in paths])
    assert frame.columns.tolist()[-4:] == ["soft_binding", "c2pa", "thumbnail", "error"]
    assert frame.loc[0, "soft_binding"] == soft_binding(demo_jpg)["value"]
    assert frame.loc[1, "soft_binding"] == soft_binding(signed)["value"]
    assert frame.loc[0, "c2pa"] is None
    assert frame.loc[1, "c2pa"] == result["c2pa"]
    assert pd.isna(frame.loc[2, "soft_binding"]) and "No file" in frame.loc[2, "error"]


def test_no_provenance_columns_unless_present():
    frame = to_frame([work(iscc_samples.IMAGE / "demo.png", False, False, None)])
    assert "soft_binding" not in frame.columns and "c2pa" not in frame.columns


def test_batch_adds_a_soft_binding_column(signer_files, tmp_path, demo_jpg):
    chain, key = signer_files
    signed, result = iscc_lab.sign(demo_jpg, outpath=tmp_path / "signed.jpg", cert=chain, key=key)
    audio = iscc_samples.AUDIO / "demo.mp3"
    frame = iscc_lab.batch([demo_jpg, signed, audio], soft_binding=True, workers=2, progress=False)
    assert frame["soft_binding"].tolist() == [
        soft_binding(p)["value"] for p in (demo_jpg, signed, audio)
    ]
    assert frame.loc[1, "c2pa"]["active_manifest"] == result["c2pa"]["active_manifest"]
    assert "soft_binding" not in iscc_lab.batch([demo_jpg], workers=1, progress=False).columns
