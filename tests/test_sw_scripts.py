"""The golden-model scripts in scripts/ run and print what their docs quote (small sizes)."""

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"


@pytest.mark.parametrize("script,args,expected", [
    ("bench_golden.py", ["--size", "256", "--check"], "golden model time:"),
    ("accuracy_table.py", ["--size", "128"], "| activation /16, 3% channels x100 |"),
    ("example_decompose.py", ["--batch", "2", "--seq", "64", "--hidden", "128", "--rank", "4"],
     "outlier extraction"),
])
def test_script_runs(script, args, expected):
    done = subprocess.run([sys.executable, str(SCRIPTS / script), *args], capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert expected in done.stdout
