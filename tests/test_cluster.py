"""The cluster RTL against the cluster golden model, on both simulators."""

import json

import pytest

from dcom.config import DcomConfig
from dcom.hw.cluster import Cluster
from dcom.tb.cosim import HdlDesign, library_emitter, run_cocotb

pytestmark = pytest.mark.cocotb

CONFIGS = {
    "1x1": DcomConfig(grid_rows=1, grid_cols=1, buffer_depth=16),
    "2x4": DcomConfig(grid_rows=2, grid_cols=4, buffer_depth=16),
    "4x4-fp16acc-pipelined": DcomConfig(grid_rows=4, grid_cols=4, buffer_depth=16,
                                        acc_format="fp16", mul_stages=2, add_stages=1,
                                        tree_registers=False, acc_sets=3, acc_stages=2),
    "8x8": DcomConfig(grid_rows=8, grid_cols=8, buffer_depth=16),
}


def cluster_design(config: DcomConfig) -> HdlDesign:
    """The cluster emitted hierarchically: its units once, then the cluster module."""
    return HdlDesign("dcom_cluster",
                     library_emitter(lambda library: Cluster(config, library), "dcom_cluster"),
                     config.to_dict())


def run_cluster_bench(config: DcomConfig, sim: str, seed: int) -> None:
    commands = 200 if sim == "verilator" else 60
    run_cocotb(cluster_design(config), "dcom.tb.cluster", sim, seed=seed,
               env={"DCOM_CONFIG": json.dumps(config.to_dict()),
                    "DCOM_RANDOM_COMMANDS": str(commands)})


@pytest.mark.parametrize("name", CONFIGS)
def test_cluster_bit_exact(name, sim, seed):
    run_cluster_bench(CONFIGS[name], sim, seed)


@pytest.mark.configured
def test_cluster_bit_exact_configured(regress_config, sim, seed):
    run_cluster_bench(regress_config, sim, seed)


def test_flat_cluster_in_amaranth_simulator():
    """The flat build (every unit a real submodule) simulated by Amaranth itself, against the
    cluster model: a matrix-vector product accumulated over tiles on both paths, a
    multiply-subtract update and its write-back, read back through the host port."""
    import numpy as np
    from amaranth.sim import Simulator

    from dcom.hw.cluster import encode_command
    from dcom.sw.clustermodel import ClusterCommand, ClusterModel
    from dcom.tb.cluster import random_words

    config = DcomConfig(grid_rows=2, grid_cols=2, buffer_depth=8, acc_stages=0)
    dut = Cluster(config)
    model = ClusterModel(config)
    words = random_words(np.random.default_rng(1), 6, config.macs_per_cluster, 0.1)
    commands = [ClusterCommand("MULTIPLY", "ROW", row_acc="RESTART", col_acc="RESTART",
                               a_addr=0, b_addr=4),
                ClusterCommand("MULTIPLY", "COL", row_acc="ACCUMULATE", col_acc="ACCUMULATE",
                               a_addr=1, b_addr=5),
                ClusterCommand("MULTIPLY", "ELEMENT", negate=True, row_acc="ACCUMULATE",
                               col_acc="HOLD", a_addr=2, b_addr=3),
                ClusterCommand("WRITE_ROWS", lane=1, a_addr=6),
                ClusterCommand("PRELOAD", row_acc="ACCUMULATE", col_acc="ACCUMULATE", b_addr=0),
                ClusterCommand("MULTIPLY", "SCALAR", lane=3, row_acc="ACCUMULATE",
                               col_acc="ACCUMULATE", a_addr=1, b_addr=2),
                ClusterCommand("WRITE_COLS", lane=0, a_addr=7)]

    def word_value(lanes):
        return sum(int(v) << (16 * k) for k, v in enumerate(lanes))

    async def bench(ctx):
        ctx.set(dut.fill.lanes, (1 << config.macs_per_cluster) - 1)
        for addr, word in enumerate(words):
            ctx.set(dut.fill.valid, 1)
            ctx.set(dut.fill.addr, addr)
            ctx.set(dut.fill.data, [int(v) for v in word])
            await ctx.tick()
            model.fill(addr, word)
        ctx.set(dut.fill.valid, 0)
        for cmd in commands:
            ctx.set(dut.cmd.payload.as_value(), encode_command(config, cmd))
            ctx.set(dut.cmd.valid, 1)
            await ctx.tick()
            model.execute(cmd)
        ctx.set(dut.cmd.valid, 0)
        await ctx.tick().repeat(max(dut.latency, dut.write_latency))
        assert ctx.get(dut.idle)
        want_rows, want_cols = model.accumulator_bits()
        assert [ctx.get(dut.row_acc[i]) for i in range(2)] == list(want_rows)
        assert [ctx.get(dut.col_acc[j]) for j in range(2)] == list(want_cols)
        for addr in (6, 7):
            ctx.set(dut.read.valid, 1)
            ctx.set(dut.read.addr, addr)
            await ctx.tick()
            assert ctx.get(dut.read.resp_valid)
            assert ctx.get(dut.read.data.as_value()) == word_value(model.buffer[addr])
        ctx.set(dut.read.valid, 0)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
