"""Measure a synthesized design's power on a workload, module by module.

A whole gate-level netlist of a cluster (a quarter of a million cells, most of them in the
floating-point units) simulates at seconds per cycle in Icarus and takes Verilator many
minutes to compile. The design's hierarchy makes it cheap instead, the same way synthesis
does: every distinct module is simulated at gate level once.

1. **RTL run** (Icarus): the workload on the RTL; records the outputs every cycle, and the
   ports of every *leaf* instance (a module without submodules: the FP units).
2. **Netlist run** (Icarus): the same workload on the synthesized netlist of every non-leaf
   module (the glue: registers, multiplexers, control, SRAM macros as their models) with the
   leaves as RTL. Its outputs must equal the RTL run's every cycle. Its VCD gives the glue's
   transitions and the SRAM accesses.
3. **Leaf replays** (Icarus for short runs, else Verilator): each leaf module's netlist,
   driven one instance after another by the port values that instance had in the RTL run.
   Its outputs must equal the recorded ones; its VCD gives the leaf's transitions, summed
   per category (the first cycles of each instance refill the pipeline and do not count).

The same VCDs tell, for clock gating (:class:`~dcom.synth.power.ClockGating`), in which cycles
each group of flip-flops changed: a leaf instance is one group, and so is each category of a
register (flip-flops sharing a net name) of a module instance.

So every cell of the netlist is simulated at gate level on the real workload, and the checks
compose: the glue equals the RTL around RTL leaves, and every leaf netlist equals its RTL on
exactly the inputs it receives.
"""

from __future__ import annotations

import re
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .activity import read_activity
from .categories import CategoryRules, glue_shares
from .cells import write_verilog_models
from .design import category_figures, load_netlist
from .flow import SynthesisResult
from .gatesim import (CLOCK_PERIOD, RESET_CYCLES, GateSimError, Stimulus, compare_traces,
                      simulate)
from .netlist import MACRO, MODULE, instance_paths
from .power import (ClockGating, PowerBreakdown, ToggleSet, flip_flop_outputs,
                    inherited_categories, macro_enables, power_breakdown)

__all__ = ["PowerRun", "measure_power", "REPLAY_PRIME_CYCLES"]

#: Cycles of its recorded inputs a leaf instance replays before its window, not counted: they
#: bring the leaf's pipeline registers into the state they had (at least its latency).
REPLAY_PRIME_CYCLES = 4
# Replays with more cell-cycles than this run on Verilator (compile once, run fast).
_VERILATOR_CELL_CYCLES = 2_000_000


@dataclass
class PowerRun:
    """A power measurement and what backs it."""

    power: PowerBreakdown
    cycles_checked: int
    leaf_vectors_checked: int
    rtl_trace: Path
    seconds: dict[str, float] = field(default_factory=dict)


def _split_modules(netlist_text: str) -> dict[str, str]:
    """The Verilog netlist's text per module."""
    return {m[1]: m[0] for m in re.finditer(r"^module (\S+?)\(.*?^endmodule\n", netlist_text,
                                            re.MULTILINE | re.DOTALL)}


def _time_ps(cycle: int) -> int:
    return (RESET_CYCLES + cycle) * CLOCK_PERIOD * 1000


def _rtl_path(path: tuple) -> tuple:
    """The RTL's instance path of a netlist path: synthesis flattens the submodules that are
    not library modules into their parent, naming their instances ``parent.child``."""
    return tuple(part for name in path
                 for part in (name.split(".") if all(p.isidentifier() for p in name.split("."))
                              else (name,)))


def _data_ports(module, direction: str) -> dict[str, int]:
    """A module's ports of one direction but its clock and reset: name -> width."""
    return {p: len(bits) for p, (d, bits) in module.ports.items()
            if d == direction and p not in ("clk", "rst")}


