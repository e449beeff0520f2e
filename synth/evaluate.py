"""``dcom synth``: area, timing and power of a D-com instance, and its comparison with a
systolic array.

For a :class:`~dcom.config.DcomConfig` this

1. builds the cluster hierarchically and synthesizes each distinct module once
   (:mod:`dcom.synth.design`), SRAM buffer as a macro, ABC mapping for the clock period;
   area by category; then times it (static timing analysis, :mod:`dcom.synth.sta`): worst
   slacks at the configured clock, fmax per module, the worst paths;
2. measures the cluster's power on a Lanczos step (MV and MTV on an activation-like matrix,
   :mod:`dcom.synth.workloads`), gate level, module by module (:mod:`dcom.synth.measure`);
3. synthesizes the whole instance (``dcom.hw.top``: the clusters, banks, reduction network,
   controller and scalar unit), each distinct module once and the cluster's netlist taken
   from step 1, in parallel with the cluster's measurements, and times it; small instances
   it also measures at gate level on a compiled Lanczos run. The full array's area is that
   synthesis, its power the measured cluster's times ``R x C`` plus the top level's from
   :mod:`dcom.synth.toplevel` (its memories' accesses, its flip-flops' clock, fitted data
   energy), checked against the gate-level run where there is one;
4. with ``compare=("systolic",)``, builds a weight-stationary systolic array with the same
   multipliers and SRAM capacity as one cluster (:mod:`dcom.hw.systolic`), synthesizes and
   times it and measures it on the same step the same way; then compares at cluster scale
   (measured) and at full scale (a systolic array of ``R P x C Q`` PEs with one global
   buffer, scaled from the measured one by structural counts, see
   :func:`full_scale_systolic`);
5. writes ``dcom_synth.json``, ``.md`` and PNG charts (:mod:`dcom.report`), and per design
   ``dcom_timing_<design>.json``, ``.md`` and a slack histogram.

The top level goes through the same flow: :func:`dcom.synth.design.synthesize_library` on
``dcom.hw.top``'s library synthesizes the cluster once (a submodule counted ``R x C`` times)
and the top's own logic once, and :data:`TOP_RULES` extends the cluster's categories with the
top's memories and glue.
"""

from __future__ import annotations

import math
import re
import numpy as np
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from dcom.config import DcomConfig
from dcom.hw.cluster import Cluster, vector_lane_group
from dcom.hw.generate import TOP_MODULE
from dcom.hw.hierarchy import ModuleLibrary
from dcom.hw.systolic import SystolicArray
from dcom.hw.top import Dcom
from dcom.report import BarChart, ReportFiles, Table, write_report

from . import sram
from .categories import CategoryRules
from .design import CategoryFigures, category_figures, load_netlist, synthesize_library, \
    write_library_sources
from .fig13 import COMPARISONS, LIKELY_PAPER_COMPARISON, StepFigures, compare_designs
from .flow import Progress, SynthesisResult, validate_liberty
from .measure import PowerRun, measure_power
from .power import ClockGating, PowerBreakdown, PowerFigures
from .sta import DEFAULT_PATHS, DesignTiming, TimingError, analyze
from .toplevel import TOP_LEVEL_MODEL, TopActivity, TopLevelModel, program_activity
from .workloads import (LanczosStep, Workload, activation_matrix, cluster_workload,
                        lanczos_step, systolic_workload, top_workload)
from dcom.sw.compiler import CompileError, compile_lanczos
from dcom.sw.cycles import program_cycles
from dcom.sw.systolicmodel import TileProduct, matrix_vector_schedule, systolic_latency

__all__ = ["CLUSTER_RULES", "TOP_RULES", "SYSTOLIC_RULES", "TOP_GLUE_CATEGORY", "DesignEvaluation",
           "SynthReport", "TimingSettings", "evaluate", "evaluate_systolic", "step_for",
           "systolic_for", "full_scale_systolic", "PAPER"]

CLUSTER_TOP = "dcom_cluster"
SYSTOLIC_TOP = "dcom_systolic"
#: Category of the top level's own logic: bank ports, tile buses, reduction network,
#: controller and scalar unit.
TOP_GLUE_CATEGORY = "top level (buses, reduction, controller)"
#: Category of the top level's memories.
TOP_MEMORY_CATEGORY = "banks, program and broadcast memories (SRAM)"
#: The paper's figure 13: D-com relative to a systolic array of the same compute and memory.
PAPER = {"area": 1.03, "power": 0.41}
#: By default the whole instance's power is measured at gate level up to this many
#: multipliers (64 took 25 minutes on a 2-core machine).
TOP_POWER_MAX_MULTIPLIERS = 16
#: Lanczos steps of the whole instance's power workload.
TOP_POWER_STEPS = 4

CLUSTER_RULES = CategoryRules(
    order=("multipliers", "reduction trees", "accumulators", "scatter network + control",
           "buffers (SRAM)"),
    instances=((r"mul_\d+_\d+", "multipliers"),
               (r"(row|col)\d+_l\d+_\d+", "reduction trees"),
               (r"(row|col)_acc_(add|widen)\d+|narrow_(row|col)\d+",
                "accumulators"),
               # The buffer's macro, directly or inside dcom.hw.sram's module.
               (r"buffer(\..+)?", "buffers (SRAM)")),
    endpoints=((r"^(row|col)\d+_(l\d+_\d+_q|align_d\d+)\[", "reduction trees"),
               (r"^(row|col)_acc_set\d+\[", "accumulators"),
               (r"^(row|col)_acc_add\d+\.", "accumulators")),
    glue="scatter network + control")

#: Categories of a whole D-com instance (``dcom.hw.top``): the cluster's, the top level's
#: memories, and the top's own logic; the clusters' glue stays "scatter network + control".
TOP_RULES = CategoryRules(
    order=CLUSTER_RULES.order + (TOP_MEMORY_CATEGORY, TOP_GLUE_CATEGORY),
    instances=CLUSTER_RULES.instances + (
        (r"bank_\d+|program|broadcast", TOP_MEMORY_CATEGORY),),
    endpoints=CLUSTER_RULES.endpoints,
    glue=TOP_GLUE_CATEGORY,
    module_glue=((CLUSTER_TOP, CLUSTER_RULES.glue),))

SYSTOLIC_RULES = CategoryRules(
    order=("multipliers", "PE adders", "weight registers", "PE data registers", "input skew",
           "accumulators", "control", "buffers (SRAM)"),
    instances=((r"mul", "multipliers"), (r"add", "PE adders"),
               (r"acc_add\d+|narrow\d+", "accumulators"),
               (r"buffer", "buffers (SRAM)")),
    endpoints=((r"^w[01]\[|^w_out$|^mul\.a\[", "weight registers"),
               (r"^(a_out|sel_out|a_valid_out|p_out|product_valid_d\d+)\[", "PE data registers"),
               (r"^skew\d+_", "input skew"),
               (r"^acc\[|^acc_add\d+\.", "accumulators")),
    glue="control")


def systolic_for(config: DcomConfig, scale: str = "cluster") -> dict:
    """Parameters of the systolic array with the compute and SRAM of one cluster
    (``scale="cluster"``) or of the whole array (``"full"``): ``rows x cols`` PEs, one buffer
    of the same capacity whose words span the array's edge."""
    rows = config.grid_rows * (config.cluster_rows if scale == "full" else 1)
    cols = config.grid_cols * (config.cluster_cols if scale == "full" else 1)
    clusters = config.n_clusters if scale == "full" else 1
    bits = clusters * config.buffer_depth * config.word_bits
    lanes = max(rows, cols)
    return dict(rows=rows, cols=cols, buffer_depth=bits // (16 * lanes),
                acc_format=config.acc_format, mul_stages=config.mul_stages)


