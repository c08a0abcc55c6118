"""Run every benchmark in turn; each writes its own section of bench/RESULTS.md."""

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent

for script in (
    "bench_batch.py",
    "bench_dask.py",
    "bench_server.py",
    "bench_semantic.py",
    "bench_c2pa.py",
    "bench_collection.py",
    "bench_index_refresh.py",
    "bench_collection_api.py",
    "bench_inventory.py",
):
    print(f"== {script}", flush=True)
    subprocess.run([sys.executable, str(HERE / script), *sys.argv[1:]], check=True)
