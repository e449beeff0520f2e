"""cocotb testbench of the scalar unit (FP32 square root and reciprocal), NumPy scoreboard.

The design is :class:`dcom.hw.scalar.ScalarUnit`. Parameters come from the environment
(``dcom.tb.cosim.run_cocotb(env=...)``):

``DCOM_SCALAR_VECTORS``
    Random operands, besides every special value (default 1000).
``DCOM_SCALAR_SEED``
    Seed of the operands and of the operation order (default 1).

Every operand goes through both operations, in a random order, mostly back to back (the next
start in the done cycle) and sometimes after a few idle cycles. The driver also raises
``start`` with another operation at a random cycle of each one, which the busy unit must
ignore. A monitor records each ``done`` pulse; the scoreboard checks the number of results,
that each came exactly ``latency`` cycles after its start, and its bits against NumPy (an
expected NaN must be the canonical quiet NaN).
"""

from __future__ import annotations

import os

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, ReadOnly, RisingEdge, Timer
from cocotb.utils import get_sim_time

from dcom.hw.scalar import ScalarUnit
from dcom.tb.fp_reference import SCALAR_OPS, scalar_operands

CLOCK_NS = 10


def _cycle() -> int:
    """Index of the current clock cycle; cycle ``k`` begins at the ``k``-th rising edge."""
    return int(get_sim_time("ns")) // CLOCK_NS


async def _edges(clk, count: int) -> None:
    for _ in range(count):
        await RisingEdge(clk)


async def _monitor(dut, done: list[tuple[int, int]]) -> None:
    """Append ``(cycle, result)`` for every ``done`` pulse."""
    while True:
        await RisingEdge(dut.done)
        await ReadOnly()
        assert dut.result.value.is_resolvable, f"result has X or Z bits: {dut.result.value}"
        done.append((_cycle(), dut.result.value.to_unsigned()))


@cocotb.test()
async def scalar_unit_matches_numpy(dut):
    """Both operations on special and random operands; results, count and timing checked."""
    vectors = int(os.environ.get("DCOM_SCALAR_VECTORS", "1000"))
    seed = int(os.environ.get("DCOM_SCALAR_SEED", "1"))
    latency = ScalarUnit.latency
    rng = np.random.default_rng(seed)

    operands = scalar_operands(vectors, seed)
    specs = list(SCALAR_OPS.values())
    # Every operand under both operations, in a random order.
    order = rng.permutation(2 * len(operands))
    which = order % 2
    values = operands[order // 2]
    expected = np.select([which == k for k in range(len(specs))],
                         [spec.reference(values) for spec in specs])
    idle = np.where(rng.random(len(values)) < 0.1, rng.integers(1, 4, len(values)), 0)
    stray = rng.integers(1, latency - 1, len(values))  # edge of the ignored second start

    dut.start.value = 0
    dut.op.value = 0
    dut.a.value = 0
    dut.rst.value = 1
    Clock(dut.clk, CLOCK_NS, unit="ns").start()
    await ClockCycles(dut.clk, 2)
    dut.rst.value = 0
    done: list[tuple[int, int]] = []
    cocotb.start_soon(_monitor(dut, done))

    started = []
    for i in range(len(values)):
        await _edges(dut.clk, int(idle[i]))
        started.append(_cycle())
        dut.op.value = specs[which[i]].op.value
        dut.a.value = int(values[i])
        dut.start.value = 1
        await RisingEdge(dut.clk)
        dut.start.value = 0
        dut.a.value = int(values[i]) ^ 0x80000000
        dut.op.value = 1 - specs[which[i]].op.value
        # Through the operation with one ignored start, to the done cycle.
        await _edges(dut.clk, int(stray[i]) - 1)
        dut.start.value = 1
        await RisingEdge(dut.clk)
        dut.start.value = 0
        await _edges(dut.clk, latency - 1 - int(stray[i]))
        await ReadOnly()
        assert dut.done.value == 1 and dut.busy.value == 0, f"operation {i}: no done in time"
        # Out of the read-only phase; the next start goes in this, the done, cycle.
        await Timer(1, "ns")
    await ClockCycles(dut.clk, 2)

    assert len(done) == len(values), f"{len(done)} done pulses for {len(values)} operations"
    late = [i for i, ((cycle, _), start) in enumerate(zip(done, started))
            if cycle - start != latency]
    assert not late, f"operations {late[:8]} did not take {latency} cycles"
    got = np.array([result for _, result in done], dtype=np.uint64)
    bad = np.flatnonzero(got != expected)
    for i in bad[:10]:
        dut._log.error(f"{specs[which[i]].name}({int(values[i]):#010x}): "
                       f"expected {int(expected[i]):#010x}, got {int(got[i]):#010x}")
    assert not len(bad), f"{len(bad)} of {len(values)} results wrong"
    dut._log.info(f"{len(values)} operations checked, latency {latency}")
