"""The Verilator harness of the floating-point units: a fixed sample of every unit, and proof
that it fails on a wrong unit.

Each unit's harness (``dcom.tb.fp_exhaustive``) checks 2**24 seeded vectors: uniform bit
patterns and, in turn, every pair of special classes and the relational cases (near-ties,
massive cancellation, alignment boundaries). The full runs are scripts/fp_exhaustive.sh.
"""

import pytest

from dcom.tb.fp_designs import fault_operand
from dcom.tb.fp_exhaustive import main, run_harness
from dcom.tb.fp_reference import UNITS

SAMPLE = 1 << 24
SEED = 20240611
THREADS = 2


@pytest.mark.slow
@pytest.mark.parametrize("unit", list(UNITS))
def test_harness_sample(unit):
    result = run_harness(unit, SAMPLE, mode="sample", seed=SEED, threads=THREADS)
    assert result.vectors == SAMPLE
    assert result.passed, "\n".join([result.summary(), *result.shown])


def test_harness_widen_exhaustive(capsys):
    assert main(["widen", "--threads", "1"]) == 0
    out = capsys.readouterr().out
    assert "widen: exhaustive 65536 vectors" in out and "0 mismatches" in out


def test_harness_catches_wrong_unit(capsys):
    """A unit wrong on exactly one input makes the run fail and names that input."""
    spec = UNITS["widen"]
    one = fault_operand(spec)
    result = run_harness("widen", 1 << 16, mode="exhaustive", threads=1, fault=True)
    assert result.returncode == 1 and result.mismatches == 1
    expected = int(spec.reference([one])[0])
    assert result.shown == [f"mismatch: vector {one} a=0x{one:08x} expected=0x{expected:08x} "
                            f"got=0x{expected ^ 1:08x}"]
    assert main(["widen", "--inject-fault", "--threads", "1"]) == 1
    assert "1 mismatches" in capsys.readouterr().out