def _replay_leaves(modules, leaves, inherited, texts, cells, samples_file, samples, window,
                   work, progress, seconds, gating, rules) -> tuple[list[ToggleSet], int]:
    """Replay every leaf instance's recorded inputs on its module's netlist (step 3 of the
    module docstring); return the transitions per module and category, and the number of
    output vectors checked against the RTL. Each instance's clock-gating group is added to
    ``gating`` (category -> ClockGating): an instance with no category of its own (a unit
    of the top level's network) gates with its module's glue, where its power goes."""
    toggles = []

    leaf_types = set(leaves.values())
    recorded = [line.split() for line in samples_file.read_text().splitlines()]
    column = {key: k for k, key in enumerate(samples)}
    first, end = window
    start = max(0, first - REPLAY_PRIME_CYCLES)
    # The replays are independent simulator runs: two at a time.
    with ThreadPoolExecutor(max_workers=2) as pool:
        replays = {}
        for name in sorted(leaf_types):
            instances = [p for p, n in leaves.items() if n == name]
            inputs = _data_ports(modules[name], "input")
            outs = _data_ports(modules[name], "output")
            clocked = "clk" in modules[name].ports
            # The RTL run records after each rising edge; its leaves' inputs change at that edge,
            # the replay's half a cycle earlier. So a clocked leaf (outputs from registers, as
            # dcom's pipelined units) shows in replay cycle k what the RTL recorded at k + 1.
            shift = int(clocked)
            replay = Stimulus(inputs)
            expected, windows = [], defaultdict(list)
            for path in instances:
                segment = len(replay.cycles)
                for cycle in range(start, end):
                    row = recorded[cycle]
                    # Unknown bits (a read port before its first read) replay as zeros.
                    replay.add(**{p: int(re.sub("[xXzZ]", "0", row[column[(path, p)]]), 16)
                                  for p in inputs})
                    later = " ".join(recorded[cycle + shift][column[(path, p)]] for p in outs)
                    # Unknown bits in the RTL are not compared.
                    expected.append(later if cycle >= first and not re.search("[xXzZ]", later)
                                    else None)
                windows[inherited[path]].append((_time_ps(segment + first - start),
                                                 _time_ps(len(replay.cycles))))
            replay.window = (0, len(replay.cycles))
            cell_cycles = len(replay.cycles) * len(modules[name].cells)
            simulator = "verilator" if cell_cycles > _VERILATOR_CELL_CYCLES else "icarus"
            text = work / f"{name}.v"
            text.parent.mkdir(parents=True, exist_ok=True)
            text.write_text(texts[name])
            progress(f"replaying {len(instances)} instances of {name} at gate level "
                     f"({len(replay.cycles)} cycles, {simulator})")
            replays[name] = (expected, windows, pool.submit(
                simulate, [text, cells], name, replay, outs, work / name,
                clocked=clocked, dump_scopes=[()], simulator=simulator))
        vectors = 0
        for name, (expected, windows, future) in replays.items():
            run = future.result()
            seconds[f"replay {name}"] = run.seconds
            got = run.trace.read_text().splitlines()
            for cycle, want in enumerate(expected):
                if want is not None and got[cycle] != want:
                    raise GateSimError(f"{name} netlist differs from its RTL at replay cycle "
                                       f"{cycle}: netlist {got[cycle]}, RTL {want} "
                                       f"({run.trace})")
                vectors += want is not None
            flops = flip_flop_outputs(modules[name])
            gates = {((), bit): "instance" for bits in flops.values() for bit in bits}
            for category, activity in read_activity(run.vcd, modules, name, windows,
                                                    gates=gates).items():
                # The windows are the instances one after another: their enabled cycles add up.
                gating[category or rules.glue_of(name)].add(
                    len(flops) * len(windows[category]), len(windows[category]),
                    len(flops) * activity.enabled_edges.get("instance", 0))
                toggles.append(ToggleSet(name, {bit: n for (_, bit), n in
                                                    activity.toggles.items()}, category,
                                             len(windows[category])))
    return toggles, vectors


def _glue_gates(modules, paths, leaf_types, inherited, rules):
    """Clock-gating groups of the glue: the registers (flip-flops whose outputs share a net
    name) of each module instance, as synthesis inserts one clock gate per register with an
    enable. Returns the ``(path, category, register)`` group of every flip-flop output bit
    and each group's flip-flops."""
    gates, counts = {}, defaultdict(int)
    shares = {}
    for path, name in paths.items():
        if name in leaf_types:
            continue
        module = modules[name]
        if inherited[path] is None and name not in shares:
            shares[name] = glue_shares(module, rules)
        for flop, bits in flip_flop_outputs(module).items():
            category = inherited[path] or max(shares[name][flop].items(),
                                              key=lambda item: item[1])[0]
            # A register's bits share a name; Yosys' own names (``$...``, ``_0042_``) last.
            names = sorted((name for b in bits for name, _ in module.names.get(b, ())),
                           key=lambda n: (n.startswith(("$", "_")), len(n), n))
            group = (path, category, names[0] if names else flop)
            counts[group] += 1
            gates.update({(path, bit): group for bit in bits})
    return gates, dict(counts)


