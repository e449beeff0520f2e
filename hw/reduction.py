"""The inter-cluster reduction network: ``icsum`` of docs/arithmetic.md, one group a cycle.

The network carries ``S = max(R, C)`` reductions side by side, one per *slice* of its lanes:
the ``R`` cluster rows' (MV, and the first part of PROJ and NORM) or the ``C`` cluster
columns' (MTV). A slice sums the ``K`` partials of its row or column as the pairwise tree
``tree_K`` of the contract, taking ``g = gcd(f, K)`` neighbouring partials a cycle (``f`` the
expansion factor), in three parts:

* a **group tree** of width ``f``, pipelined, whose level ``log2 g`` holds the sum of the
  ``g`` partials of the group (the first ``log2 g`` levels of ``tree_K``: ``g`` divides ``K``);
* a **stream tree** of ``H`` levels that pairs the group sums as they arrive, one a cycle. Each
  level holds one value: the next one is added to it (the pair's left operand first), unless it
  is the last of its reduction and nothing is held, in which case it passes on (added to
  ``-0``, which changes nothing). That is the level-by-level pairing of ``tree_K``, the odd last
  element carried up; the final sum leaves level ``H`` with the ``last`` flag;
* a **cross tree** of ``ceil(log2 R)`` levels that, for a reduction of all clusters
  (``across``), pairs the ``R`` row sums the same way (``tree_R``), the total leaving in slice
  0. Row and column sums leave before it, ``cross_latency`` cycles sooner.

Nothing loops back, so every adder is pipelined and the network accepts a group every cycle,
reductions back to back, whatever their sizes (up to ``2**H`` groups a slice), with one rule
for the two exits: a row or column reduction's group enters more than ``cross_latency`` cycles
after the last group of a reduction across, so that its sum leaves after that total (the
controller's feed keeps it). ``f`` sets the width of the group tree, so the partials a slice
takes a cycle: the throughput of every reduction, and its cost in adders.
"""

from __future__ import annotations

from amaranth import Module, Mux, Signal
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from dcom.config import DcomConfig
from dcom.hw.fp import FPAdder, delay
from dcom.hw.hierarchy import ModuleLibrary, SharedModule

__all__ = ["ReductionNetwork"]