@dataclass(frozen=True)
class TimingSettings:
    """How ``dcom synth`` maps and times a design.

    Attributes
    ----------
    clock_mhz : float
        The clock timing is checked against (and, with ``delay_mapping``, ABC's delay target).
    delay_mapping : bool
        Pass the clock period to ABC (:func:`dcom.synth.flow.synthesize`'s
        ``clock_period_ps``).
    paths : int
        Worst paths to report.
    """

    clock_mhz: float
    delay_mapping: bool = True
    paths: int = DEFAULT_PATHS

    @property
    def period_ps(self) -> float | None:
        """ABC's delay target, or None without delay-driven mapping."""
        return 1e6 / self.clock_mhz if self.delay_mapping else None

    def analyze(self, name: str, result: SynthesisResult, progress: Progress
                ) -> tuple[DesignTiming | None, str]:
        """Time ``result``; without delay tables in the library, None and the reason."""
        try:
            timing = analyze(result, self.clock_mhz, self.paths)
        except TimingError as exc:
            progress.step(f"{name}: timing not analysed: {exc}")
            return None, str(exc)
        progress.step(f"{name}: {timing.summary_line()} (static timing analysis "
                      f"{timing.seconds:.1f} s)")
        return timing, ""


@dataclass
class DesignEvaluation:
    """Synthesis, timing and power of one design (a cluster, or the systolic array).

    ``power`` is None when it was not measured (a user's Liberty file has no cell models);
    ``timing`` is None when the library has no delay tables (``timing_note`` says so).
    """

    name: str
    result: SynthesisResult
    rules: CategoryRules
    area: dict[str, CategoryFigures]
    power: PowerRun | None
    workload: Workload | None
    seconds: dict[str, float] = field(default_factory=dict)
    timing: DesignTiming | None = None
    timing_note: str = ""
    #: Why ``power`` is None, where that is not the Liberty file.
    power_note: str = ""

    def area_um2(self) -> float:
        """Total area."""
        return sum(f.area_um2 for f in self.area.values())

    def to_dict(self) -> dict:
        """Plain-data form for JSON reports."""
        return {"top": self.result.top, "synthesis": self.result.to_dict(),
                "area_by_category": {k: v.to_dict() for k, v in self.area.items()},
                "area_um2": self.area_um2(),
                "power": self.power.power.to_dict() if self.power else None,
                "power_checks": {"cycles_equal_to_rtl": self.power.cycles_checked,
                                 "leaf_vectors_equal_to_rtl":
                                     self.power.leaf_vectors_checked} if self.power else None,
                "workload_macs": self.workload.macs if self.workload else None,
                "timing": self.timing.to_dict() if self.timing else None,
                "timing_note": self.timing_note, "seconds": self.seconds}


def _evaluate_design(name: str, build: Callable[[ModuleLibrary], object], top: str,
                     rules: CategoryRules, make_workload: Callable[[dict, object], Workload],
                     settings: TimingSettings, out_dir: Path, liberty: Path | None,
                     measure: bool, progress: Progress,
                     synthesized: Callable[[SynthesisResult], None] = lambda _: None
                     ) -> DesignEvaluation:
    """Build ``top`` with ``build(library)``, synthesize and time it, and unless ``measure``
    is false measure its power on ``make_workload(input widths, built design)``.
    ``synthesized`` receives the synthesis result as soon as there is one."""
    seconds = {}
    start = progress.elapsed
    progress.step(f"{name}: generating Verilog")
    library = ModuleLibrary()
    design = build(library)
    library.register(top, design)
    seconds["verilog"] = progress.elapsed - start
    start = progress.elapsed
    result = synthesize_library(library, top, out_dir / "synthesis", liberty=liberty,
                                progress=lambda line: progress.step(f"{name}: {line}"),
                                reports=False, clock_period_ps=settings.period_ps)
    synthesized(result)
    seconds["synthesis"] = progress.elapsed - start
    area = category_figures(result, rules)
    start = progress.elapsed
    timing, note = settings.analyze(name, result, progress)
    seconds["timing"] = progress.elapsed - start
    if not measure:
        return DesignEvaluation(name, result, rules, area, None, None, seconds, timing, note)
    start = progress.elapsed
    run, workload = _measure(name, library, result, rules,
                             lambda widths: make_workload(widths, design), settings, out_dir,
                             progress)
    seconds["power"] = progress.elapsed - start
    return DesignEvaluation(name, result, rules, area, run, workload, seconds, timing, note)


def _measure(name: str, library: ModuleLibrary, result: SynthesisResult, rules: CategoryRules,
             make_workload: Callable[[dict], Workload], settings: TimingSettings,
             out_dir: Path, progress: Progress) -> tuple[PowerRun, Workload]:
    """Power of a synthesized design on ``make_workload(input widths)``, its read-back words
    checked in the RTL run."""
    top = result.top
    modules, _, _ = load_netlist(result)
    widths = {p: len(bits) for p, (d, bits) in modules[top].ports.items()
              if d == "input" and p not in ("clk", "rst")}
    workload = make_workload(widths)
    rtl = write_library_sources(library, out_dir / "rtl_sim", memory_init=True)
    run = measure_power(result, {f.stem: f for f in rtl}, workload.stimulus, rules,
                        settings.clock_mhz, out_dir / "power",
                        lambda line: progress.step(f"{name}: {line}"))
    outputs = [p for p, (d, _) in modules[top].ports.items() if d == "output"]
    workload.check(run.rtl_trace, outputs, f"{name} RTL")
    return run, workload


def step_for(config: DcomConfig, tiles: int, seed: int) -> LanczosStep:
    """The Lanczos step both designs run: a block of ``tiles`` x ``tiles`` units of
    ``lcm(P, Q)``, so that it tiles the cluster grid and the systolic array alike."""
    unit = math.lcm(config.grid_rows, config.grid_cols)
    return lanczos_step(tiles * unit, tiles * unit, seed)


@dataclass
class FullScale:
    """A whole-array estimate: area and power by category, and the step's time."""

    area: dict[str, float]
    power: dict[str, PowerFigures]
    cycles: int
    basis: str
    buffer: sram.SramFigures | None = None
    #: Category -> (clock rate, idle clock rate) with clock gating, from the measured design
    #: (:class:`~dcom.synth.power.ClockGating`); categories not in it are not gated.
    gating: dict[str, tuple[float, float]] = field(default_factory=dict)

    def area_um2(self) -> float:
        """Total area."""
        return sum(self.area.values())

    def power_uw(self) -> float:
        """Total power."""
        return sum(f.total_uw for f in self.power.values())

    def energy_pj(self, clock_mhz: float) -> float:
        """Energy of the step."""
        return self.power_uw() * self.cycles / clock_mhz

    def without(self, category: str) -> "FullScale":
        """The same estimate without one category."""
        return FullScale({c: a for c, a in self.area.items() if c != category},
                         {c: p for c, p in self.power.items() if c != category},
                         self.cycles, f"{self.basis}; without {category}", self.buffer,
                         self.gating)

    def step_figures(self, clock_mhz: float, macs: int, multipliers: int) -> StepFigures:
        """The step's energy and idle power without and with clock gating."""
        rates = {c: self.gating.get(c, (1.0, 1.0)) for c in self.power}
        clock = sum(f.clock_uw for f in self.power.values())
        gated_clock = sum(f.clock_uw * rates[c][0] for c, f in self.power.items())
        gated_uw = self.power_uw() - clock + gated_clock
        return StepFigures(self.cycles, (self.energy_pj(clock_mhz),
                                         gated_uw * self.cycles / clock_mhz),
                           sum(f.leakage_uw for f in self.power.values()),
                           (clock, gated_clock),
                           sum(f.clock_uw * rates[c][1] for c, f in self.power.items()),
                           macs, multipliers, clock_mhz)

    def to_dict(self, clock_mhz: float) -> dict:
        """Plain-data form for JSON reports."""
        return {"basis": self.basis, "area_um2": self.area_um2(), "power_uw": self.power_uw(),
                "cycles": self.cycles, "energy_pj": self.energy_pj(clock_mhz),
                "clock_gating_rates": {c: {"clock": r[0], "idle": r[1]}
                                       for c, r in self.gating.items()},
                "area_by_category": self.area,
                "power_by_category": {k: v.to_dict() for k, v in self.power.items()}}


