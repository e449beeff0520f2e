"""On-chip memories: an Amaranth memory in flat builds, an SRAM macro model in Verilog builds.

Real accelerators take their buffers and banks from SRAM compilers, not from flip-flops, and
open flows stand in for them with simple behavioural models. :class:`Sram` does the same: in a
flat build (``library=None``) it is an ``amaranth.lib.memory.Memory``, which Amaranth's
simulator runs; in a hierarchical build it is an instance of a small module whose Verilog dcom
writes itself (:func:`sram_verilog`), emitted once per shape. That also keeps the Verilog of a
large instance small: Amaranth would spell out the initial contents of every word, and the
banks of a 16 x 16 instance hold half a billion bits.

Both forms have the same behaviour: synchronous read ports that return the word stored before
a write in the same cycle, a write port with per-lane enables, and contents zero at start.
"""

from __future__ import annotations

from numbers import Integral

from amaranth import Cat, ClockSignal, Instance, Module
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from dcom.config import ConfigError
from dcom.hw.hierarchy import ModuleLibrary

__all__ = ["Sram", "LaneGroupSram", "sram_module_name", "sram_verilog"]


def sram_module_name(depth: int, width: int, read_ports: int, lane_bits: int) -> str:
    """Verilog module name of an SRAM of this shape."""
    return f"dcom_sram_{depth}x{width}_r{read_ports}_l{lane_bits}"


def sram_verilog(depth: int, width: int, read_ports: int, lane_bits: int) -> str:
    """Behavioural Verilog of an SRAM macro: the ports of :class:`Sram`, zero contents."""
    name = sram_module_name(depth, width, read_ports, lane_bits)
    addr = max(1, ceil_log2(depth))
    lanes = width // lane_bits
    ports = ["clk"] + [f"rd{k}_{p}" for k in range(read_ports) for p in ("en", "addr", "data")] \
        + ["wr_addr", "wr_data", "wr_en"]
    lines = [f"module {name}({', '.join(ports)});",
             "  input clk;"]
    for k in range(read_ports):
        lines += [f"  input rd{k}_en;", f"  input [{addr - 1}:0] rd{k}_addr;",
                  f"  output reg [{width - 1}:0] rd{k}_data;"]
    lines += [f"  input [{addr - 1}:0] wr_addr;", f"  input [{width - 1}:0] wr_data;",
              f"  input [{lanes - 1}:0] wr_en;",
              f"  reg [{width - 1}:0] mem [0:{depth - 1}];",
              "  integer i;",
              "  initial begin",
              f"    for (i = 0; i < {depth}; i = i + 1) mem[i] = 0;"]
    lines += [f"    rd{k}_data = 0;" for k in range(read_ports)]
    lines += ["  end", "  always @(posedge clk) begin"]
    lines += [f"    if (rd{k}_en) rd{k}_data <= mem[rd{k}_addr];" for k in range(read_ports)]
    for lane in range(lanes):
        part = f"[{lane * lane_bits} +: {lane_bits}]"
        lines.append(f"    if (wr_en[{lane}]) mem[wr_addr]{part} <= wr_data{part};")
    lines += ["  end", "endmodule", ""]
    return "\n".join(lines)


