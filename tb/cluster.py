"""cocotb testbench of the D-com cluster, scored bit for bit against ``dcom.sw.clustermodel``.

The configuration arrives as JSON in ``DCOM_CONFIG``. Every cycle the bench retires the
commands due in the golden model and compares one accumulator set (each in turn, through the
``acc_read`` port) and ``idle`` with the RTL, so a wrong value or a wrong latency fails within
``acc_sets`` cycles of the cycle it appears.
"""

from __future__ import annotations

import json
import os

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge, ReadOnly, RisingEdge

from dcom.config import DcomConfig
from dcom.hw.cluster import Cluster, encode_command
from dcom.sw.clustermodel import ACC_MODES, BROADCASTS, OPS, ClusterCommand, ClusterModel

#: FP16 bit patterns of the special classes: signed zeros, smallest and largest subnormals,
#: smallest and largest normals, one, infinities, quiet and signalling NaNs.
SPECIAL_FP16 = np.array([0x0000, 0x8000, 0x0001, 0x8001, 0x03FF, 0x83FF, 0x0400, 0x8400,
                         0x7BFF, 0xFBFF, 0x3C00, 0xBC00, 0x7C00, 0xFC00, 0x7E00, 0x7D01,
                         0xFE00], dtype=np.uint16)


def config_from_env() -> DcomConfig:
    return DcomConfig.from_dict(json.loads(os.environ["DCOM_CONFIG"]))


def random_words(rng: np.random.Generator, count: int, lanes: int, special_rate: float,
                 scale: float = 4.0) -> np.ndarray:
    """``count x lanes`` FP16 bit patterns: normal-distributed values with specials mixed in."""
    values = rng.normal(0.0, scale, size=(count, lanes)).astype(np.float16).view(np.uint16)
    special = rng.random((count, lanes)) < special_rate
    values[special] = rng.choice(SPECIAL_FP16, size=int(special.sum()))
    return values


def _random_mask(rng: np.random.Generator, bits: int) -> int:
    return sum(int(bit) << k for k, bit in enumerate(rng.integers(0, 2, size=bits)))


def _fields(value: int, width: int, count: int) -> np.ndarray:
    mask = (1 << width) - 1
    return np.array([(value >> (k * width)) & mask for k in range(count)], dtype=np.uint64)