def _gating_rates(power: PowerBreakdown) -> dict[str, tuple[float, float]]:
    """Category -> (clock rate, idle clock rate) of a measured design's clock gating."""
    return {c: (g.clock_rate(power.cycles), g.idle_rate()) for c, g in power.gating.items()}


def full_scale_dcom(config: DcomConfig, cluster: DesignEvaluation,
                    top: DesignEvaluation | None, activity: TopActivity | None,
                    model: TopLevelModel = TOP_LEVEL_MODEL) -> FullScale:
    """The whole array running the step, each cluster its block in parallel.

    Area: the synthesis of the whole instance (``top``), by category. Power: the measured
    cluster's times ``R x C``, plus the top level's memories and own logic at the power
    ``model`` gives them on the whole instance's Lanczos run (``activity``,
    :func:`top_activity`); without ``activity`` (no run fits the memories) their leakage
    only. Without ``top``, the cluster times ``R x C``.
    """
    n = config.n_clusters
    power = cluster.power.power
    scaled = {c: PowerFigures(f.internal_uw * n, f.switching_uw * n, f.sram_uw * n,
                              f.leakage_uw * n, f.clock_uw * n)
              for c, f in power.categories.items()}
    gating = _gating_rates(power)
    if top is None:
        return FullScale({c: f.area_um2 * n for c, f in cluster.area.items()}, scaled,
                         power.cycles, f"cluster x {n} (R x C); top level not synthesized",
                         gating=gating)
    area = {c: f.area_um2 for c, f in top.area.items()}
    if activity is None:
        for category in (TOP_MEMORY_CATEGORY, TOP_GLUE_CATEGORY):
            scaled[category] = PowerFigures(leakage_uw=top.area[category].leakage_nw / 1000)
        return FullScale(area, scaled, power.cycles,
                         f"area: synthesis of the whole instance; power: the cluster's x {n} "
                         f"plus the top level's leakage (no Lanczos run fits its memories)",
                         gating=gating)
    scaled[TOP_MEMORY_CATEGORY] = model.memories(config, activity, top.area[TOP_MEMORY_CATEGORY])
    scaled[TOP_GLUE_CATEGORY] = model.glue(config, activity, top.area[TOP_GLUE_CATEGORY])
    gating[TOP_GLUE_CATEGORY] = (model.clock_rate, model.idle_clock_rate)
    return FullScale(area, scaled, power.cycles,
                     f"area: synthesis of the whole instance; power: the cluster's x {n} "
                     f"plus the top level's model on a Lanczos run of the whole instance",
                     gating=gating)


def _schedule_cycles(rows: int, cols: int, mul_stages: int, products: int) -> int:
    """Cycles of ``products`` tile products on a ``rows x cols`` array, drained."""
    tiles = [TileProduct(tuple(range(rows)), 0, "ACCUMULATE")] * products
    return len(matrix_vector_schedule(tiles, rows, cols, mul_stages)) + \
        systolic_latency(rows, cols, mul_stages)


def full_scale_systolic(config: DcomConfig, measured: DesignEvaluation) -> FullScale:
    """The systolic array of ``R P x C Q`` PEs and one global buffer of the whole capacity,
    scaled from the measured cluster-scale array, category by category.

    The step is the same: ``R x C`` times the cluster's block, i.e. as many tiles (now of
    ``R P x C Q`` weights) as the measured array processed. What scales, and by what:

    * structure (area, leakage, clock power): PE categories by the PE count; input skew by
      ``rows (rows - 1)``, its register count; accumulators by ``cols``; control by
      ``rows + cols`` (the token chain);
    * transitions (the rest of the dynamic energy): multipliers, PE adders and PE data
      registers by the multiply-accumulates (``R x C``); weight registers by loads times PEs
      (every load shifts a row into every PE of its bank); input skew by ``rows (rows - 1)``
      per vector; accumulators by ``cols``; control by commands times chain length;
    * the buffer: the SRAM model's macro of the full capacity and the full edge width, its
      accesses counted from the full-scale schedule;
    * time: the full-scale schedule (loads of ``rows`` words per tile, double-buffered);
    * clock gating: flip-flops and gates by the structure, the flip-flop cycles the gates let
      through by the events.

    ``scripts/check_systolic_scaling.py`` checks the estimate against arrays measured at
    the big size (:mod:`dcom.synth.scaling`).
    """
    small, full = systolic_for(config), systolic_for(config, "full")
    r0, c0, r1, c1 = small["rows"], small["cols"], full["rows"], full["cols"]
    pes = (r1 * c1) / (r0 * c0)
    macs = config.n_clusters
    run = measured.power.power
    tiles = round(measured.workload.macs / (r0 * c0))
    cycles = _schedule_cycles(r1, c1, config.mul_stages, tiles)
    structure = {"multipliers": pes, "PE adders": pes, "weight registers": pes,
                 "PE data registers": pes, "input skew": r1 * (r1 - 1) / max(1, r0 * (r0 - 1)),
                 "accumulators": c1 / c0, "control": (r1 + c1) / (r0 + c0)}
    events = {"multipliers": macs, "PE adders": macs, "PE data registers": macs,
              "weight registers": pes * r1 / r0,
              "input skew": structure["input skew"], "accumulators": c1 / c0,
              "control": (r1 / r0) * (r1 + c1) / (r0 + c0)}
    macro = sram.sram_figures(sram.SramConfig(full["buffer_depth"], 16 * max(r1, c1), 2, 1))
    reads = tiles * (r1 + 1)                      # weight rows and a vector per tile
    # Results: one word per tile column; the full array's tile columns are R*C times as many
    # outputs in words R*C times as wide, so as many words as the measured array wrote.
    writes = len(measured.workload.readback)
    area, power = {}, {}
    to_uw = config.clock_mhz / cycles * 1e-3      # fJ over the step -> uW
    for category, figures in run.categories.items():
        if category == "buffers (SRAM)":
            area[category] = macro.area_um2
            sram_uw = 1000 * (reads * macro.read_energy_pj
                              + writes * macro.write_energy_pj) * to_uw
            power[category] = PowerFigures(0.0, 0.0, sram_uw, macro.leakage_nw / 1000, 0.0)
            continue
        s, e = structure[category], events[category]
        area[category] = measured.area[category].area_um2 * s
        # Dynamic energy of the measured window, without the clock's share, scaled by events
        # and spread over the full-scale step; the clock's power scales with the flip-flops.
        window_fj = (figures.internal_uw + figures.switching_uw - figures.clock_uw) \
            * run.cycles / (config.clock_mhz * 1e-3)
        dynamic_uw = window_fj * e * to_uw
        share = figures.internal_uw / max(1e-12, figures.internal_uw + figures.switching_uw)
        power[category] = PowerFigures(dynamic_uw * share, dynamic_uw * (1 - share), 0.0,
                                       figures.leakage_uw * s, figures.clock_uw * s)
        power[category].internal_uw += figures.clock_uw * s * share
        power[category].switching_uw += figures.clock_uw * s * (1 - share)
    # Clock gating: flip-flops and gates scale with the structure, the cycles a gate lets
    # through with the events.
    gating = {}
    for category, g in run.gating.items():
        scaled = ClockGating(g.flops * structure.get(category, 1.0),
                             g.groups * structure.get(category, 1.0),
                             g.enabled_flop_cycles * events.get(category, 1.0))
        gating[category] = (scaled.clock_rate(cycles), scaled.idle_rate())
    return FullScale(area, power, cycles,
                     f"{r1} x {c1} PEs, one {macro.config.name} buffer; scaled from the "
                     f"measured {r0} x {c0} array by structural and event counts", macro,
                     gating)


