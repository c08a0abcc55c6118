"""`iscc-lab models install` and `iscc-lab check`.

The published models cannot be had here, so the success path of `models install` patches only
the published checksum that iscc-sct (or iscc-sci) states, `MODEL_CHECKSUM`, to the test model's:
everything else (hashing the file, the refusal, the atomic copy into the folder where the
package and iscc-lab look) runs as it would with the real file."""

import os
import subprocess
import sys

import pytest

from iscc_lab import cli, create_iscc, semantic
from tests.semantic.helpers import SHORT, semantic_unit

CHECK = [sys.executable, "-m", "iscc_lab.cli", "check"]


def test_install_refuses_a_wrong_file_and_copies_nothing(tmp_path, monkeypatch, capsys):
    target_dir = tmp_path / "models"
    monkeypatch.setenv("ISCC_SCT_MODEL_DIR", str(target_dir))
    wrong = tmp_path / "iscc-sct-v0.2.0.onnx"
    wrong.write_bytes(b"not a model, but named like one\n" * 1000)

    assert cli.main(["models", "install", str(wrong)]) == 1
    err = capsys.readouterr().err
    assert semantic.blake3_file(wrong) in err  # the checksum it has
    assert "d4f763474f9be35ce5358637c87935ee11ba396b9196f73b95ab97da0cef8749" in err  # expected
    assert "Nothing was installed" in err
    assert not target_dir.exists() or list(target_dir.iterdir()) == []

    monkeypatch.setenv("ISCC_SCI_MODEL_DIR", str(target_dir))
    assert cli.main(["models", "install", str(wrong), "--kind", "image"]) == 1
    assert "9f24dd3d0440eaa07adf121b21a1cbd8518fe36048b9d8a72b606d8a6416e8a3" in (
        capsys.readouterr().err
    )
    assert not target_dir.exists() or list(target_dir.iterdir()) == []
    assert cli.main(["models", "install", str(tmp_path / "nothing.onnx")]) == 1
    assert "No file at" in capsys.readouterr().err


def test_published_checksums_are_the_packages():
    import iscc_sci.utils
    import iscc_sct.utils

    assert semantic.published_checksum("text") == iscc_sct.utils.MODEL_CHECKSUM
    assert semantic.published_checksum("image") == iscc_sci.utils.MODEL_CHECKSUM
    assert semantic.KINDS["text"].checksum == iscc_sct.utils.MODEL_CHECKSUM
    assert semantic.KINDS["image"].checksum == iscc_sci.utils.MODEL_CHECKSUM
    assert semantic.model_path("text").name == iscc_sct.utils.MODEL_FILENAME
    assert semantic.model_path("image").name == iscc_sci.utils.MODEL_FILENAME


@pytest.mark.parametrize("kind", ["text", "image"])
def test_install_puts_a_matching_file_where_it_is_found(
    kind, semantic_model_files, tmp_path, monkeypatch, capsys
):
    import iscc_sci.utils
    import iscc_sct.utils

    source = getattr(semantic_model_files, kind)
    utils = iscc_sct.utils if kind == "text" else iscc_sci.utils
    monkeypatch.setattr(utils, "MODEL_CHECKSUM", semantic.blake3_file(source))
    env = semantic.KINDS[kind].env
    monkeypatch.setenv(env, str(tmp_path / "models"))
    monkeypatch.setenv(
        "ISCC_SCT_MODEL_DIR" if kind == "image" else "ISCC_SCI_MODEL_DIR",
        str(
            semantic_model_files.image.parent
            if kind == "text"
            else semantic_model_files.text.parent
        ),
    )
    brought = tmp_path / "downloads" / "model.onnx"  # any name: it lands under the package's
    brought.parent.mkdir()
    brought.write_bytes(source.read_bytes())

    assert cli.main(["models", "install", str(brought), "--kind", kind]) == 0
    out = capsys.readouterr().out
    target = semantic.model_path(kind)
    assert target.parent == tmp_path / "models" and target.read_bytes() == source.read_bytes()
    assert str(target) in out and env in out
    assert [p.name for p in target.parent.iterdir()] == [target.name]  # no partial file left
    assert semantic.model_available(kind)
    # found there: the semantic unit from the installed model
    data = (SHORT * 5).encode()
    result = (
        create_iscc(data, "a.txt", semantic=True)
        if kind == "text"
        else create_iscc(__import__("iscc_samples").IMAGE / "demo.jpg", semantic=True)
    )
    assert semantic_unit(result)
    # installing again replaces it in place
    assert cli.main(["models", "install", str(brought), "--kind", kind]) == 0
    assert [p.name for p in target.parent.iterdir()] == [target.name]


def run_check(*args, env=None):
    return subprocess.run(
        [*CHECK, *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


def test_check_lists_versions_tools_and_models(semantic_model):
    proc = run_check()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    from importlib.metadata import version

    for package in ("iscc-sdk", "iscc-lib", "iscc-core", "iscc-sct", "iscc-sci", "c2pa-python"):
        assert f"{package} " in out and version(package) in out, package
    for tool in ("ffmpeg", "ffprobe", "fpcalc"):
        line = next(ln for ln in out.splitlines() if ln.strip().startswith(tool + " "))
        assert " ok " in line and cli.tool_version(line.split()[-1]) in line
    assert cli.tool_version("/usr/bin/fpcalc")[0].isdigit()
    text = next(ln for ln in out.splitlines() if ln.strip().startswith("text "))
    # the test model is there, but it is not the published one
    assert "differs" in text and str(semantic_model.text) in text
    assert semantic.blake3_file(semantic_model.text) in text
    assert "not the published model" in out
    # a model that must be there and is not the published one fails the check
    assert run_check("--require-semantic", "text").returncode == 1


def test_check_says_how_to_fix_what_is_missing(no_semantic_model, tmp_path):
    proc = run_check(
        env={
            "ISCC_LAB_FFMPEG": str(tmp_path / "no-ffmpeg"),
            "PATH": os.path.dirname(sys.executable),
        }
    )
    assert proc.returncode == 1  # a tool is required
    out = proc.stdout
    assert "ffmpeg   MISSING" in out and "fix: ffmpeg is not installed" in out
    assert "fpcalc   MISSING" in out and "libchromaprint-tools" in out
    assert "iscc-lab models install iscc-sct-v0.2.0.onnx --kind text" in out
    assert "iscc-lab models install iscc-sci-v0.1.0-w16.onnx --kind image" in out
    proc = run_check()
    assert proc.returncode == 0  # the models are optional
    assert "absent" in proc.stdout
    proc = run_check("--require-semantic", "image")
    assert proc.returncode == 1 and "image model is not ready" in proc.stderr


def test_check_names_a_missing_iscc_sci(without_iscc_sci):
    proc = run_check()
    assert proc.returncode == 0
    assert "iscc-sci not installed" in proc.stdout
    assert "pip install 'iscc-lab[semantic-image]'" in proc.stdout


def test_models_list(semantic_model, capsys):
    assert cli.main(["models", "list"]) == 0
    out = capsys.readouterr().out
    assert str(semantic_model.text) in out and str(semantic_model.image) in out
    assert out.count("differs") == 2  # test models, not the published ones
