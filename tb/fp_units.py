"""cocotb testbench of the pipelined floating-point units, with a NumPy scoreboard.

The design is :class:`dcom.tb.fp_designs.FPUnitBench`. Parameters come from the environment
(``dcom.tb.cosim.run_cocotb(env=...)``):

``DCOM_FP_UNIT``
    Unit to check, a key of :data:`dcom.tb.fp_reference.UNITS`.
``DCOM_FP_LATENCY``
    Its pipeline latency in the bench, in cycles (at least 1).
``DCOM_FP_VECTORS``
    Random vectors, besides every pair of special values (default 2000).
``DCOM_FP_SEED``
    Seed of the random vectors (default 1).

One vector enters per clock cycle; a monitor samples the unit's output every cycle and the
scoreboard compares output ``i + latency`` with the reference of vector ``i``, bit for bit
(an expected NaN must be the canonical quiet NaN).
"""

from __future__ import annotations

import os

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ReadOnly, RisingEdge
from cocotb.types import LogicArray

from dcom.tb.fp_reference import UNITS, operand_vectors

CLOCK_NS = 10


async def _sample_every_cycle(clk, signal, samples: list[LogicArray]) -> None:
    """Append the settled value of ``signal`` after every rising edge of ``clk``."""
    while True:
        await RisingEdge(clk)
        await ReadOnly()
        samples.append(signal.value)


@cocotb.test()
async def fp_unit_matches_numpy(dut):
    """Stream special-value pairs and random vectors through one unit; check every result."""
    spec = UNITS[os.environ["DCOM_FP_UNIT"]]
    latency = int(os.environ["DCOM_FP_LATENCY"])
    vectors = int(os.environ.get("DCOM_FP_VECTORS", "2000"))
    seed = int(os.environ.get("DCOM_FP_SEED", "1"))
    assert latency >= 1, "the bench registers every unit"

    operands = operand_vectors(spec, vectors, seed)
    expected = spec.reference(*operands)
    count = len(expected)
    width = spec.in_format.name[2:]
    ports = [getattr(dut, f"{name}{width}") for name in "ab"[:spec.arity]]
    output = getattr(dut, spec.name)

    dut.rst.value = 0
    for name in ("a16", "b16", "a32", "b32"):
        getattr(dut, name).value = 0
    Clock(dut.clk, CLOCK_NS, unit="ns").start()

    samples: list[LogicArray] = []
    await RisingEdge(dut.clk)
    cocotb.start_soon(_sample_every_cycle(dut.clk, output, samples))
    for i in range(count):
        for port, values in zip(ports, operands):
            port.value = int(values[i])
        await RisingEdge(dut.clk)
    for _ in range(latency):
        await RisingEdge(dut.clk)
    await ReadOnly()

    # samples[k] was taken after the edge that followed vector k's first full cycle, so the
    # result of vector i is samples[i + latency - 1].
    results = samples[latency - 1:latency - 1 + count]
    assert len(results) == count, f"monitor took {len(samples)} samples for {count} vectors"
    unresolved = [i for i, v in enumerate(results) if not v.is_resolvable]
    assert not unresolved, f"{spec.output} has X or Z bits for vectors {unresolved[:8]}"
    got = np.array([v.to_unsigned() for v in results], dtype=np.uint64)
    bad = np.flatnonzero(got != expected)
    for i in bad[:10]:
        args = " ".join(f"{int(x[i]):#x}" for x in operands)
        dut._log.error(f"{spec.name}({args}): expected {int(expected[i]):#x}, got {int(got[i]):#x}")
    assert not len(bad), f"{len(bad)} of {count} {spec.name} results wrong"
    dut._log.info(f"{spec.name}: {count} vectors checked, latency {latency}")