@dataclass
class SynthReport:
    """Everything ``dcom synth`` produced."""

    config: DcomConfig
    cluster: DesignEvaluation
    systolic: DesignEvaluation | None
    top: DesignEvaluation | None
    full_dcom: FullScale | None
    full_systolic: FullScale | None
    #: The top level's activity on the whole instance's Lanczos run (:func:`top_activity`).
    top_activity: TopActivity | None = None
    files: ReportFiles | None = None
    seconds: float = 0.0

    def designs(self) -> list[DesignEvaluation]:
        """The evaluated designs: the cluster, the whole instance, the systolic array."""
        return [d for d in (self.cluster, self.top, self.systolic) if d is not None]

    def timing_failures(self) -> list[str]:
        """Why D-com misses the clock, one line per design (the cluster and, if synthesized,
        the whole instance; the systolic array is only compared); empty when it meets it."""
        failures = []
        for design in (self.cluster, self.top):
            if design is None:
                continue
            if design.timing is None:
                failures.append(f"{design.name}: timing not analysed ({design.timing_note})")
            elif not design.timing.met:
                failures.append(f"{design.name}: {design.timing.failure()}")
        return failures

    def top_level_check(self, model: TopLevelModel = TOP_LEVEL_MODEL) -> dict:
        """The top level's model (:mod:`dcom.synth.toplevel`) against the whole instance's
        gate-level run, category by category, ungated and gated; empty without a run."""
        top, activity = self.top, self.top_activity
        if top is None or top.power is None or activity is None:
            return {}
        measured = top.power.power
        gated = measured.gated()
        memories = model.memories(self.config, activity, top.area[TOP_MEMORY_CATEGORY])
        modelled = {TOP_MEMORY_CATEGORY: (memories, memories),
                    TOP_GLUE_CATEGORY: tuple(
                        model.glue(self.config, activity, top.area[TOP_GLUE_CATEGORY], g)
                        for g in (False, True))}
        rows = {category: {"model_uw": ungated.total_uw,
                           "measured_uw": measured.categories[category].total_uw,
                           "gated_model_uw": with_gating.total_uw,
                           "gated_measured_uw": gated.categories[category].total_uw}
                for category, (ungated, with_gating) in modelled.items()}
        for key in ("model_uw", "measured_uw", "gated_model_uw", "gated_measured_uw"):
            rows.setdefault("top level", {})[key] = sum(
                rows[c][key] for c in (TOP_MEMORY_CATEGORY, TOP_GLUE_CATEGORY))
        return rows

    def fig13(self) -> dict:
        """The paper's figure 13 three ways (:mod:`dcom.synth.fig13`), D-com over the systolic
        array, at cluster scale (measured) and for the full array (estimate)."""
        cluster, systolic = self.cluster, self.systolic
        if systolic is None or not (cluster.power and systolic.power):
            return {}
        config = self.config
        per_cluster = config.grid_rows * config.grid_cols
        macs = cluster.workload.macs
        result = {"cluster scale (measured)": compare_designs(
            StepFigures.measured(cluster.power.power, macs, per_cluster),
            StepFigures.measured(systolic.power.power, systolic.workload.macs, per_cluster))}
        if self.full_dcom and self.full_systolic:
            n = config.n_clusters
            result["full array (estimate)"] = compare_designs(
                self.full_dcom.without(TOP_MEMORY_CATEGORY).step_figures(
                    config.clock_mhz, n * macs, n * per_cluster),
                self.full_systolic.step_figures(config.clock_mhz, n * systolic.workload.macs,
                                                n * per_cluster))
        return result

    def ratios(self) -> dict:
        """D-com / systolic: area, power and energy of the step, at cluster and full scale."""
        if self.systolic is None:
            return {}
        clock = self.config.clock_mhz
        cluster, systolic = self.cluster, self.systolic
        ratios = {"cluster scale (measured)": {
            "area": cluster.area_um2() / systolic.area_um2()}}
        if cluster.power and systolic.power:
            a, b = cluster.power.power, systolic.power.power
            ratios["cluster scale (measured)"].update(
                power=a.total().total_uw / b.total().total_uw,
                energy=a.energy_pj() / b.energy_pj())
        if self.full_dcom and self.full_systolic:
            # The banks hold the prompt for either design; the systolic estimate has none.
            a, b = self.full_dcom.without(TOP_MEMORY_CATEGORY), self.full_systolic
            ratios["full array (estimate)"] = {"area": a.area_um2() / b.area_um2(),
                                               "power": a.power_uw() / b.power_uw(),
                                               "energy": a.energy_pj(clock) / b.energy_pj(clock)}
        return ratios


def evaluate(config: DcomConfig, out_dir: str | Path, *, liberty: str | Path | None = None,
             compare: Sequence[str] = (), tiles: int = 4, seed: int = 1,
             top_level: bool = True, measure_top: bool | None = None,
             delay_mapping: bool = True, paths: int = DEFAULT_PATHS,
             progress: Callable[[str], None] | None = None) -> SynthReport:
    """Synthesize and time the cluster (and the designs in ``compare``), measure power, write
    reports.

    Parameters
    ----------
    config : DcomConfig
    out_dir : path
        Receives ``dcom_synth.json``, ``.md``, the charts, and a folder per design with its
        netlist, logs and simulation files.
    liberty : path, optional
        A Liberty file instead of dcom's 15nm-style library. Power needs gate-level models of
        the cells, which dcom has only for its own library, so it is then not measured.
    compare : sequence of str
        ``"systolic"`` to compare with a weight-stationary systolic array.
    tiles : int
        The Lanczos step's block is ``tiles x tiles`` units of ``lcm(P, Q)`` elements.
    seed : int
        Seed of the step's matrix and start vector.
    top_level : bool
        Also synthesize the whole instance (in parallel with the rest), for the full array's
        area.
    measure_top : bool, optional
        Also measure the whole instance's power at gate level on a Lanczos run; default
        :func:`measures_top` (small instances only).
    delay_mapping : bool
        Give ABC the clock period as its delay target (see :class:`TimingSettings`).
    paths : int
        Worst paths to report per design.
    progress : callable, optional
        Receives one line per step (default: standard error).

    Raises
    ------
    ValueError
        For an unknown design in ``compare`` or a negative ``paths``.
    dcom.synth.LibertyError, dcom.synth.SynthesisError, dcom.synth.gatesim.GateSimError
        From the flow and the simulations.
    """
    unknown = sorted(set(compare) - {"systolic"})
    if unknown:
        raise ValueError(f"compare={unknown[0]!r} is not a design dcom compares with; "
                         f"allowed values: 'systolic'")
    if not isinstance(paths, int) or paths < 0:
        raise ValueError(f"paths={paths!r}; allowed values: integers >= 0")
    settings = TimingSettings(config.clock_mhz, delay_mapping, paths)
    steps = Progress(progress)
    out_dir = Path(out_dir)
    measure = liberty is None
    if measure and re.search(r"[:\s]", str(out_dir.absolute())):
        # Found before hours of synthesis, not by the first Verilator build.
        raise ValueError(f"out_dir={str(out_dir)!r}: the gate-level simulations build with "
                         f"make, which cannot take ':' or whitespace in a path; allowed "
                         f"values: a folder whose path has neither")
    steps.step(f"dcom synth: {config.describe()}, clock {config.clock_mhz:g} MHz")
    if liberty is not None:
        # Before the designs are elaborated, which takes minutes for a whole instance.
        steps.step(f"checking liberty {liberty}")
        validate_liberty(liberty, out_dir / "liberty_check", steps)
    step = step_for(config, tiles, seed)
    # The whole instance takes the cluster's netlist from the cluster's own run, then is
    # synthesized while the cluster's power is measured.
    cluster_netlist = Future()
    with ThreadPoolExecutor(max_workers=1) as pool:
        top_future = pool.submit(_synthesize_top(
            config, out_dir / "top", liberty, settings, cluster_netlist, steps,
            _top_power_note(config, measure, measure_top), tiles, seed)) if top_level else None
        try:
            cluster, systolic = _evaluate_cluster_and_systolic(
                config, compare, step, out_dir, liberty, measure, settings, steps,
                cluster_netlist.set_result)
        except BaseException as exc:
            if not cluster_netlist.done():
                cluster_netlist.set_exception(exc)
            raise
        top = top_future.result() if top_future else None
    activity = top_activity(config, tiles) if top is not None else None
    full_dcom = full_scale_dcom(config, cluster, top, activity) if cluster.power else None
    full_systolic = full_scale_systolic(config, systolic) \
        if systolic is not None and systolic.power else None
    report = SynthReport(config, cluster, systolic, top, full_dcom, full_systolic,
                         top_activity=activity)
    report.seconds = steps.elapsed
    report.files = write_synth_report(report, out_dir)
    steps.step(f"report: {report.files.markdown}")
    return report


