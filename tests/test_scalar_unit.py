"""The scalar unit (FP32 square root and reciprocal) against NumPy.

Amaranth simulation checks every special value and random operands of both operations, the
fixed latency and the start/busy/done handshake. The cocotb testbench (``dcom.tb.scalar_unit``)
streams operations back to back through the Verilog on Verilator and Icarus. The Verilator
harness runs are in tests/test_fp_harness.py.
"""

import numpy as np
import pytest
from amaranth.sim import Simulator

from dcom.config import DcomConfig
from dcom.hw.scalar import RESULT_BITS, ScalarOp, ScalarUnit
from dcom.tb.cosim import HdlDesign, amaranth_emitter, run_cocotb
from dcom.tb.fp_reference import SCALAR_OPS, scalar_operands

#: Random operands per operation in the Amaranth simulation, besides the special values.
RANDOM_VECTORS = 400
# Random operands in the cocotb run, besides the special values: Icarus is far slower.
COCOTB_VECTORS = {"verilator": 4000, "icarus": 200}

BENCH = HdlDesign("scalar_unit", amaranth_emitter(ScalarUnit, "scalar_unit"))


def run_operations(ops: list[ScalarOp], operands: list[int]) -> tuple[list[int], list[int]]:
    """Run one operation after another (each started in the previous one's done cycle).

    Returns
    -------
    tuple of list of int
        The results, and the cycles from each start to its done.
    """
    dut = ScalarUnit()
    results, cycles = [], []

    async def testbench(ctx):
        for op, a in zip(ops, operands):
            ctx.set(dut.op, op)
            ctx.set(dut.a, a)
            ctx.set(dut.start, 1)
            await ctx.tick()
            ctx.set(dut.start, 0)
            count = 1
            while not ctx.get(dut.done):
                assert ctx.get(dut.busy)
                await ctx.tick()
                count += 1
            assert not ctx.get(dut.busy)
            results.append(ctx.get(dut.result))
            cycles.append(count)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(testbench)
    sim.run()
    return results, cycles


def _mismatches(name, operands, expected, got, limit=8) -> str:
    bad = np.flatnonzero(expected != got)
    lines = [f"{name}({int(operands[i]):#010x}) -> expected {int(expected[i]):#010x}, "
             f"got {int(got[i]):#010x}" for i in bad[:limit]]
    return f"{len(bad)} of {len(got)} results wrong:\n" + "\n".join(lines)


@pytest.mark.parametrize("name", list(SCALAR_OPS))
def test_matches_numpy(name):
    """Special values and random operands; an expected NaN must be the canonical one."""
    spec = SCALAR_OPS[name]
    operands = scalar_operands(RANDOM_VECTORS, seed=spec.op.value)
    expected = spec.reference(operands)
    results, cycles = run_operations([spec.op] * len(operands), [int(a) for a in operands])
    got = np.array(results, dtype=np.uint64)
    assert np.array_equal(expected, got), _mismatches(name, operands, expected, got)
    assert set(cycles) == {ScalarUnit.latency}


def test_latency_is_fixed_and_documented():
    # The performance model takes the latency from the configuration.
    assert ScalarUnit.latency == 2 + RESULT_BITS + 1 == DcomConfig().scalar_latency == 29


def test_start_while_busy_is_ignored():
    """A second start during an operation changes neither its result nor its timing."""
    dut = ScalarUnit()
    seen = []

    async def testbench(ctx):
        ctx.set(dut.op, ScalarOp.SQRT)
        ctx.set(dut.a, 0x40800000)  # 4.0
        ctx.set(dut.start, 1)
        await ctx.tick()
        ctx.set(dut.op, ScalarOp.RECIPROCAL)
        ctx.set(dut.a, 0x3F000000)  # 0.5, then start held through the operation
        for cycle in range(1, dut.latency + 2):
            seen.append((cycle, ctx.get(dut.busy), ctx.get(dut.done), ctx.get(dut.result)))
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(testbench)
    sim.run()
    latency = dut.latency
    assert [c for c, _, done, _ in seen if done] == [latency]
    assert [c for c, busy, _, _ in seen if busy] == list(range(1, latency)) + [latency + 1]
    assert seen[latency - 1][3] == 0x40000000  # sqrt(4) = 2


def test_result_holds_until_next_start():
    dut = ScalarUnit()
    held = []

    async def testbench(ctx):
        ctx.set(dut.op, ScalarOp.RECIPROCAL)
        ctx.set(dut.a, 0x40000000)  # 2.0
        ctx.set(dut.start, 1)
        await ctx.tick()
        ctx.set(dut.start, 0)
        ctx.set(dut.a, 0)
        await ctx.tick().repeat(dut.latency - 1)
        for _ in range(5):
            held.append((ctx.get(dut.done), ctx.get(dut.result)))
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(testbench)
    sim.run()
    assert held == [(1, 0x3F000000)] + [(0, 0x3F000000)] * 4


@pytest.mark.cocotb
def test_scalar_unit_cocotb(sim, seed):
    run_cocotb(BENCH, "dcom.tb.scalar_unit", sim, seed=seed, run_name=f"scalar-{sim}", env={
        "DCOM_SCALAR_VECTORS": str(COCOTB_VECTORS[sim]),
        "DCOM_SCALAR_SEED": str(seed),
    })
