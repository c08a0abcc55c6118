"""A warm worker takes its parent's ISCC_* environment with every job, as the parent has it when
it sends the job: a model folder set (or unset) after the pool started is what the work sees."""

import os

from iscc_lab.pool import Pool


def environ_value(name: str):
    return os.environ.get(name)


def test_a_warm_worker_sees_the_parent_environment_of_each_job(monkeypatch):
    monkeypatch.delenv("ISCC_SCT_MODEL_DIR", raising=False)
    pool = Pool(1, job_timeout=60, job_memory=0)
    try:
        assert pool.submit(environ_value, "ISCC_SCT_MODEL_DIR").result(60) is None
        monkeypatch.setenv("ISCC_SCT_MODEL_DIR", "/models/text")
        assert pool.submit(environ_value, "ISCC_SCT_MODEL_DIR").result(60) == "/models/text"
        monkeypatch.delenv("ISCC_SCT_MODEL_DIR")
        assert pool.submit(environ_value, "ISCC_SCT_MODEL_DIR").result(60) is None
        monkeypatch.setenv("OTHER_VARIABLE", "x")  # only ISCC_* travels with a job
        assert pool.submit(environ_value, "OTHER_VARIABLE").result(60) is None
    finally:
        pool.shutdown()