def top_matrix_shape(config: DcomConfig, tiles: int) -> tuple[int, int]:
    """The matrix of the whole instance's power workload: ``tiles`` tiles of the grid per
    cluster row and column."""
    return (tiles * config.cluster_rows * config.grid_rows,
            tiles * config.cluster_cols * config.grid_cols)


def top_level_share(power: PowerBreakdown) -> float:
    """Fraction of a whole instance's power in its top level's memories and own logic."""
    top = sum(power.categories[c].total_uw for c in (TOP_MEMORY_CATEGORY, TOP_GLUE_CATEGORY))
    return top / power.total().total_uw


def fitting_steps(config: DcomConfig, rows: int, cols: int) -> int:
    """The most Lanczos steps, up to :data:`TOP_POWER_STEPS`, of a ``rows x cols`` matrix that
    the instance's memories hold; 0 if not even one fits."""
    for steps in range(min(TOP_POWER_STEPS, rows, cols), 0, -1):
        try:
            compile_lanczos(config, rows, cols, steps)
        except CompileError:
            continue
        return steps
    return 0


def top_activity(config: DcomConfig, tiles: int) -> TopActivity | None:
    """The top level's activity on the whole instance's Lanczos run (the program
    :func:`dcom.synth.workloads.top_workload` runs on a matrix of
    :func:`top_matrix_shape`); None if no step of it fits the memories."""
    rows, cols = top_matrix_shape(config, tiles)
    steps = fitting_steps(config, rows, cols)
    if steps == 0:
        return None
    program = compile_lanczos(config, rows, cols, steps).program
    return program_activity(config, program, program_cycles(config, program).total)


def measures_top(config: DcomConfig) -> bool:
    """Whether ``dcom synth`` measures the whole instance's power at gate level by default:
    up to :data:`TOP_POWER_MAX_MULTIPLIERS` multipliers (the time grows faster than the
    instance; a gate-level run of the paper's point would take weeks)."""
    return config.n_clusters * config.grid_rows * config.grid_cols <= TOP_POWER_MAX_MULTIPLIERS


def _top_power_note(config: DcomConfig, measure: bool, measure_top: bool | None) -> str:
    """Why the whole instance's power is not measured; empty if it is."""
    if not measure:
        return "a user's Liberty file has no cell models"
    if measure_top is False:
        return "not asked for (--no-measure-top)"
    if measure_top is None and not measures_top(config):
        return (f"by default only up to {TOP_POWER_MAX_MULTIPLIERS} multipliers are simulated "
                f"at gate level (this instance has "
                f"{config.n_clusters * config.grid_rows * config.grid_cols}); --measure-top "
                f"asks for it")
    return ""


def _synthesize_top(config: DcomConfig, out_dir: Path, liberty, settings: TimingSettings,
                    cluster: Future, steps: Progress, power_note: str, tiles: int, seed: int
                    ) -> Callable[[], DesignEvaluation]:
    """Build the whole instance's Verilog now (Amaranth in this thread); return the job that
    waits for ``cluster``'s synthesis result, then synthesizes the rest (Yosys, a separate
    process), groups its area and times it, and unless ``power_note`` says why not measures
    its power on a Lanczos run (:func:`dcom.synth.workloads.top_workload`)."""
    start = steps.elapsed
    steps.step("top: generating Verilog")
    library = ModuleLibrary()
    library.register(TOP_MODULE, Dcom(config, library))
    verilog_seconds = steps.elapsed - start

    def job() -> DesignEvaluation:
        prebuilt = cluster.result()
        started = steps.elapsed
        result = synthesize_library(library, TOP_MODULE, out_dir / "synthesis",
                                    liberty=liberty, reports=False, prebuilt=prebuilt,
                                    purge_names=True,
                                    progress=lambda line: steps.step(f"top: {line}"),
                                    clock_period_ps=settings.period_ps)
        seconds = {"verilog": verilog_seconds, "synthesis": steps.elapsed - started}
        area = category_figures(result, TOP_RULES)
        started = steps.elapsed
        timing, note = settings.analyze("top", result, steps)
        seconds["timing"] = steps.elapsed - started
        a = activation_matrix(*top_matrix_shape(config, tiles), np.random.default_rng(seed))
        lanczos_steps = fitting_steps(config, *a.shape) if not power_note else 0
        if lanczos_steps == 0:
            return DesignEvaluation("top", result, TOP_RULES, area, None, None, seconds,
                                    timing, note, power_note or "no Lanczos run of the "
                                    f"{a.shape[0]} x {a.shape[1]} workload fits its memories")
        started = steps.elapsed
        run, workload = _measure(
            "top", library, result, TOP_RULES,
            lambda widths: top_workload(config, widths, a, lanczos_steps, seed), settings,
            out_dir, steps)
        seconds["power"] = steps.elapsed - started
        return DesignEvaluation("top", result, TOP_RULES, area, run, workload, seconds, timing,
                                note)
    return job


def _evaluate_cluster_and_systolic(config, compare, step, out_dir, liberty, measure, settings,
                                   steps, cluster_synthesized):
    """The cluster's evaluation and, if ``compare`` asks, the systolic array's."""
    cluster = _evaluate_design(
        "cluster", lambda library: Cluster(config, library), CLUSTER_TOP, CLUSTER_RULES,
        lambda widths, cluster: cluster_workload(config, widths, step, cluster.latency),
        settings, out_dir / "cluster", liberty, measure, steps, cluster_synthesized)
    systolic = evaluate_systolic(config, step, out_dir / "systolic", liberty, measure, settings,
                                 steps) if "systolic" in compare else None
    return cluster, systolic


def evaluate_systolic(config: DcomConfig, step: LanczosStep, out_dir: Path,
                      liberty: Path | None, measure: bool, settings: TimingSettings,
                      progress: Progress, name: str = "systolic") -> DesignEvaluation:
    """Synthesis, timing and (with ``measure``) power on ``step`` of the systolic array with
    one cluster's multipliers and SRAM (:func:`systolic_for`)."""
    return _evaluate_design(
        name, lambda library: SystolicArray(**systolic_for(config), library=library),
        SYSTOLIC_TOP, SYSTOLIC_RULES, lambda widths, array: systolic_workload(array, widths, step),
        settings, out_dir, liberty, measure, progress)


#: Categories of both designs grouped alike, for the comparison.
GROUPS = {
    "multipliers": "multipliers",
    "reduction trees": "reduction adders", "PE adders": "reduction adders",
    "accumulators": "accumulators",
    "scatter network + control": "data movement + control",
    "weight registers": "data movement + control", "PE data registers": "data movement + control",
    "input skew": "data movement + control", "control": "data movement + control",
    "buffers (SRAM)": "buffers (SRAM)",
}
GROUP_ORDER = ("multipliers", "reduction adders", "accumulators", "data movement + control",
               "buffers (SRAM)")


def _grouped(values: dict[str, float]) -> dict[str, float]:
    out = dict.fromkeys(GROUP_ORDER, 0.0)
    for category, value in values.items():
        out[GROUPS.get(category, "data movement + control")] += value
    return out