class ClusterBench:
    """Drives a cluster and checks it against :class:`ClusterModel` every cycle."""

    def __init__(self, dut, config: DcomConfig):
        self.dut = dut
        self.config = config
        self.model = ClusterModel(config)
        cluster = Cluster(config)
        self.latency, self.write_latency = cluster.latency, cluster.write_latency
        self.lanes = config.macs_per_cluster
        # (due edge, command) in issue order: the model executes them in that order, each once
        # it and all before it are due, since an RTL command reads its operands when it
        # issues (a write-back issued later may land earlier).
        self.pending: list[tuple[int, ClusterCommand]] = []
        self.edge = 0
        self.write_edges: dict[int, int] = {}
        self.update_edges: dict[tuple[int, str], int] = {}        # (set, path) -> issue edge
        self.retired = 0

    async def start(self) -> None:
        cocotb.start_soon(Clock(self.dut.clk, 10, unit="ns").start())
        dut = self.dut
        for name in ("cmd__valid", "fill__valid", "read__valid"):
            getattr(dut, name).value = 0
        dut.acc_read.value = 1 % self.config.acc_sets
        dut.rst.value = 1
        await ClockCycles(dut.clk, 2)
        dut.rst.value = 0
        await FallingEdge(dut.clk)

    async def step(self) -> None:
        """Advance one clock edge, retire what is due in the model and compare."""
        await RisingEdge(self.dut.clk)
        self.edge += 1
        while self.pending and self.pending[0][0] <= self.edge:
            _, cmd = self.pending.pop(0)
            self.model.execute(cmd)
            self.retired += 1
        await ReadOnly()
        self.compare(self.edge % self.config.acc_sets)
        await FallingEdge(self.dut.clk)
        self.dut.acc_read.value = (self.edge + 1) % self.config.acc_sets

    def compare(self, acc_set: int) -> None:
        dut, config = self.dut, self.config
        width = config.acc.width
        rows = _fields(int(dut.row_acc.value), width, config.grid_rows)
        cols = _fields(int(dut.col_acc.value), width, config.grid_cols)
        want_rows, want_cols = self.model.accumulator_bits(acc_set)
        where = f"set {acc_set} after edge {self.edge} ({self.retired} commands retired)"
        assert np.array_equal(rows, want_rows.astype(np.uint64)), \
            f"row accumulators of {where}: RTL {[hex(v) for v in rows]}, " \
            f"model {[hex(v) for v in want_rows]}"
        assert np.array_equal(cols, want_cols.astype(np.uint64)), \
            f"column accumulators of {where}: RTL {[hex(v) for v in cols]}, " \
            f"model {[hex(v) for v in want_cols]}"
        assert int(dut.idle.value) == (not self.pending), f"idle wrong {where}"

    def hazard_free(self, cmd: ClusterCommand) -> bool:
        """Whether ``cmd`` may issue at the next edge: it reads no buffer word still being
        written, and no accumulators updated less than ``acc_latency`` cycles before."""
        issue = self.edge + 1
        words = all(self.write_edges.get(addr, -1) < issue for addr in cmd.reads())
        settled = issue - self.config.acc_latency
        accs = all(self.update_edges.get((cmd.acc_set, path), settled) <= settled
                   for path in cmd.reads_accumulators())
        return words and accs

    async def issue(self, cmd: ClusterCommand) -> None:
        assert self.hazard_free(cmd), f"bench bug: {cmd} breaks a timing rule"
        dut = self.dut
        dut.cmd__payload.value = encode_command(self.config, cmd)
        dut.cmd__valid.value = 1
        writes = cmd.writes() is not None
        retire = self.edge + 1 + (self.write_latency if writes else self.latency)
        self.pending.append((retire, cmd))
        if writes:
            self.write_edges[cmd.writes()] = retire
        for path in cmd.updates_accumulators():
            self.update_edges[(cmd.acc_set, path)] = self.edge + 1
        await self.step()
        dut.cmd__valid.value = 0

    async def issue_when_safe(self, cmd: ClusterCommand) -> None:
        while not self.hazard_free(cmd):
            await self.step()
        await self.issue(cmd)

    async def drain(self) -> None:
        while self.pending:
            await self.step()
        for _ in range(self.config.acc_sets):     # every set once more
            await self.step()

    async def fill(self, addr: int, words: np.ndarray, lanes: int | None = None) -> None:
        """Host write; only while idle, so that no command in flight reads the word."""
        assert not self.pending, "bench bug: fill while commands are in flight"
        dut = self.dut
        lanes = (1 << self.lanes) - 1 if lanes is None else lanes
        dut.fill__addr.value = addr
        dut.fill__data.value = sum(int(w) << (16 * k) for k, w in enumerate(words))
        dut.fill__lanes.value = lanes
        dut.fill__valid.value = 1
        await ReadOnly()
        assert int(dut.fill__ready.value) == 1, "fill refused while idle"
        self.model.fill(addr, words, lanes)
        await self.step()
        dut.fill__valid.value = 0

    async def read(self, addr: int) -> np.ndarray:
        dut = self.dut
        dut.read__addr.value = addr
        dut.read__valid.value = 1
        await self.step()
        dut.read__valid.value = 0
        await ReadOnly()
        assert int(dut.read__resp_valid.value) == 1, "read response missing"
        word = _fields(int(dut.read__data.value), 16, self.lanes).astype(np.uint16)
        await FallingEdge(dut.clk)
        return word

    async def check_buffer(self, addrs) -> None:
        for addr in addrs:
            got = await self.read(addr)
            want = self.model.buffer[addr]
            assert np.array_equal(got, want), \
                f"buffer word {addr}: RTL {[hex(v) for v in got]}, model {[hex(v) for v in want]}"


async def _bench(dut) -> tuple[ClusterBench, np.random.Generator]:
    config = config_from_env()
    bench = ClusterBench(dut, config)
    await bench.start()
    return bench, np.random.default_rng(cocotb.RANDOM_SEED)


async def _load(bench: ClusterBench, rng, count: int, special_rate: float) -> None:
    for addr, word in enumerate(random_words(rng, count, bench.lanes, special_rate)):
        await bench.fill(addr, word)


