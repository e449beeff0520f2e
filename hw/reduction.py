"""The inter-cluster reduction network: ``icsum`` of docs/arithmetic.md, one group a cycle.

Partial results of ``K`` clusters (a cluster row, a cluster column, or all clusters) are summed
as the pairwise tree ``tree_K`` of the contract. The network takes ``g = gcd(f, K)``
neighbouring partials a cycle (``f`` the expansion factor) and proceeds in two parts:

* a **group tree** of width ``f``, pipelined, whose level ``log2 g`` holds the sum of the
  ``g`` partials of the group (the first ``log2 g`` levels of ``tree_K``: ``g`` divides ``K``);
* a **stream tree** of ``H`` levels that pairs the group sums as they arrive, one a cycle. Each
  level holds one value: the next one is added to it (the pair's left operand first), unless it
  is the last of its reduction and nothing is held, in which case it passes on (added to
  ``-0``, which changes nothing). That is the level-by-level pairing of ``tree_K``, the odd last
  element carried up; the final sum leaves level ``H`` with the ``last`` flag.

Nothing loops back, so every adder is pipelined and the network accepts a group every cycle,
reductions back to back, whatever their sizes (up to ``2**H`` groups). ``f`` sets the width
of the group tree, so the partials the network takes a cycle: the throughput of every
reduction, and its cost in adders.
"""

from __future__ import annotations

from amaranth import Array, Module, Mux, Signal
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from dcom.config import DcomConfig
from dcom.hw.fp import FPAdder, delay
from dcom.hw.hierarchy import ModuleLibrary, SharedModule

__all__ = ["ReductionNetwork"]


class ReductionNetwork(wiring.Component):
    """Group tree, then stream tree, of lane vectors from several clusters.

    Parameters
    ----------
    config : DcomConfig
        Expansion factor ``f`` (group tree width), accumulation format and pipelining.
    lanes : int
        Values reduced side by side (one per accumulator lane).
    tag_bits : int
        Width of ``tag``, which travels with each group and leaves with the final sum.
    library : ModuleLibrary or None
        Where the adders are emitted once (``None``: flat).

    Attributes
    ----------
    group_sizes : tuple of int
        The group sizes ``g`` the network serves (``DcomConfig.reduction_group_sizes``): input
        ``tap`` selects one by its position.
    latency : int
        Cycles from a group entering (``valid``) to its reduction's sum leaving
        (``result_valid``), when it is the reduction's last group
        (``DcomConfig.network_latency``).

    Ports
    -----
    valid, last, group, tap, tag : a group enters; ``last`` marks its reduction's last one.
        The inputs are registered: they may come from a wide multiplexer.
    result_valid, result, result_tag : a reduction's sum, with the tag of its last group.
    """

    def __init__(self, config: DcomConfig, lanes: int, tag_bits: int,
                 library: ModuleLibrary | None = None):
        self.config = config
        self.lanes = lanes
        self.group_sizes = config.reduction_group_sizes
        self._library = library
        self.levels = config.expansion_levels
        self.stream_levels = (config.max_reduction_groups - 1).bit_length()
        self.group_latency = config.tree_latency(self.levels)
        self.stream_latency = config.add_stages + 1
        self.latency = 1 + self.group_latency + self.stream_levels * self.stream_latency
        assert self.latency == config.network_latency
        vector = data.ArrayLayout(config.acc.width, lanes)
        super().__init__({
            "valid": In(1),
            "last": In(1),
            "group": In(data.ArrayLayout(vector, config.expansion)),
            "tap": In(range(max(2, len(self.group_sizes)))),
            "tag": In(max(1, tag_bits)),
            "result_valid": Out(1),
            "result": Out(vector),
            "result_tag": Out(max(1, tag_bits)),
        })

    def _adder(self, stages: int):
        fmt = self.config.acc_format
        return SharedModule(f"dcom_fp_add_{fmt}_s{stages}", lambda: FPAdder(fmt=fmt, stages=stages),
                            self._library)

    def elaborate(self, platform):
        m = Module()
        config = self.config
        vector = data.ArrayLayout(config.acc.width, self.lanes)
        stage = config.add_stages + int(config.tree_registers)

        # Input registers.
        group = Signal.like(self.group)
        valid, last = Signal(), Signal()
        tap = Signal.like(self.tap)
        tag = Signal.like(self.tag)
        m.d.sync += [group.eq(self.group), valid.eq(self.valid), last.eq(self.last),
                     tap.eq(self.tap), tag.eq(self.tag)]

        # Group tree, lane by lane; taps[level] is node 0 of that level.
        nodes = [group[t] for t in range(config.expansion)]
        taps = [nodes[0]]
        for level in range(self.levels):
            sums = []
            for k in range(0, len(nodes), 2):
                total = Signal(vector, name=f"l{level}_n{k // 2}")
                for lane in range(self.lanes):
                    m.submodules[f"add_l{level}_n{k // 2}_{lane}"] = add = \
                        self._adder(config.add_stages)
                    m.d.comb += [add.a.eq(nodes[k][lane]), add.b.eq(nodes[k + 1][lane])]
                    if config.tree_registers:
                        m.d.sync += total[lane].eq(add.sum)
                    else:
                        m.d.comb += total[lane].eq(add.sum)
                sums.append(total)
            nodes = sums
            taps.append(nodes[0])
        # Every tap leaves after the whole tree's latency; the tap choice travels along.
        aligned = [delay(m, taps[g.bit_length() - 1], self.group_latency -
                               (g.bit_length() - 1) * stage, f"tap{g}")
                   for g in self.group_sizes]
        tap_out = delay(m, tap, self.group_latency, "tap")
        value = Array(aligned)[tap_out] if len(aligned) > 1 else aligned[0]
        valid = delay(m, valid, self.group_latency, "valid")
        last = delay(m, last, self.group_latency, "last")
        tag = delay(m, tag, self.group_latency, "tag")

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
            for lane in range(self.lanes):
                m.submodules[f"stream_l{level}_{lane}"] = add = self._adder(config.add_stages)
                m.d.comb += [add.a.eq(Mux(combine, held[lane], value[lane])),
                             add.b.eq(Mux(combine, value[lane], negative_zero))]
                m.d.sync += total[lane].eq(add.sum)
            out_valid = delay(m, combine | carry, self.stream_latency, f"s{level}_valid")
            last = delay(m, last, self.stream_latency, f"s{level}_last")
            tag = delay(m, tag, self.stream_latency, f"s{level}_tag")
            valid, value = out_valid, total

        m.d.comb += [self.result_valid.eq(valid), self.result.eq(value),
                     self.result_tag.eq(tag)]
        return m