def _area_table(title: str, design: DesignEvaluation) -> Table:
    total = design.area_um2()
    rows = [[c, f.area_um2, 100 * f.area_um2 / total, f.std_area_um2, f.macro_area_um2,
             round(f.cells), round(f.flip_flops), f.leakage_nw / 1000]
            for c, f in design.area.items()]
    rows.append(["total", total, 100.0, sum(f.std_area_um2 for f in design.area.values()),
                 sum(f.macro_area_um2 for f in design.area.values()),
                 round(sum(f.cells for f in design.area.values())),
                 round(sum(f.flip_flops for f in design.area.values())),
                 sum(f.leakage_nw for f in design.area.values()) / 1000])
    return Table(title, ["category", "area (um^2)", "share (%)", "standard cells (um^2)",
                         "SRAM macros (um^2)", "cells", "flip-flops", "leakage (uW)"], rows)


def _module_table(title: str, design: DesignEvaluation) -> Table:
    result = design.result
    instances = result.instances()
    order = sorted(result.modules, key=lambda m: (m != result.top, m))
    rows = [[m, instances.get(m, 0), result.modules[m].cell_count,
             result.modules[m].area_um2, result.modules[m].area_um2 * instances.get(m, 0)]
            for m in order if instances.get(m, 0)]
    return Table(title, ["module (synthesized once)", "instances", "cells (own)",
                         "area per instance (um^2)", "area, all instances (um^2)"], rows,
                 notes="Own content of each module; submodules are their own rows.")


def _power_table(title: str, power: PowerBreakdown) -> Table:
    total = power.total().total_uw
    rows = [[c, f.internal_uw, f.switching_uw, f.sram_uw, f.leakage_uw, f.total_uw,
             100 * f.total_uw / total, f.clock_uw] for c, f in power.categories.items()]
    t = power.total()
    rows.append(["total", t.internal_uw, t.switching_uw, t.sram_uw, t.leakage_uw,
                 t.total_uw, 100.0, t.clock_uw])
    return Table(title, ["category", "internal (uW)", "switching (uW)", "SRAM access (uW)",
                         "leakage (uW)", "total (uW)", "share (%)", "of which clock (uW)"],
                 rows)


def _full_table(report: SynthReport) -> Table:
    clock = report.config.clock_mhz
    rows = []
    for name, full in (("D-com", report.full_dcom), ("systolic array", report.full_systolic)):
        if full is not None:
            rows.append([name, full.area_um2() / 1e6, full.power_uw() / 1e6, full.cycles,
                         full.energy_pj(clock) / 1e6, full.basis])
    return Table("Full array", ["design", "area (mm^2)", "power (W)", "step (cycles)",
                                "step energy (uJ)", "basis"], rows,
                 notes="D-com's area is the synthesis of the whole instance; its power is "
                       "the measured cluster's times R x C plus the top level's (memories, "
                       "network, buses, controller) from its model (dcom.synth.toplevel) on a "
                       "Lanczos run of the whole instance. The systolic array is scaled from "
                       "the measured one "
                       "(`dcom.synth.evaluate.full_scale_systolic`). The ratios leave out "
                       "D-com's banks: either design needs the memory that holds the prompt, "
                       "and the systolic estimate has none. Power and time at "
                       f"{clock:g} MHz; {_clock_status(report.cluster, clock)}.")


def _top_check_table(report: SynthReport) -> Table:
    check = report.top_level_check()
    rows = [[category, c["model_uw"] / 1000, c["measured_uw"] / 1000,
             c["model_uw"] / c["measured_uw"], c["gated_model_uw"] / 1000,
             c["gated_measured_uw"] / 1000, c["gated_model_uw"] / c["gated_measured_uw"]]
            for category, c in check.items()]
    return Table("Top level: model against the gate-level run",
                 ["category", "model (mW)", "measured (mW)", "model / measured",
                  "gated model (mW)", "gated measured (mW)", "gated model / measured"], rows,
                 notes=f"The model (dcom.synth.toplevel, {TOP_LEVEL_MODEL.basis}): the "
                       f"memories' accesses counted from the program times the SRAM model's "
                       f"energies, the flip-flops' clock from synthesis, a fitted data energy "
                       f"and clock-gating rate; it gives the full array's top level.")


def _clock_status(design: DesignEvaluation, clock: float) -> str:
    """Whether ``design`` meets ``clock``, in words."""
    timing = design.timing
    if timing is None:
        return f"the {design.name}'s timing is not analysed"
    if timing.met:
        return f"the {design.name} meets that clock (fmax {timing.fmax_mhz:,.1f} MHz)"
    fmax = f"fmax {timing.fmax_mhz:,.1f} MHz" if timing.fmax_mhz else "see its timing"
    return f"the {design.name} does NOT meet that clock ({fmax})"


def _timing_table(report: SynthReport) -> Table:
    clock = report.config.clock_mhz
    rows = []
    for design in report.designs():
        timing = design.timing
        if timing is None:
            rows.append([design.name, "not analysed", "-", "-", "-", design.timing_note, "-",
                         "-"])
            continue
        path = timing.paths[0] if timing.paths else None
        rows.append([design.name, "yes" if timing.met else "NO", _or_dash(timing.wns_ps),
                     _or_dash(timing.hold_slack_ps), _or_dash(timing.fmax_mhz),
                     f"{path.startpoint} -> {path.endpoint}" if path else "-",
                     path.cells if path else "-",
                     f"[dcom_timing_{design.name}.md](dcom_timing_{design.name}.md)"])
    return Table(f"Timing at {clock:g} MHz", ["design", "met", "worst setup slack (ps)",
                                              "worst hold slack (ps)", "fmax (MHz)",
                                              "critical path", "cells on it", "details"],
                 rows, notes="Static timing analysis of the synthesized netlists "
                             "(docs/timing.md): register-to-register paths, ideal clock, the "
                             "library's NLDM delays and a wire estimate per fan-out pin.")


def _or_dash(value):
    return "-" if value is None else value


def _power_at_fmax_table(design: DesignEvaluation, clock: float) -> Table:
    """Power of the measured step at the requested clock and at fmax: the dynamic part scales
    with the clock, leakage does not."""
    power = design.power.power
    total = power.total()
    rows = []
    clocks = [(clock, "requested: " + ("met" if design.timing and design.timing.met
                                       else "not met" if design.timing else "not timed"))]
    if design.timing is not None and design.timing.fmax_mhz:
        clocks.append((design.timing.fmax_mhz, "fmax"))
    for mhz, label in clocks:
        dynamic = total.dynamic_uw * mhz / clock
        rows.append([mhz, label, dynamic, total.leakage_uw, dynamic + total.leakage_uw,
                     (dynamic + total.leakage_uw) * power.cycles / mhz / 1e3])
    return Table(f"{design.name.capitalize()} power at the requested clock and at fmax",
                 ["clock (MHz)", "", "dynamic (uW)", "leakage (uW)", "total (uW)",
                  "energy per step (nJ)"], rows)


def _comparison(report: SynthReport) -> tuple[Table, Table, list[str]]:
    ratios = report.ratios()
    scales = list(ratios)
    rows = []
    for key, paper in (("area", PAPER["area"]), ("power", PAPER["power"]), ("energy", None)):
        rows.append([f"{key} D-com / systolic"]
                    + [f"{ratios[s][key]:.3f} ({100 * (ratios[s][key] - 1):+.0f} %)"
                       if key in ratios[s] else "-" for s in scales]
                    + [f"{paper:.2f} ({100 * (paper - 1):+.0f} %)" if paper else "-"])
    table = Table("D-com versus a systolic array of the same multipliers and SRAM",
                  ["ratio"] + scales + ["paper, fig. 13"], rows)
    cluster, systolic = report.cluster, report.systolic
    groups = [_grouped({c: f.area_um2 for c, f in d.area.items()})
              for d in (cluster, systolic)]
    power = [_grouped({c: f.total_uw for c, f in d.power.power.categories.items()})
             if d.power else None for d in (cluster, systolic)]
    rows = [[g, groups[0][g], groups[1][g]] + ([power[0][g], power[1][g]] if power[0] else [])
            for g in GROUP_ORDER]
    columns = ["group", "D-com cluster area (um^2)", "systolic area (um^2)"]
    if power[0]:
        columns += ["D-com cluster power (uW)", "systolic power (uW)"]
    by_group = Table("Where the difference comes from (cluster scale, measured)", columns, rows)
    return table, by_group, _explanation(report, groups, power)