def measure_power(result: SynthesisResult, rtl_files: dict[str, Path], stimulus: Stimulus,
                  rules: CategoryRules, clock_mhz: float, work_dir: str | Path,
                  progress: Callable[[str], None] = lambda _: None) -> PowerRun:
    """Power of ``result``'s top module under ``stimulus`` (see the module docstring).

    Parameters
    ----------
    result : SynthesisResult
        A synthesis against dcom's library (the gate-level runs need its cell models).
    rtl_files : dict
        Module name -> RTL Verilog (with memory contents), as written by
        :func:`dcom.synth.design.write_library_sources`.
    stimulus : Stimulus
        Inputs per cycle and the measured window.
    rules : CategoryRules
    clock_mhz : float
    work_dir : path
    progress : callable

    Raises
    ------
    dcom.synth.gatesim.GateSimError
        If a simulation fails, or a netlist's outputs differ from the RTL's.
    """
    work = Path(work_dir)
    top = result.top
    modules, library, macros = load_netlist(result)
    paths = instance_paths(modules, top)
    inherited = inherited_categories(modules, top, rules)
    # Leaves: modules of logic only (an SRAM module's macro runs as its model in the glue run).
    leaves = {p: n for p, n in paths.items()
              if p and not modules[n].instances(MODULE) and not modules[n].instances(MACRO)}
    outputs = {name: len(bits) for name, (d, bits) in modules[top].ports.items()
               if d == "output"}
    seconds = {}

    samples = [(path, port) for path, name in leaves.items() for direction in ("input", "output")
               for port in _data_ports(modules[name], direction)]
    progress(f"RTL run of {top}: {len(stimulus.cycles)} cycles, recording {len(leaves)} "
             f"leaf instances")
    rtl = simulate(list(rtl_files.values()), top, stimulus, outputs, work / "rtl",
                   samples=[_rtl_path(path) + (port,) for path, port in samples])
    seconds["rtl run"] = rtl.seconds

    texts = _split_modules(result.netlist.read_text())
    cells = write_verilog_models(work / "cells.v")
    # Verilator traces the design's nets, not the cell models' pins (which alias them).
    cells.write_text("/*verilator tracing_off*/\n" + cells.read_text())
    macro_models = [result.macro_views["models"]] if result.macro_views else []
    glue = work / "glue_netlist.v"
    leaf_types = set(leaves.values())
    glue.write_text("".join(text for name, text in texts.items()
                            if name in paths.values() and name not in leaf_types))
    progress(f"netlist run of {top}'s glue with RTL leaves, activity dump")
    mixed = simulate([glue, cells, *macro_models, *(rtl_files[n] for n in leaf_types)], top,
                     stimulus, outputs, work / "netlist",
                     dump_scopes=[p for p, n in paths.items() if n not in leaf_types])
    seconds["netlist run"] = mixed.seconds
    checked = compare_traces(rtl.trace, mixed.trace, f"{top} netlist")
    enables = macro_enables(modules, top)
    probes = [(path, net) for (path, _), pins in enables.items() for net in pins.values()
              if isinstance(net, int)]
    gates, flop_counts = _glue_gates(modules, paths, leaf_types, inherited, rules)
    glue_activity = read_activity(mixed.vcd, modules, top, {None: [mixed.window_ps]},
                                  probes=probes, gates=gates)[None]
    gating = defaultdict(ClockGating)
    for group, flops in flop_counts.items():
        gating[group[1]].add(flops, 1, flops * glue_activity.enabled_edges.get(group, 0))
    cycles = glue_activity.clock_edges
    toggle_sets = []
    by_path = defaultdict(dict)
    for (path, bit), count in glue_activity.toggles.items():
        by_path[path][bit] = count
    for path, toggles in by_path.items():
        toggle_sets.append(ToggleSet(paths[path], toggles, inherited[path]))
    sram = defaultdict(lambda: {"reads": 0, "writes": 0})
    for (path, cell_name), pins in enables.items():
        cell = modules[paths[path]].cells[cell_name]
        category = inherited[path] or rules.instance(cell_name) or rules.glue_of(paths[path])
        for pin, net in pins.items():
            n = glue_activity.probe_highs.get((path, net), 0) if isinstance(net, int) else \
                (cycles if net == "1" else 0)
            sram[(category, cell.type)]["reads" if pin.startswith("R") else "writes"] += n

    replayed, vectors = _replay_leaves(modules, leaves, inherited, texts, cells, rtl.samples,
                                       samples, stimulus.window, work / "leaves", progress,
                                       seconds, gating, rules)
    toggle_sets += replayed
    progress(f"netlist equals RTL: {checked} cycles of {top}, {vectors} leaf vectors")
    leakage = {c: f.leakage_nw for c, f in category_figures(result, rules).items()}
    power = power_breakdown(modules, library, macros, toggle_sets, dict(sram), cycles, rules,
                            leakage, result.macros, clock_mhz, dict(gating))
    return PowerRun(power, checked, vectors, rtl.trace, seconds)
