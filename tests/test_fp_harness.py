"""The Verilator harness of the floating-point units: a fixed sample of every unit, and proof
that it fails on a wrong unit.

Each unit's harness (``dcom.tb.fp_exhaustive``) checks 2**24 seeded vectors: uniform bit
patterns and, in turn, every pair of special classes and the relational cases (near-ties,
massive cancellation, alignment boundaries). The scalar unit's square root and reciprocal,
which take 28 clock cycles a vector, check 2**22 seeded vectors (uniform, and every special
class in turn) and every operand within 2**15 of each exponent boundary where they change
regime. The full runs are scripts/fp_exhaustive.sh.
"""

import pytest

from dcom.tb.fp_designs import SCALAR_FAULT_OPERAND, fault_operand
from dcom.tb.fp_exhaustive import main, run_harness
from dcom.tb.fp_reference import SCALAR_OPS, UNITS

SAMPLE = 1 << 24
SCALAR_SAMPLE = 1 << 22
SEED = 20240611
THREADS = 2

#: FP32 magnitudes where a square root or reciprocal changes regime: the smallest subnormal
#: and normal, 2**-128 and 2**-127 (reciprocals overflow below them and are powers of two at
#: them), one, 2**126 and 2**127 (reciprocals subnormal above them), and infinity.
SCALAR_BOUNDARIES = [0x00000000, 0x00200000, 0x00400000, 0x00800000, 0x3F800000, 0x7E800000,
                     0x7F000000, 0x7F800000]
BOUNDARY_REACH = 1 << 15


@pytest.mark.slow
@pytest.mark.parametrize("unit", list(UNITS))
def test_harness_sample(unit):
    result = run_harness(unit, SAMPLE, mode="sample", seed=SEED, threads=THREADS)
    assert result.vectors == SAMPLE
    assert result.passed, "\n".join([result.summary(), *result.shown])


@pytest.mark.slow
@pytest.mark.parametrize("unit", list(SCALAR_OPS))
def test_scalar_harness_sample_and_boundaries(unit):
    result = run_harness(unit, SCALAR_SAMPLE, mode="sample", seed=SEED, threads=THREADS)
    assert result.vectors == SCALAR_SAMPLE
    assert result.passed, "\n".join([result.summary(), *result.shown])
    for sign in (0, 0x80000000):
        for boundary in SCALAR_BOUNDARIES:
            # Operands on both sides of the boundary, within the sign's half of the codes.
            low = max(boundary - BOUNDARY_REACH, 0) | sign
            high = min(boundary + BOUNDARY_REACH, 0x80000000) | sign
            result = run_harness(unit, high - low, mode="exhaustive", start=low,
                                 threads=THREADS)
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


def test_harness_catches_wrong_scalar_unit():
    """The clocked harness reads every lane: one wrong result fails the run and is named."""
    one = SCALAR_FAULT_OPERAND
    for unit, spec in SCALAR_OPS.items():
        result = run_harness(unit, 1 << 10, mode="exhaustive", start=one - (1 << 9), threads=1,
                             fault=True)
        assert result.returncode == 1 and result.mismatches == 1
        expected = int(spec.reference([one])[0])
        assert result.shown == [f"mismatch: vector {one} a=0x{one:08x} "
                                f"expected=0x{expected:08x} got=0x{expected ^ 1:08x}"]
