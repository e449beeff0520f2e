# amaranth: UnusedElaboratable=no
"""SRAM macros: the model's figures, and Amaranth memories becoming macros in the flow (with a
gate-level simulation of the result)."""

import random
import subprocess

import pytest
from amaranth import Module
from amaranth.sim import Simulator
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import In, Out

from dcom.config import ConfigError
from dcom.hw.sram import LaneGroupSram, Sram
from dcom.simulators import available
from dcom.synth import sram
from dcom.synth.cells import write_verilog_models
from dcom.synth.flow import synthesize_amaranth


class Buffer(wiring.Component):
    """A memory with one synchronous read port and one byte-masked write port."""

    def __init__(self, depth, width, read_domain="sync"):
        self._depth, self._width, self._read_domain = depth, width, read_domain
        abits = (depth - 1).bit_length()
        super().__init__({"waddr": In(abits), "wdata": In(width), "we": In(width // 8),
                          "raddr": In(abits), "re": In(1), "rdata": Out(width)})

    def elaborate(self, platform):
        m = Module()
        m.submodules.mem = mem = memory.Memory(shape=self._width, depth=self._depth, init=[])
        wp = mem.write_port(granularity=8)
        rp = mem.read_port(domain=self._read_domain)
        m.d.comb += [wp.addr.eq(self.waddr), wp.data.eq(self.wdata), wp.en.eq(self.we),
                     rp.addr.eq(self.raddr), self.rdata.eq(rp.data)]
        if self._read_domain != "comb":
            m.d.comb += rp.en.eq(self.re)
        return m


def test_figures_scale_as_documented():
    small = sram.sram_figures(sram.SramConfig(256, 32))
    large = sram.sram_figures(sram.SramConfig(4096, 32))
    two_read = sram.sram_figures(sram.SramConfig(256, 32, read_ports=2))
    assert large.area_um2 > small.area_um2 > 256 * 32 * sram.BITCELL_UM2
    assert 0 < small.array_efficiency < large.array_efficiency < 1
    assert two_read.area_um2 > small.area_um2 and two_read.leakage_nw > small.leakage_nw
    # Energy per access: W * k * sqrt(bits); 16x the capacity costs 4x per bit.
    assert large.read_energy_pj / small.read_energy_pj == pytest.approx(4.0)
    # Horowitz's 8 KB point (10 pJ per 64-bit read at 45 nm) scaled to 15 nm and 0.8 V.
    eight_kb = sram.sram_figures(sram.SramConfig(1024, 64))
    assert eight_kb.read_energy_pj == pytest.approx(10 * (15 / 45) * (0.8 / 0.9) ** 2, rel=0.1)
    # Sub-arrays never exceed 256 x 256 bitcells.
    bank = sram.sram_figures(sram.SramConfig(65536, 1024))
    assert bank.subarray_rows <= 256 and bank.subarray_cols <= 256
    assert bank.subarrays * bank.subarray_rows * bank.subarray_cols >= 65536 * 1024
    with pytest.raises(ValueError, match="depth"):
        sram.SramConfig(0, 8)


def test_memories_beyond_the_fitted_range_are_banks_and_a_global_wire():
    # 1 MB, Horowitz's largest point: one bank. 8 MB: eight banks of 1 MB by depth.
    one = sram.sram_figures(sram.SramConfig(8192, 1024))
    assert one.banks == 1 and one.route_energy_pj == 0 and one.config.bits == sram.MAX_BANK_BITS
    big = sram.sram_figures(sram.SramConfig(65536, 1024))
    assert big.banks == 8
    assert big.area_um2 == pytest.approx(8 * one.area_um2)
    assert big.leakage_nw == pytest.approx(8 * one.leakage_nw)
    # The wire: 1024 bits over 3/4 of the side of the banks' area, 0.2 fF/um doubled for the
    # repeaters, C V^2 / 2 once per access.
    side_um = (8 * one.area_um2) ** 0.5
    wire_pj = 1024 * 2 * 0.2 * 0.75 * side_um * 0.8 ** 2 / 2 / 1000
    assert big.route_energy_pj == pytest.approx(wire_pj)
    assert big.read_energy_pj == pytest.approx(one.read_energy_pj + wire_pj)
    # Less than the square-root law extrapolated to 8 MB, more than one bank.
    extrapolated = 1024 * sram.ENERGY_COEFFICIENT_PJ * (65536 * 1024) ** 0.5
    assert one.read_energy_pj < big.read_energy_pj < extrapolated
    assert big.access_time_ps > one.access_time_ps


def test_find_memories_says_why_a_memory_stays_in_flip_flops():
    def mem(**overrides):
        params = {"RD_PORTS": "1", "WR_PORTS": "1", "SIZE": "10000", "WIDTH": "1000",
                  "RD_CLK_ENABLE": "1", "RD_CLK_POLARITY": "1", "WR_CLK_ENABLE": "1",
                  "WR_CLK_POLARITY": "1", "RD_TRANSPARENCY_MASK": "0", "OFFSET": "0",
                  "RD_WIDE_CONTINUATION": "0", "WR_WIDE_CONTINUATION": "0"}
        params.update(overrides)
        return {"type": "$mem_v2", "parameters": params,
                "connections": {"RD_ARST": ["0"], "RD_SRST": ["0"]}}

    lanes = mem()
    lanes["connections"]["WR_EN"] = [5, 5, 5, 5, 7, 7, 7, 7]   # two lanes of 4 bits
    netlist = {"modules": {"top": {"cells": {
        "ok": mem(), "async": mem(RD_CLK_ENABLE="0"), "bypass": mem(RD_TRANSPARENCY_MASK="1"),
        "rom": mem(WR_PORTS="0"), "adder": {"type": "$add"}}},
        "other": {"cells": {"lanes": lanes}}}}
    found = {m.cell: m for m in sram.find_memories(netlist)}
    assert set(found) == {"ok", "async", "bypass", "rom", "lanes"}
    # The same shape with a mask per bit and per 4 bits: both get the finer one.
    assert found["ok"].config == found["lanes"].config == sram.SramConfig(depth=16, width=8)
    alone = {"modules": {"other": {"cells": {"lanes": lanes}}}}
    config, = [m.config for m in sram.find_memories(alone)]
    assert config == sram.SramConfig(depth=16, width=8, mask_bits=4)
    assert config.name.endswith("_m4") and config.mask_pins == 2
    assert "asynchronous read" in found["async"].reason
    assert "transparent" in found["bypass"].reason
    assert "ROM" in found["rom"].reason


def test_memory_becomes_a_macro_and_simulates_at_gate_level(tmp_path):
    depth, width = 256, 32
    result = synthesize_amaranth(Buffer(depth, width), "buffer", tmp_path / "syn",
                                 progress=lambda line: None, reports=False)
    # Its write port enables bytes: a mask pin per byte.
    config = sram.SramConfig(depth, width, mask_bits=8)
    top = result.modules["buffer"]
    assert top.macros == {config.name: 1}
    assert top.macro_area_um2 == pytest.approx(sram.sram_figures(config).area_um2, rel=1e-4)
    # 8192 bits as flip-flops would be 8192 of them; only the write-enable glue remains.
    assert top.flip_flops == 0 and top.cell_count < 20
    assert result.totals().area_um2 == pytest.approx(top.std_area_um2 + top.macro_area_um2)
    assert not result.warnings
    assert "dcom_sram_256x32_1r1w_m8 mem (" in result.netlist.read_text()

    simulator, reason = available("icarus")
    if simulator is None:
        pytest.skip(reason)
    rng = random.Random(1)
    writes = {rng.randrange(depth): rng.getrandbits(width) for _ in range(12)}
    lines = ["`timescale 1ns/1ps", "module tb;",
             "  reg clk = 0, rst = 0, re = 0; reg [3:0] we = 0;",
             "  reg [7:0] waddr = 0, raddr = 0; reg [31:0] wdata = 0; wire [31:0] rdata;",
             "  buffer dut (.clk(clk), .rst(rst), .waddr(waddr), .wdata(wdata), .we(we),",
             "              .raddr(raddr), .re(re), .rdata(rdata));",
             "  always #5 clk = ~clk;", "  initial begin"]
    for addr, data in writes.items():
        lines.append(f"    @(negedge clk) waddr = {addr}; wdata = 32'h{data:08x}; we = 4'hf;")
    # A masked write: only byte 0 of the first address changes.
    first = next(iter(writes))
    lines.append(f"    @(negedge clk) waddr = {first}; wdata = 32'hffffffff; we = 4'h1;")
    writes[first] |= 0xff
    lines.append("    @(negedge clk) we = 0; re = 1;")
    for addr in writes:
        lines.append(f"    raddr = {addr}; @(negedge clk) $display(\"%0d %h\", {addr}, rdata);")
    lines += ["    $finish;", "  end", "endmodule"]
    tb = tmp_path / "tb.v"
    tb.write_text("\n".join(lines) + "\n")
    binary = tmp_path / "tb.vvp"
    cells = write_verilog_models(tmp_path / "cells.v")
    subprocess.run([str(simulator.executable), "-g2005", "-o", str(binary), str(tb),
                    str(result.netlist), str(cells), str(result.macro_views["models"])],
                   check=True, capture_output=True, text=True)
    output = subprocess.run(["vvp", "-n", str(binary)], check=True, capture_output=True,
                            text=True).stdout.split()
    read = {int(a): int(d, 16) for a, d in zip(output[::2], output[1::2])}
    assert read == writes


def test_asynchronous_read_memory_stays_in_flip_flops(tmp_path):
    result = synthesize_amaranth(Buffer(16, 8, read_domain="comb"), "regfile", tmp_path,
                                 progress=lambda line: None, reports=False)
    top = result.modules["regfile"]
    assert not top.macros and not result.macros
    assert top.flip_flops >= 16 * 8
    assert any("asynchronous read port" in w for w in result.warnings)
    assert result.totals().leakage_nw > 0


def test_hardware_sram_rejects_a_shape_it_cannot_build():
    """The RTL memory names the parameter and the allowed values (not a bare assert)."""
    with pytest.raises(ConfigError, match=r"lane_bits=24 .*allowed values: divisors of "
                                          r"width=64: 1, 2, 4, 8, 16, 32, 64$"):
        Sram(16, 64, lane_bits=24)
    with pytest.raises(ConfigError, match=r"depth=0 .*allowed values: integers >= 1"):
        Sram(0, 64)
    assert Sram(16, 64, lane_bits=16).wr_en.shape().width == 4


def test_lane_groups_read_only_the_groups_enabled():
    """A word split into macros by lane group: a read returns the enabled groups' lanes and
    leaves the others' as they were; a write reaches every group by its lane enables."""
    sram_ = LaneGroupSram(4, 4, 8, [[0, 3], [1], [2]], read_ports=1)

    async def bench(ctx):
        ctx.set(sram_.wr_addr, 1)
        ctx.set(sram_.wr_data, 0x44332211)
        ctx.set(sram_.wr_en, 0b1111)
        await ctx.tick()
        ctx.set(sram_.wr_addr, 2)
        ctx.set(sram_.wr_data, 0xDDCCBBAA)
        ctx.set(sram_.wr_en, 0b0101)                # lanes 0 and 2 only
        await ctx.tick()
        ctx.set(sram_.wr_en, 0)
        ctx.set(sram_.rd0_addr, 1)
        ctx.set(sram_.rd0_en, 0b111)
        await ctx.tick()
        assert ctx.get(sram_.rd0_data) == 0x44332211
        ctx.set(sram_.rd0_addr, 2)
        ctx.set(sram_.rd0_en, 0b001)                # group 0: lanes 0 and 3
        await ctx.tick()
        assert ctx.get(sram_.rd0_data) == 0x003322AA
        ctx.set(sram_.rd0_en, 0b100)                # group 2: lane 2
        await ctx.tick()
        assert ctx.get(sram_.rd0_data) == 0x00CC22AA

    sim = Simulator(sram_)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()


@pytest.mark.parametrize("groups", [[[0, 1], [1, 2, 3]], [[0, 1], [2]], [[0, 1, 2, 3], []]])
def test_lane_groups_must_partition_the_lanes(groups):
    with pytest.raises(ConfigError, match=r"groups=.*allowed values: non-empty groups that "
                                          r"hold each of the 4 lanes once"):
        LaneGroupSram(4, 4, 8, groups)