@cocotb.test()
async def matrix_vector_both_paths(dut):
    """``A @ x`` on the row trees and ``A.T @ y`` on the column trees, accumulated over tiles."""
    bench, rng = await _bench(dut)
    tiles = min(8, bench.config.buffer_depth // 2)
    await _load(bench, rng, 2 * tiles, special_rate=0.0)
    sets = bench.config.acc_sets
    for broadcast in ("ROW", "COL"):
        # Two sums interleaved tile by tile, in sets of their own, as the sequencer does it.
        for t in range(tiles):
            for k in range(2):
                mode = "RESTART" if t == 0 else "ACCUMULATE"
                await bench.issue_when_safe(ClusterCommand(
                    "MULTIPLY", broadcast, row_acc=mode, col_acc=mode, acc_set=k % sets,
                    a_addr=(t + k) % tiles, b_addr=tiles + t))
        await bench.drain()


@cocotb.test()
async def elementwise_scalar_and_specials(dut):
    """Elementwise products (dot products of words) and scalar broadcast, with special values."""
    bench, rng = await _bench(dut)
    words = min(16, bench.config.buffer_depth)
    await _load(bench, rng, words, special_rate=0.2)
    for n in range(40):
        broadcast = ("ELEMENT", "SCALAR", "ROW", "COL")[n % 4]
        cmd = ClusterCommand("MULTIPLY", broadcast, negate=bool(rng.integers(2)),
                             row_acc=ACC_MODES[rng.integers(3)], col_acc=ACC_MODES[rng.integers(3)],
                             lane=int(rng.integers(bench.lanes)),
                             acc_set=int(rng.integers(bench.config.acc_sets)),
                             a_addr=int(rng.integers(words)), b_addr=int(rng.integers(words)))
        await bench.issue_when_safe(cmd)
    await bench.drain()


@cocotb.test()
async def multiply_subtract_update(dut):
    """``w - c * v`` as the reorthogonalization does it: preload w, add the negated products,
    write the result back into a tile column and a tile row, read the words back."""
    bench, rng = await _bench(dut)
    config = bench.config
    await _load(bench, rng, min(8, config.buffer_depth), special_rate=0.0)
    tile, coeffs, target = 0, 1, min(7, config.buffer_depth - 1)
    for lane in range(min(config.grid_rows, config.grid_cols)):
        k = lane % config.acc_sets
        for cmd in (ClusterCommand("PRELOAD", row_acc="ACCUMULATE", col_acc="ACCUMULATE",
                                   acc_set=k, b_addr=target),
                    ClusterCommand("MULTIPLY", "ROW", negate=True, row_acc="ACCUMULATE",
                                   acc_set=k, a_addr=tile, b_addr=coeffs),
                    ClusterCommand("MULTIPLY", "COL", negate=True, col_acc="ACCUMULATE",
                                   acc_set=k, a_addr=tile, b_addr=coeffs),
                    ClusterCommand("WRITE_ROWS", lane=lane, acc_set=k, a_addr=target),
                    ClusterCommand("WRITE_COLS", lane=lane, acc_set=k, a_addr=target)):
            await bench.issue_when_safe(cmd)
    await bench.drain()
    await bench.check_buffer([target])


@cocotb.test()
async def random_command_stream(dut):
    """Random commands of every kind, back to back where the hazard rule allows."""
    bench, rng = await _bench(dut)
    config = bench.config
    words = min(12, config.buffer_depth)
    await _load(bench, rng, words, special_rate=0.05)
    count = int(os.environ.get("DCOM_RANDOM_COMMANDS", "200"))
    for _ in range(count):
        op = OPS[rng.choice(4, p=[0.6, 0.1, 0.15, 0.15])]
        cmd = ClusterCommand(op, BROADCASTS[rng.integers(4)], negate=bool(rng.integers(2)),
                             row_acc=ACC_MODES[rng.integers(3)], col_acc=ACC_MODES[rng.integers(3)],
                             lane=int(rng.integers(bench.lanes)),
                             acc_set=int(rng.integers(config.acc_sets)),
                             a_addr=int(rng.integers(words)), b_addr=int(rng.integers(words)))
        await bench.issue_when_safe(cmd)
        if rng.random() < 0.05:
            await bench.drain()
            await bench.fill(int(rng.integers(words)),
                             random_words(rng, 1, bench.lanes, 0.05)[0],
                             lanes=_random_mask(rng, bench.lanes))
    await bench.drain()
    await bench.check_buffer(range(words))