class Sram(wiring.Component):
    """A memory of ``depth`` words of ``width`` bits.

    Parameters
    ----------
    depth, width : int
        Words and bits per word.
    read_ports : int
        Synchronous read ports: with ``rd<k>_en`` high, the word at ``rd<k>_addr`` appears on
        ``rd<k>_data`` the next cycle; with it low, ``rd<k>_data`` holds (and the macro spends
        no read energy).
    lane_bits : int
        Write granularity: ``wr_en`` has one bit per ``lane_bits``-bit lane of ``wr_data``.
    library : ModuleLibrary or None
        ``None``: an Amaranth memory; otherwise an instance of the SRAM model module.

    Raises
    ------
    ConfigError
        If ``depth``, ``width`` or ``read_ports`` is not a positive integer, or ``lane_bits``
        does not divide ``width``.
    """

    def __init__(self, depth: int, width: int, read_ports: int = 1, lane_bits: int | None = None,
                 library: ModuleLibrary | None = None):
        for name, value in (("depth", depth), ("width", width), ("read_ports", read_ports)):
            if not isinstance(value, Integral) or value < 1:
                raise ConfigError(name, value, "integers >= 1")
        self.depth, self.width, self.read_ports = depth, width, read_ports
        self.lane_bits = width if lane_bits is None else lane_bits
        if (not isinstance(self.lane_bits, Integral) or self.lane_bits < 1
                or width % self.lane_bits):
            divisors = [d for d in range(1, width + 1) if width % d == 0]
            raise ConfigError("lane_bits", lane_bits,
                              f"divisors of width={width}: {', '.join(map(str, divisors))}")
        self._library = library
        addr = max(1, ceil_log2(depth))
        members = {}
        for k in range(read_ports):
            members[f"rd{k}_en"] = In(1)
            members[f"rd{k}_addr"] = In(addr)
            members[f"rd{k}_data"] = Out(width)
        members.update(wr_addr=In(addr), wr_data=In(width), wr_en=In(width // self.lane_bits))
        super().__init__(members)

    def elaborate(self, platform):
        reads = [(getattr(self, f"rd{k}_en"), getattr(self, f"rd{k}_addr"),
                  getattr(self, f"rd{k}_data")) for k in range(self.read_ports)]
        if self._library is None:
            m = Module()
            m.submodules.memory = mem = memory.Memory(shape=self.width, depth=self.depth, init=[])
            for en, addr, data in reads:
                port = mem.read_port()
                m.d.comb += [port.en.eq(en), port.addr.eq(addr), data.eq(port.data)]
            write = mem.write_port(granularity=self.lane_bits)
            m.d.comb += [write.addr.eq(self.wr_addr), write.data.eq(self.wr_data),
                         write.en.eq(self.wr_en)]
            return m
        name = sram_module_name(self.depth, self.width, self.read_ports, self.lane_bits)
        self._library.register_verilog(
            name, sram_verilog(self.depth, self.width, self.read_ports, self.lane_bits))
        ports = {"i_clk": ClockSignal(), "i_wr_addr": self.wr_addr, "i_wr_data": self.wr_data,
                 "i_wr_en": self.wr_en}
        for k, (en, addr, data) in enumerate(reads):
            ports[f"i_rd{k}_en"] = en
            ports[f"i_rd{k}_addr"] = addr
            ports[f"o_rd{k}_data"] = data
        return Instance(name, **ports)


class LaneGroupSram(wiring.Component):
    """A memory of ``depth`` words of ``lanes`` lanes, stored as one :class:`Sram` per group of
    lanes, so that a read spends the energy of the groups it enables only.

    A read that needs a few lanes of a wide word (a vector operand in one row of a tile, say)
    then reads a narrow macro instead of the whole word, as a designer who knows the access
    pattern would bank the memory.

    Parameters
    ----------
    depth : int
        Words.
    lanes, lane_bits : int
        Lanes per word and bits per lane; writes have one enable per lane.
    groups : sequence of sequences of int
        A partition of ``range(lanes)``: group ``g``'s lanes, in the order its macro stores them.
    read_ports : int
        As :class:`Sram`'s, but ``rd<k>_en`` has one bit per group: lanes of groups not enabled
        hold their last value.
    library : ModuleLibrary or None
        As :class:`Sram`'s.

    Raises
    ------
    ConfigError
        If ``groups`` is not a partition of the lanes into non-empty groups.
    """

    def __init__(self, depth: int, lanes: int, lane_bits: int, groups, read_ports: int = 1,
                 library: ModuleLibrary | None = None):
        self.groups = [list(group) for group in groups]
        if (any(not group for group in self.groups)
                or sorted(lane for group in self.groups for lane in group) != list(range(lanes))):
            raise ConfigError("groups", groups,
                              f"non-empty groups that hold each of the {lanes} lanes once")
        self.depth, self.lanes, self.lane_bits = depth, lanes, lane_bits
        self.read_ports, self._library = read_ports, library
        addr = max(1, ceil_log2(depth))
        members = {}
        for k in range(read_ports):
            members[f"rd{k}_en"] = In(len(self.groups))
            members[f"rd{k}_addr"] = In(addr)
            members[f"rd{k}_data"] = Out(lanes * lane_bits)
        members.update(wr_addr=In(addr), wr_data=In(lanes * lane_bits), wr_en=In(lanes))
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        bits = self.lane_bits

        def lane(value, k):
            return value[k * bits:(k + 1) * bits]

        for g, group in enumerate(self.groups):
            m.submodules[f"group{g}"] = macro = Sram(self.depth, len(group) * bits,
                                                     self.read_ports, bits, self._library)
            m.d.comb += [macro.wr_addr.eq(self.wr_addr),
                         macro.wr_en.eq(Cat(self.wr_en[k] for k in group)),
                         macro.wr_data.eq(Cat(lane(self.wr_data, k) for k in group))]
            for port in range(self.read_ports):
                en, addr, data = (getattr(self, f"rd{port}_{p}") for p in ("en", "addr", "data"))
                out = getattr(macro, f"rd{port}_data")
                m.d.comb += [getattr(macro, f"rd{port}_en").eq(en[g]),
                             getattr(macro, f"rd{port}_addr").eq(addr)]
                m.d.comb += [lane(data, k).eq(lane(out, n)) for n, k in enumerate(group)]
        return m
