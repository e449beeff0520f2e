"""cocotb testbench of the systolic array (``dcom.hw.systolic``) against its NumPy model.

The array's parameters arrive as JSON in ``DCOM_SYSTOLIC``. The bench computes ``y = A x``
with ``A`` spread over several weight tiles (double-buffered, loads overlapping waves as
:func:`~dcom.sw.systolicmodel.matrix_vector_schedule` allows), writes the results back, and
checks the accumulators after every drained product and the written words, bit for bit.
"""

from __future__ import annotations

import json
import os

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge, ReadOnly, RisingEdge

from dcom.hw.systolic import encode_systolic_command, systolic_command_layout
from dcom.sw.fparith import from_bits, multiply, round_to, to_bits
from dcom.sw.systolicmodel import (SystolicModel, TileProduct, matrix_vector_schedule,
                                   matrix_vector_tiles, systolic_latency)
from dcom.tb.cluster import random_words

__all__ = ["SystolicBench"]


class SystolicBench:
    """Drives a systolic array and its model with the same commands."""

    def __init__(self, dut, params: dict):
        self.dut = dut
        self.rows, self.cols = params["rows"], params["cols"]
        self.lanes = max(self.rows, self.cols)
        self.acc_format = params.get("acc_format", "fp32")
        self.model = SystolicModel(self.rows, self.cols, params["buffer_depth"],
                                   self.acc_format)
        self.layout = systolic_command_layout(self.rows, self.cols, params["buffer_depth"])
        self.mul_stages = params.get("mul_stages", 1)
        self.latency = systolic_latency(self.rows, self.cols, self.mul_stages)

    async def start(self) -> None:
        cocotb.start_soon(Clock(self.dut.clk, 10, unit="ns").start())
        for name in ("cmd__valid", "fill__valid", "read__valid"):
            getattr(self.dut, name).value = 0
        self.dut.rst.value = 1
        await ClockCycles(self.dut.clk, 2)
        self.dut.rst.value = 0
        await FallingEdge(self.dut.clk)

    async def fill(self, addr: int, word: np.ndarray) -> None:
        dut = self.dut
        dut.fill__addr.value = addr
        dut.fill__data.value = sum(int(w) << (16 * k) for k, w in enumerate(word))
        dut.fill__lanes.value = (1 << self.lanes) - 1
        dut.fill__valid.value = 1
        await ReadOnly()
        assert int(dut.fill__ready.value) == 1, "fill refused while idle"
        self.model.fill(addr, word)
        await FallingEdge(dut.clk)
        dut.fill__valid.value = 0

    async def run(self, commands) -> None:
        """Issue ``commands`` (None: an idle cycle), then wait until the array is idle."""
        dut = self.dut
        for cmd in commands:
            if cmd is None:
                dut.cmd__valid.value = 0
            else:
                dut.cmd__payload.value = encode_systolic_command(self.layout, cmd)
                dut.cmd__valid.value = 1
                self.model.execute(cmd)
            await FallingEdge(dut.clk)
        dut.cmd__valid.value = 0
        await ClockCycles(dut.clk, self.latency)
        await ReadOnly()
        assert int(dut.idle.value) == 1, f"not idle {self.latency} cycles after the last command"
        self.check_accumulators()
        await FallingEdge(dut.clk)

    def check_accumulators(self) -> None:
        width = 32 if self.acc_format == "fp32" else 16
        value = int(self.dut.acc.value)
        got = [(value >> (width * j)) & ((1 << width) - 1) for j in range(self.cols)]
        want = [int(b) for b in to_bits(self.model.acc)]
        assert got == want, f"accumulators: RTL {[hex(g) for g in got]}, " \
                            f"model {[hex(w) for w in want]}"

    async def read(self, addr: int) -> np.ndarray:
        dut = self.dut
        dut.read__addr.value = addr
        dut.read__valid.value = 1
        await RisingEdge(dut.clk)
        dut.read__valid.value = 0
        await ReadOnly()
        assert int(dut.read__resp_valid.value) == 1, "read response missing"
        value = int(dut.read__data.value)
        await FallingEdge(dut.clk)
        return np.array([(value >> (16 * k)) & 0xFFFF for k in range(self.lanes)], np.uint16)


async def _bench(dut) -> tuple[SystolicBench, np.random.Generator]:
    bench = SystolicBench(dut, json.loads(os.environ["DCOM_SYSTOLIC"]))
    await bench.start()
    return bench, np.random.default_rng(cocotb.RANDOM_SEED)


@cocotb.test()
async def matrix_vector_product(dut):
    """``y = A x`` over several tiles against NumPy in the array's accumulation order."""
    bench, rng = await _bench(dut)
    rows, cols = bench.rows, bench.cols
    a = random_words(rng, 2 * cols, 2 * rows, special_rate=0.0)
    x = random_words(rng, 1, 2 * rows, special_rate=0.0)[0]
    words, products, x_addrs, y_addrs = matrix_vector_tiles(a, rows, cols)
    for addr, word in words.items():
        await bench.fill(addr, word)
    for k, addr in enumerate(x_addrs):
        word = np.zeros(bench.lanes, np.uint16)
        word[:rows] = x[k * rows:(k + 1) * rows]
        await bench.fill(addr, word)
    await bench.run(matrix_vector_schedule(products, rows, cols, bench.mul_stages))

    # Independently of the model: chain each output's products in the array's order.
    products_fp = multiply(from_bits(a, "fp16"), from_bits(x, "fp16")[None, :],
                           bench.acc_format)
    for bj, addr in enumerate(y_addrs):
        got = await bench.read(addr)
        want = []
        for j in range(cols):
            total = np.zeros((), products_fp.dtype)
            for bi in range(2):
                column = np.zeros((), products_fp.dtype)
                for i in range(rows):
                    column = column + products_fp[bj * cols + j, bi * rows + i]
                total = total + column
            want.append(int(to_bits(round_to(np.asarray(total), "fp16"))))
        assert list(got[:cols]) == want, f"y word {bj}: RTL {list(got[:cols])}, NumPy {want}"


@cocotb.test()
async def specials_and_hold(dut):
    """Special values in weights and vectors; HOLD leaves the accumulators alone."""
    bench, rng = await _bench(dut)
    rows, cols = bench.rows, bench.cols
    a = random_words(rng, cols, rows, special_rate=0.3)
    x = random_words(rng, 1, rows, special_rate=0.3)[0]
    words, products, x_addrs, _ = matrix_vector_tiles(a, rows, cols)
    for addr, word in words.items():
        await bench.fill(addr, word)
    word = np.zeros(bench.lanes, np.uint16)
    word[:rows] = x
    await bench.fill(x_addrs[0], word)
    await bench.run(matrix_vector_schedule(products, rows, cols, bench.mul_stages))
    hold = [TileProduct(products[0].w_addrs, x_addrs[0], "HOLD")]
    await bench.run(matrix_vector_schedule(hold, rows, cols, bench.mul_stages))