def _fig13_table(report: SynthReport) -> tuple[Table, BarChart, list[str]]:
    """The three comparisons as a table, a chart in the style of the paper's figure 13, and
    what each means."""
    fig13 = report.fig13()
    rows, series = [], {}
    for scale, comparison in fig13.items():
        for name in COMPARISONS:
            for gated in ("ungated", "gated"):
                f = comparison[name][gated]
                unit = "pj" if name == "energy at equal work" else "uw"
                rows.append([scale, name, f"clock {gated}", f[f"dcom_{unit}"],
                             f[f"systolic_{unit}"], f["ratio"],
                             f"{100 * (f['ratio'] - 1):+.0f} %"])
                series.setdefault(f"{scale}, clock {gated}", []).append(f["ratio"])
    table = Table("Figure 13 three ways: D-com / systolic array",
                  ["scale", "comparison", "clock", "D-com (pJ or uW)", "systolic (pJ or uW)",
                   "D-com / systolic", "change"], rows)
    chart = BarChart("Figure 13 three ways",
                     ["energy,\nequal work", "average power,\ncommon window",
                      "power, equal\nutilization"], series, ylabel="D-com / systolic array",
                     stacked=False, reference=("paper: power 0.41", PAPER["power"]))
    likely, why = LIKELY_PAPER_COMPARISON
    cluster = fig13["cluster scale (measured)"]
    notes = [f"{name.capitalize()}: {meaning}." for name, meaning in COMPARISONS.items()]
    notes.append(
        f"Utilization of the multipliers on the step (cluster scale): D-com "
        f"{100 * cluster['utilization']['dcom']:.1f} %, systolic array "
        f"{100 * cluster['utilization']['systolic']:.1f} %; the common window is "
        f"{cluster['window_cycles']} cycles. Clock gating: one gate per register (flip-flops "
        f"sharing a name) and per FP unit, open in the cycles after which one of its "
        f"flip-flops changes, each gate clocked every cycle (docs/power.md). The paper's -59 % "
        f"is most likely the {likely}: {why}.")
    return table, chart, notes


def _explanation(report: SynthReport, area, power) -> list[str]:
    """The comparison's reasons, in words, from the measured figures."""
    config = report.config
    s = systolic_for(config)
    text = [
        f"Both designs use the same FP16 multipliers and {config.acc_format.upper()} adders "
        f"(dcom.hw.fp), the same library and the same SRAM model; the systolic array has "
        f"{s['rows']} x {s['cols']} PEs and a {s['buffer_depth']}-word buffer of "
        f"{16 * max(s['rows'], s['cols'])}-bit words, the cluster's multipliers and capacity.",
        f"Area: a D-com cluster has two adders per multiplier (a row and a column tree), the "
        f"systolic array one per PE, so its reduction adders take "
        f"{area[0]['reduction adders']:,.0f} against {area[1]['reduction adders']:,.0f} um^2; "
        f"the systolic array pays instead for weight double-buffering, activation and partial-"
        f"sum registers in every PE and input skew registers "
        f"({area[1]['data movement + control']:,.0f} against "
        f"{area[0]['data movement + control']:,.0f} um^2 of data movement and control). "
        f"The buffers have the same capacity; the cluster's is wider "
        f"({config.word_bits} bits) and shallower.",
    ]
    clock = config.clock_mhz

    def nanojoules(uw, cycles):
        return uw * cycles / clock / 1e3

    if power[0]:
        cluster, systolic = report.cluster.power.power, report.systolic.power.power
        more = "more" if systolic.energy_pj() > cluster.energy_pj() else "less"
        text.append(
            f"Power on the same Lanczos step (cluster scale): D-com finishes it in "
            f"{cluster.cycles} cycles, the systolic array in {systolic.cycles}: with a single "
            f"vector a weight-stationary array is bound by loading weights ({s['rows']} cycles "
            f"per tile, against one command per tile for the cluster). Power is energy over "
            f"that time, so the systolic array draws "
            f"{systolic.total().total_uw / cluster.total().total_uw:.2f} times the cluster's "
            f"power while spending {more} energy on the step "
            f"({systolic.energy_pj() / 1e3:,.1f} against {cluster.energy_pj() / 1e3:,.1f} nJ). "
            f"SRAM accesses are {nanojoules(cluster.total().sram_uw, cluster.cycles):,.1f} nJ "
            f"of the cluster's energy: it reads {config.word_bits}-bit tile words, and its "
            f"vector operands from a macro of row 0 and column 0 "
            f"({len(vector_lane_group(config))} of {config.macs_per_cluster} lanes); the "
            f"systolic array's are "
            f"{nanojoules(systolic.total().sram_uw, systolic.cycles):,.1f} nJ.")
    full_s, full_d = report.full_systolic, report.full_dcom
    if full_s is not None:
        clock_share = sum(f.clock_uw for f in full_s.power.values()) / full_s.power_uw()
        sram_uw = full_s.power["buffers (SRAM)"].sram_uw
        text.append(
            f"At full scale the systolic array is one {s['rows'] * config.cluster_rows} x "
            f"{s['cols'] * config.cluster_cols} array fed by one global buffer. The step takes "
            f"it {full_s.cycles:,} cycles against the clusters' {full_d.cycles}: every tile "
            f"needs {s['rows'] * config.cluster_rows} weight loads, and every weight crosses "
            f"up to that many PEs. An access to the global buffer costs "
            f"{full_s.buffer.read_energy_pj:,.0f} pJ ({full_s.buffer.banks} banks of the SRAM "
            f"model, {full_s.buffer.route_energy_pj:,.0f} pJ of it the global wire to them), "
            f"{nanojoules(sram_uw, full_s.cycles) / 1e3:,.1f} uJ of the step; D-com's clusters "
            f"each read their own buffer, the paper's argument (\"less global on-chip "
            f"communications and distributed memory\"). Without clock gating "
            f"{100 * clock_share:.0f} % of the systolic array's energy over its long step is "
            f"its clock; the comparisons below give every figure with clock gating too.")
    text.append(
        "Differences from the paper's +3 % area and -59 % power: the paper does not state its "
        "systolic array's dataflow, buffer organization, workload or whether its power is at "
        "equal work or equal time, nor its cell library; here both designs are dcom's own, "
        "synthesized with a 15nm-style library whose figures are estimates "
        "(docs/liberty.md); the power ratio above is the average over each design's own "
        "time for the step, and the three comparisons below say what else it can mean. The "
        "full-array figures are estimates (see their basis).")
    return text