class ReductionNetwork(wiring.Component):
    """Group tree, stream tree and cross tree of lane vectors from the clusters.

    Parameters
    ----------
    config : DcomConfig
        Cluster array, expansion factor ``f`` (group tree width), accumulation format and
        pipelining.
    lanes : int
        Values a slice reduces side by side (one per accumulator lane).
    tag_bits : int
        Width of ``tag``, which travels with each group and leaves with the final sum.
    library : ModuleLibrary or None
        Where the adders are emitted once (``None``: flat).

    Attributes
    ----------
    slices : int
        Reductions side by side (``DcomConfig.network_slices``).
    latency : int
        Cycles from a group entering (``valid``) to its row or column sum leaving
        (``result_valid``), when it is the reduction's last group
        (``DcomConfig.network_latency``).
    cross_latency : int
        Further cycles of a reduction across (``DcomConfig.cross_latency``).

    Ports
    -----
    valid, last, group, columns, across, tag : a group enters, slice ``k`` of input ``t``
        being partial ``t`` of the group of row (``columns`` low) or column ``k``; ``last``
        marks its reduction's last group, ``columns`` selects the column group size, and
        ``across`` sums the row sums into slice 0. The inputs are registered: they may come
        from a wide multiplexer. A group without ``across`` enters more than
        ``cross_latency`` cycles after the last one with it.
    result_valid, result, total, result_tag : a reduction's sums, one per slice in ``result``
        (``total`` for a reduction across), with the tag of its last group.
    """

    def __init__(self, config: DcomConfig, lanes: int, tag_bits: int,
                 library: ModuleLibrary | None = None):
        self.config = config
        self.lanes = lanes
        self.slices = config.network_slices
        self._library = library
        self.levels = config.expansion_levels
        self.stream_levels = config.stream_levels
        self.cross_levels = config.cross_levels
        self.group_latency = config.tree_latency(self.levels)
        self.stage = config.add_stages + 1
        self.latency = 1 + self.group_latency + self.stream_levels * self.stage
        self.cross_latency = self.cross_levels * self.stage
        assert (self.latency, self.cross_latency) == (config.network_latency,
                                                      config.cross_latency)
        vector = data.ArrayLayout(config.acc.width, self.slices * lanes)
        super().__init__({
            "valid": In(1),
            "last": In(1),
            "group": In(data.ArrayLayout(vector, config.expansion)),
            "columns": In(1),
            "across": In(1),
            "tag": In(max(1, tag_bits)),
            "result_valid": Out(1),
            "result": Out(vector),
            "total": Out(data.ArrayLayout(config.acc.width, lanes)),
            "result_tag": Out(max(1, tag_bits)),
        })

    def _adder(self, m: Module, name: str, a, b):
        """An adder of the accumulation format named ``name``; returns its sum."""
        fmt, stages = self.config.acc_format, self.config.add_stages
        m.submodules[name] = add = SharedModule(
            f"dcom_fp_add_{fmt}_s{stages}", lambda: FPAdder(fmt=fmt, stages=stages),
            self._library)
        m.d.comb += [add.a.eq(a), add.b.eq(b)]
        return add.sum

    def elaborate(self, platform):
        m = Module()
        config = self.config
        width = self.slices * self.lanes
        vector = data.ArrayLayout(config.acc.width, width)
        stage = config.add_stages + int(config.tree_registers)

        # Input registers.
        group = Signal.like(self.group)
        valid, last, columns, across = Signal(), Signal(), Signal(), Signal()
        tag = Signal.like(self.tag)
        m.d.sync += [group.eq(self.group), valid.eq(self.valid), last.eq(self.last),
                     columns.eq(self.columns), across.eq(self.across), tag.eq(self.tag)]

        # Group tree, lane by lane; taps[level] is node 0 of that level.
        nodes = [group[t] for t in range(config.expansion)]
        taps = [nodes[0]]
        for level in range(self.levels):
            sums = []
            for k in range(0, len(nodes), 2):
                total = Signal(vector, name=f"l{level}_n{k // 2}")
                for lane in range(width):
                    result = self._adder(m, f"add_l{level}_n{k // 2}_{lane}",
                                         nodes[k][lane], nodes[k + 1][lane])
                    if config.tree_registers:
                        m.d.sync += total[lane].eq(result)
                    else:
                        m.d.comb += total[lane].eq(result)
                sums.append(total)
            nodes = sums
            taps.append(nodes[0])
        # Every tap leaves after the whole tree's latency; the choice travels along.
        g_row, g_col = config.reduction_group_sizes
        row_tap, column_tap = (
            delay(m, taps[g.bit_length() - 1],
                  self.group_latency - (g.bit_length() - 1) * stage, f"tap{g}")
            for g in (g_row, g_col))
        value = Signal(vector, name="group_sum")
        m.d.comb += value.eq(Mux(delay(m, columns, self.group_latency, "columns"), column_tap,
                                 row_tap))
        valid = delay(m, valid, self.group_latency, "valid")
        last = delay(m, last, self.group_latency, "last")
        tag = delay(m, tag, self.group_latency, "tag")
        across = delay(m, across, self.group_latency, "across")

        # Stream tree: each level pairs the values it receives.
        negative_zero = 1 << (config.acc.width - 1)
        for level in range(self.stream_levels):
            held = Signal(vector, name=f"s{level}_held")
            held_valid = Signal(name=f"s{level}_held_valid")
            combine = valid & held_valid
            carry = valid & ~held_valid & last
            with m.If(valid & ~held_valid & ~last):
                m.d.sync += [held.eq(value), held_valid.eq(1)]
            with m.If(combine):
                m.d.sync += held_valid.eq(0)
            total = Signal(vector, name=f"s{level}_sum")
            for lane in range(width):
                result = self._adder(m, f"stream_l{level}_{lane}",
                                     Mux(combine, held[lane], value[lane]),
                                     Mux(combine, value[lane], negative_zero))
                m.d.sync += total[lane].eq(result)
            out_valid = delay(m, combine | carry, self.stage, f"s{level}_valid")
            last = delay(m, last, self.stage, f"s{level}_last")
            tag = delay(m, tag, self.stage, f"s{level}_tag")
            across = delay(m, across, self.stage, f"s{level}_across")
            valid, value = out_valid, total

        # Cross tree: level by level, position k sums the pair (2k, 2k + 1) of the previous
        # level, the odd last one carried.
        lanes = self.lanes
        slice_layout = data.ArrayLayout(config.acc.width, lanes)
        sums = [[value[k * lanes + lane] for lane in range(lanes)]
                for k in range(config.cluster_rows)]
        total_valid, total_tag = valid & across, tag
        for level in range(self.cross_levels):
            out = []
            for k in range(len(sums) // 2):
                total = Signal(slice_layout, name=f"x{level}_{k}_sum")
                for lane in range(lanes):
                    m.d.sync += total[lane].eq(self._adder(
                        m, f"cross_l{level}_{k}_{lane}", sums[2 * k][lane], sums[2 * k + 1][lane]))
                out.append(total)
            if len(sums) % 2:
                carried = Signal(slice_layout, name=f"x{level}_carried")
                m.d.comb += [carried[lane].eq(sums[-1][lane]) for lane in range(lanes)]
                out.append(delay(m, carried, self.stage, f"x{level}_carried"))
            total_valid = delay(m, total_valid, self.stage, f"x{level}_valid")
            total_tag = delay(m, total_tag, self.stage, f"x{level}_tag")
            sums = out

        # The two exits never meet (the feed rule above); each has its own port, so that no
        # multiplexer sits between the last adders and what takes their sums.
        m.d.comb += [self.result_valid.eq((valid & ~across) | total_valid),
                     self.result_tag.eq(Mux(total_valid, total_tag, tag)),
                     self.result.eq(value)]
        m.d.comb += [self.total[lane].eq(sums[0][lane]) for lane in range(lanes)]
        return m
