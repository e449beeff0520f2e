"""Toggle counts per net from a VCD file of a gate-level simulation.

The testbenches of :mod:`dcom.synth.gatesim` dump the nets of the netlist's modules (not the
cells' pins, which alias the nets). This reader maps each dumped variable bit to a net of the
JSON netlist, ``(instance path, net bit)``, and counts its transitions between 0 and 1 inside
given time windows; several groups of windows can be counted in one pass (a replay of many
instances one after another counts each instance's cycles in its own group).

Zero-delay simulation can change a net several times within one time step while the events
settle; those are artefacts of the evaluation order, not glitches of real gates, so only the
value a net settles to in each time step counts (glitch power is therefore not included).
Aliases (two names of one net in a module) are counted once.

It also counts, for chosen nets ("level probes", e.g. SRAM enables), at how many rising clock
edges they were 1: the number of accesses of a macro port; and, for groups of flip-flop
outputs ("clock-gating groups"), after how many rising clock edges some output of the group
changed: the cycles a clock gate with an ideal enable would let through to the group.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Hashable, Iterable, Mapping

import numpy as np

from .netlist import ModuleNetlist

__all__ = ["Activity", "read_activity", "DUT"]

#: Instance name of the design in every testbench.
DUT = "dut"

_TIME_UNITS_PS = {"s": 10 ** 12, "ms": 10 ** 9, "us": 10 ** 6, "ns": 1000, "ps": 1, "fs": 1e-3}


@dataclass
class Activity:
    """Transitions inside one group of windows.

    Attributes
    ----------
    toggles : dict
        ``(instance path, net bit)`` -> number of 0/1 transitions; the path is a tuple of
        instance names below the design's top (``()`` for the top module).
    probe_highs : dict
        ``(instance path, net bit)`` -> number of rising clock edges at which the net was 1.
    clock_edges : int
        Rising clock edges inside the windows.
    enabled_edges : dict
        Clock-gating group -> rising clock edges inside the windows after which some
        flip-flop output of the group changed.
    """

    toggles: dict[tuple, int]
    probe_highs: dict[tuple, int]
    clock_edges: int
    enabled_edges: dict[Hashable, int] = field(default_factory=dict)


def _module_at(modules: dict[str, ModuleNetlist], top: str, path: tuple) -> ModuleNetlist | None:
    module = modules.get(top)
    for name in path:
        if module is None or name not in module.cells:
            return None
        module = modules.get(module.cells[name].type)
    return module


def _timescale_ps(text: str) -> float:
    number = "".join(ch for ch in text if ch.isdigit()) or "1"
    return int(number) * _TIME_UNITS_PS[text.lstrip("0123456789 ").strip()]


def read_activity(vcd: str | Path, modules: dict[str, ModuleNetlist], top: str,
                  windows: dict[Hashable, list[tuple[int, int]]], clock: str = "clk",
                  probes: Iterable[tuple] = (),
                  gates: Mapping[tuple, Hashable] | None = None) -> dict[Hashable, Activity]:
    """Count transitions per net in ``vcd`` within each group of time windows.

    Parameters
    ----------
    vcd : path
        Written by a :func:`dcom.synth.gatesim.simulate` run.
    modules : dict
        The netlist graph (:func:`dcom.synth.netlist.read_netlist`).
    top : str
        The module the testbench instantiates as ``dut``.
    windows : dict
        Group -> list of ``(start, end)`` times in picoseconds; a time step counts in the group
        whose window holds it (``end`` exclusive). Windows must not overlap.
    clock : str
        Clock port of the top module (for probes and clock edges).
    probes : iterable of (instance path, net bit)
        Nets whose level is sampled at every rising clock edge.
    gates : mapping, optional
        ``(instance path, net bit)`` of a flip-flop output -> its clock-gating group
        (:attr:`Activity.enabled_edges`).
    """
    probes = set(probes)
    intervals = sorted((s, e, g) for g, spans in windows.items() for s, e in spans)
    scale = 1.0
    ids: dict[str, list] = defaultdict(list)   # VCD id -> [(position, key)]
    widths: dict[str, int] = {}
    claimed: set = set()
    clock_id = None
    stack: list[str] = []
    with open(vcd, "rb") as stream:
        for raw in stream:
            line = raw.decode(errors="replace").strip()
            if line.startswith("$timescale"):
                text = line[len("$timescale"):].replace("$end", "").strip()
                scale = _timescale_ps(text or next(stream).decode().strip())
            elif line.startswith("$scope"):
                stack.append(line.split()[2].lstrip("\\"))
            elif line.startswith("$upscope"):
                stack.pop()
            elif line.startswith("$var") and DUT in stack:
                parts = line.split()
                width, code, name = int(parts[2]), parts[3], parts[4].lstrip("\\")
                path = tuple(stack[stack.index(DUT) + 1:])
                module = _module_at(modules, top, path)
                if module is None:
                    continue
                if path == () and name == clock:
                    clock_id = code
                bits = module.netname_bits.get(name)
                if bits is None or len(bits) != width:
                    continue
                widths[code] = width
                for position, bit in enumerate(bits):
                    key = (path, bit)
                    if isinstance(bit, int) and key not in claimed:
                        claimed.add(key)
                        ids[code].append((position, key))
            elif line.startswith("$enddefinitions"):
                break
        return _count(stream, ids, widths, clock_id, probes, scale, intervals, windows,
                      gates or {})


def _count(stream, ids, widths, clock_id, probes, scale, intervals, windows, gates):
    committed: dict[str, int] = {}
    pending: dict[str, int] = {}
    groups = list(windows)
    counts = {g: {code: np.zeros(widths[code], dtype=np.int64) for code in ids} for g in groups}
    probe_ids = [(code, position, key) for code, entries in ids.items()
                 for position, key in entries if key in probes]
    highs = {g: defaultdict(int) for g in groups}
    edges = dict.fromkeys(groups, 0)
    gated = defaultdict(list)                 # VCD id -> [(position, gating group)]
    for code, entries in ids.items():
        for position, key in entries:
            if key in gates:
                gated[code].append((position, gates[key]))
    enabled = {g: defaultdict(int) for g in groups}
    last_enabled: dict = {}                   # gating group -> index of its last counted edge
    edge_index = 0
    starts = [s for s, _, _ in intervals]
    now = 0.0

    def window_at(time_ps):
        """Index of the window holding ``time_ps``, or -1."""
        k = bisect.bisect_right(starts, time_ps) - 1
        return k if k >= 0 and time_ps < intervals[k][1] else -1

    def commit():
        nonlocal edge_index
        k = window_at(now)
        rising = clock_id in pending and committed.get(clock_id) == 0 and pending[clock_id] == 1
        edge_index += rising
        if k >= 0:
            group = intervals[k][2]
            if rising:
                edges[group] += 1
                for code, position, key in probe_ids:
                    highs[group][key] += (committed.get(code, 0) >> position) & 1
        for code, value in pending.items():
            before = committed.get(code)
            if k >= 0 and before is not None and before >= 0 and value >= 0 \
                    and before != value and code in ids:
                changed = before ^ value
                counts[group][code] += np.unpackbits(
                    np.frombuffer(changed.to_bytes((widths[code] + 7) // 8, "little"),
                                  dtype=np.uint8), bitorder="little")[:widths[code]]
                for position, gate in gated.get(code, ()):
                    if changed >> position & 1 and last_enabled.get(gate) != edge_index:
                        last_enabled[gate] = edge_index
                        enabled[group][gate] += 1
            committed[code] = value
        pending.clear()

    last_end = intervals[-1][1] if intervals else 0
    for raw in stream:
        head = raw[:1]
        if head == b"#":
            commit()
            now = int(raw[1:]) * scale
            if now >= last_end:
                break
        elif head in (b"0", b"1"):
            pending[raw[1:].strip().decode()] = int(head)
        elif head in (b"x", b"X", b"z", b"Z"):
            pending[raw[1:].strip().decode()] = -1
        elif head in (b"b", b"B"):
            text, code = raw[1:].split()
            pending[code.decode()] = -1 if any(c in text for c in b"xXzZ") else int(text, 2)
    else:
        commit()
    return {g: Activity({key: int(counts[g][code][position]) for code, entries in ids.items()
                         for position, key in entries},
                        dict(highs[g]), edges[g], dict(enabled[g])) for g in groups}