def write_synth_report(report: SynthReport, out_dir: Path) -> ReportFiles:
    """Write ``dcom_synth.json``, ``dcom_synth.md`` and the charts into ``out_dir``."""
    config = report.config
    cluster, systolic = report.cluster, report.systolic
    tables = [_area_table(f"Cluster area by category ({config.grid_rows} x "
                          f"{config.grid_cols} multipliers, {config.buffer_depth}-word buffer)",
                          cluster),
              _module_table("Cluster modules", cluster)]
    notes = [f"Configuration: {config.describe()}; clock {config.clock_mhz:g} MHz. Liberty: "
             f"`{cluster.result.liberty}`. Total time {report.seconds:.0f} s "
             f"(cluster synthesis {cluster.seconds.get('synthesis', 0):.0f} s, power "
             f"{cluster.seconds.get('power', 0):.0f} s)."]
    if cluster.power:
        p = cluster.power.power
        notes.append(
            f"Power: a Lanczos step, {cluster.workload.description}; {p.cycles} cycles from the "
            f"first command until the last retires, at {config.clock_mhz:g} MHz and "
            f"{p.voltage:g} V. Transitions "
            f"counted at gate level on the synthesized netlist, module by module "
            f"(docs/power.md); the netlist's outputs equal the RTL's on all "
            f"{cluster.power.cycles_checked} cycles and every FP unit's on "
            f"{cluster.power.leaf_vectors_checked} input vectors. Energy per step "
            f"{p.energy_pj() / 1e3:,.2f} nJ, "
            f"{p.energy_pj() / cluster.workload.macs:.2f} pJ per multiply-accumulate; "
            f"{p.toggle_rate:.3f} transitions per net per cycle. At {config.clock_mhz:g} MHz "
            f"{_clock_status(cluster, config.clock_mhz)}; the power at fmax is below.")
        tables.append(_power_table("Cluster power on a Lanczos step", p))
        tables.append(_power_at_fmax_table(cluster, config.clock_mhz))
    else:
        notes.append("Power not measured: gate-level simulation needs models of the cells, "
                     "which dcom has only for its own library (run without --liberty).")
    if report.top is not None:
        tables.append(_area_table(
            f"Whole instance area by category ({config.describe()}, synthesized)", report.top))
        tables.append(_module_table("Whole instance modules", report.top))
        notes.append(f"Whole instance synthesized in {report.top.seconds['synthesis']:.0f} s "
                     f"(the cluster's netlist reused), in parallel with the cluster's "
                     f"measurements.")
        if report.top.power:
            top = report.top.power.power
            tables.append(_power_table("Whole instance power on a Lanczos run (gate level)",
                                       top))
            notes.append(
                f"Whole instance power: {report.top.workload.description}; {top.cycles} cycles "
                f"measured at gate level like the cluster's (the netlist equals the RTL on "
                f"{report.top.power.cycles_checked} cycles), with clock gating "
                f"{top.gated().total().total_uw / 1000:,.2f} mW instead of "
                f"{top.total().total_uw / 1000:,.2f}. The top level's memories and logic (banks, "
                f"program and broadcast memories, buses, reduction network, controller, scalar "
                f"unit) draw {100 * top_level_share(top):.1f} % of it; the model the full "
                f"array's estimate takes them from is checked against this run below.")
            tables.append(_top_check_table(report))
        elif report.top.power_note:
            notes.append(f"Whole instance power not measured: {report.top.power_note}.")
    if report.full_dcom:
        tables.append(_full_table(report))
    charts = []
    if systolic is not None:
        tables.append(_area_table("Systolic array area by category (cluster scale)", systolic))
        tables.append(_module_table("Systolic array modules", systolic))
        if systolic.power:
            tables.append(_power_table("Systolic array power on the same Lanczos step",
                                       systolic.power.power))
        comparison, by_group, explanation = _comparison(report)
        tables += [comparison, by_group]
        notes += explanation
        if report.fig13():
            table, chart, meaning = _fig13_table(report)
            tables.append(table)
            charts.append(chart)
            notes += meaning
        designs = ["D-com cluster", "systolic array"]
        area = [_grouped({c: f.area_um2 for c, f in d.area.items()})
                for d in (cluster, systolic)]
        charts.append(BarChart("Area by category", designs,
                               {g: [a[g] for a in area] for g in GROUP_ORDER},
                               ylabel="area (um^2)"))
        if cluster.power and systolic.power:
            power = [_grouped({c: f.total_uw for c, f in d.power.power.categories.items()})
                     for d in (cluster, systolic)]
            charts.append(BarChart("Power by category", designs,
                                   {g: [p[g] for p in power] for g in GROUP_ORDER},
                                   ylabel="power (uW), Lanczos step"))
    else:
        charts.append(BarChart("Area by category", list(cluster.area),
                               {"area": [f.area_um2 for f in cluster.area.values()]},
                               ylabel="area (um^2)"))
        if cluster.power:
            charts.append(BarChart(
                "Power by category", list(cluster.power.power.categories),
                {"internal": [f.internal_uw for f in cluster.power.power.categories.values()],
                 "switching": [f.switching_uw
                               for f in cluster.power.power.categories.values()],
                 "SRAM access": [f.sram_uw for f in cluster.power.power.categories.values()],
                 "leakage": [f.leakage_uw for f in cluster.power.power.categories.values()]},
                ylabel="power (uW), Lanczos step"))
    timing_tables = [_timing_table(report)]
    for design in report.designs():
        if design.timing is None:
            continue
        design.timing.write_report(out_dir, f"dcom_timing_{design.name}")
        if design is not systolic:
            # Per module and the worst paths; cell by cell in dcom_timing_<design>.md.
            timing_tables += design.timing.tables(design.name)[:2]
            if not design.timing.met:
                notes.append(f"Warning: {design.name}: {design.timing.failure()}.")
    tables = timing_tables + tables
    if cluster.timing is not None:
        charts.append(cluster.timing.histogram("Cluster endpoint setup slack"))
    data = {"config": config.to_dict(), "seconds": report.seconds,
            "cluster": cluster.to_dict(),
            "systolic": systolic.to_dict() if systolic else None,
            "top": report.top.to_dict() if report.top else None,
            "full_array": {
                "dcom": report.full_dcom.to_dict(config.clock_mhz) if report.full_dcom else None,
                "systolic": report.full_systolic.to_dict(config.clock_mhz)
                if report.full_systolic else None},
            "top_level_model": {**asdict(TOP_LEVEL_MODEL),
                                "activity": asdict(report.top_activity)
                                if report.top_activity else None,
                                "check_against_gate_level": report.top_level_check()},
            "ratios_dcom_over_systolic": report.ratios(), "fig13": report.fig13(),
            "fig13_likely_paper_comparison": dict(zip(("comparison", "why"),
                                                      LIKELY_PAPER_COMPARISON)),
            "paper_fig13": PAPER}
    return write_report(out_dir, "dcom_synth", f"dcom synth: {config.describe()}", data,
                        tables, charts, notes)


def summary_lines(report: SynthReport) -> list[str]:
    """What ``dcom synth`` prints when it is done."""
    config, cluster = report.config, report.cluster
    lines = [f"cluster: {cluster.area_um2():,.0f} um^2"
             + (f", {cluster.power.power.total().total_uw / 1000:,.2f} mW on a Lanczos step"
                if cluster.power else ", power not measured (user Liberty)")]
    for design in report.designs():
        lines.append(f"{design.name} " + (design.timing.summary_line() if design.timing
                                          else f"timing not analysed: {design.timing_note}"))
    lines += [f"WARNING: {failure}" for failure in report.timing_failures()]
    if report.top is not None:
        lines.append(f"whole instance ({config.describe()}), synthesized: "
                     f"{report.top.area_um2() / 1e6:,.2f} mm^2")
        if report.top.power:
            top = report.top.power.power
            lines.append(f"whole instance on a Lanczos run (gate level): "
                         f"{top.total().total_uw / 1000:,.2f} mW, of which the top level's "
                         f"memories and logic {100 * top_level_share(top):.1f} %")
            check = report.top_level_check().get("top level")
            if check:
                lines.append(f"top level's model / gate level: "
                             f"{check['model_uw'] / check['measured_uw']:.3f} (gated "
                             f"{check['gated_model_uw'] / check['gated_measured_uw']:.3f})")
    if report.full_dcom:
        lines.append(f"full array ({report.full_dcom.basis}): "
                     f"{report.full_dcom.area_um2() / 1e6:,.2f} mm^2, "
                     f"{report.full_dcom.power_uw() / 1e6:,.2f} W")
    for scale, ratios in report.ratios().items():
        parts = [f"{key} {value:.3f} ({100 * (value - 1):+.0f} %"
                 + (f"; paper {100 * (PAPER[key] - 1):+.0f} %)" if key in PAPER else ")")
                 for key, value in ratios.items()]
        lines.append(f"D-com / systolic, {scale}: " + ", ".join(parts))
    for scale, comparison in report.fig13().items():
        parts = [f"{name} {comparison[name]['ungated']['ratio']:.3f} "
                 f"(gated {comparison[name]['gated']['ratio']:.3f})" for name in COMPARISONS]
        lines.append(f"figure 13 three ways, {scale}: " + ", ".join(parts))
    if report.files:
        lines.append(f"report: {report.files.markdown}")
    return lines
