# amaranth: UnusedElaboratable=no
"""Amaranth simulation of the floating-point units against NumPy.

Every unit runs combinationally (``stages=0``) and pipelined (``stages=3``, and ``stages=6``,
which fills every cut point of every unit and puts spare registers on the output) on all
pairs of special values and on random operands. A result must match the correctly rounded NumPy value
bit for bit, so an expected NaN must be the canonical quiet NaN.
"""

import numpy as np
import pytest
from amaranth.sim import Simulator

from dcom.config import ConfigError
from dcom.hw.fp import FPAdder, FPConvert, FPMultiplier, leading_zeros
from dcom.tb.fp_reference import UNITS, operand_vectors

RANDOM_VECTORS = 1500


def simulate(dut, output: str, operands: list[np.ndarray]) -> np.ndarray:
    """Stream ``operands`` through ``dut``, one vector per cycle; return its outputs in order."""
    inputs = [getattr(dut, name) for name in "ab"[:len(operands)]]
    out = getattr(dut, output)
    count = len(operands[0])
    got = np.zeros(count, dtype=np.uint64)
    latency = dut.latency

    async def testbench(ctx):
        for i in range(count + latency):
            if i < count:
                for port, values in zip(inputs, operands):
                    ctx.set(port, int(values[i]))
            if latency == 0:
                got[i] = ctx.get(out)
                continue
            await ctx.tick()
            if i >= latency - 1 and i - latency + 1 < count:
                got[i - latency + 1] = ctx.get(out)

    sim = Simulator(dut)
    if latency:
        sim.add_clock(1e-8)
    sim.add_testbench(testbench)
    sim.run()
    return got


def _mismatches(operands, expected, got, limit=8) -> str:
    bad = np.flatnonzero(expected != got)
    lines = [" ".join(f"{int(x[i]):#x}" for x in operands)
             + f" -> expected {int(expected[i]):#x}, got {int(got[i]):#x}" for i in bad[:limit]]
    return f"{len(bad)} of {len(got)} vectors wrong:\n" + "\n".join(lines)


@pytest.mark.parametrize("stages", [0, 3, 6])
@pytest.mark.parametrize("unit", list(UNITS))
def test_unit_matches_numpy(unit, stages):
    spec = UNITS[unit]
    dut = spec.build(stages)
    assert dut.latency == stages
    operands = operand_vectors(spec, RANDOM_VECTORS, seed=stages)
    expected = spec.reference(*operands)
    got = simulate(dut, spec.output, operands)
    assert np.array_equal(expected, got), _mismatches(operands, expected, got)


def test_partially_pipelined_adder():
    """One register on the best cut point of the FP32 adder, none on its output."""
    spec = UNITS["add_fp32"]
    dut = spec.build(1)
    assert dut.register_cuts == (1,)
    operands = operand_vectors(spec, RANDOM_VECTORS, seed=11)
    expected = spec.reference(*operands)
    got = simulate(dut, spec.output, operands)
    assert np.array_equal(expected, got), _mismatches(operands, expected, got)


@pytest.mark.parametrize("unit", list(UNITS))
def test_registers_go_to_cut_points_first(unit):
    for stages in range(6):
        dut = UNITS[unit].build(stages)
        cuts = len(dut.cut_depths) - 1
        assert dut.latency == stages
        assert len(dut.register_cuts) == min(stages, cuts)
        assert len(set(dut.register_cuts)) == len(dut.register_cuts)


@pytest.mark.parametrize("width", [1, 2, 5, 8, 11])
def test_leading_zeros_exhaustive(width):
    from amaranth.hdl import Module, Signal

    m = Module()
    value = Signal(width)
    count = leading_zeros(m, value)

    async def testbench(ctx):
        for x in range(1 << width):
            ctx.set(value, x)
            assert ctx.get(count) == width - x.bit_length(), x

    sim = Simulator(m)
    sim.add_testbench(testbench)
    sim.run()


@pytest.mark.parametrize("make, parameter", [
    (lambda: FPMultiplier("bf16"), "out_format"),
    (lambda: FPMultiplier("fp32", stages=-1), "stages"),
    (lambda: FPAdder("fp64"), "fmt"),
    (lambda: FPAdder("fp16", stages=True), "stages"),
    (lambda: FPConvert("fp16", "fp16"), "out_format"),
    (lambda: FPConvert("fp8", "fp16"), "in_format"),
])
def test_bad_parameters(make, parameter):
    with pytest.raises(ConfigError) as info:
        make()
    assert info.value.parameter == parameter
