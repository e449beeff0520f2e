"""The paper's experiments on the performance model: how long D-com takes to decompose LLM
activations, and with which expansion factor.

:class:`Workload` is a batch of ``S x H`` activations; :func:`lanczos_perf` compiles one prompt
(:func:`dcom.sw.compiler.compile_lanczos`) and models its cycles
(:func:`dcom.sw.cycles.program_cycles`) and throughput bounds (:mod:`dcom.sw.roofline`);
:func:`lanczos_phases` splits a program into its Lanczos steps; :func:`expansion_sweep` is the
paper's figure 12. :func:`perf_report`, which ``dcom perf`` runs, writes the tables, JSON,
Markdown and PNG charts (:mod:`dcom.report`), with the GPU baseline of :mod:`dcom.sw.gpumodel`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from dcom.config import DcomConfig
from dcom.isa import InstructionClass, Opcode, ResultIndex
from dcom.report import BarChart, Table, write_report
from dcom.sw.compiler import CompiledLanczos, compile_lanczos
from dcom.sw.cycles import ProgramCycles, latencies, program_cycles
from dcom.sw.gpumodel import (A100_80GB_SXM, CUDA_GRAPH_LAUNCH_S, CUDA_GRAPH_SOURCE,
                              gpu_seconds, lanczos_kernels)
from dcom.sw.lanczos import check_rank_steps
from dcom.sw.roofline import RESOURCES, instruction_bounds, instruction_macs, roofline
from dcom.sw.validation import check_float, check_int

__all__ = ["Workload", "LanczosPerf", "lanczos_perf", "lanczos_phases", "expansion_sweep",
           "perf_report"]


@dataclass(frozen=True)
class Workload:
    """Rank-``r`` decomposition of a batch of activations, one ``S x H`` prompt at a time.

    Paper section 3.1: each prompt of a batch is decomposed on its own. The defaults are the
    paper's figure 12: batch 64, sequence 4096, hidden 4096, rank 10.

    Parameters
    ----------
    batch, seq, hidden, rank : int
    steps : int, optional
        Lanczos steps ``k``; default ``min(2 rank, min(S, H))``, as
        :func:`dcom.sw.isa_lanczos` chooses.
    """

    batch: int = 64
    seq: int = 4096
    hidden: int = 4096
    rank: int = 10
    steps: int | None = None

    def __post_init__(self):
        check_int(self.batch, "batch", 1)
        check_int(self.seq, "seq", 1)
        check_int(self.hidden, "hidden", 1)
        _, steps = check_rank_steps(min(self.seq, self.hidden), self.rank, self.steps, "steps")
        object.__setattr__(self, "steps", steps)

    def describe(self) -> str:
        """One line, e.g. ``64 x (4096 x 4096), rank 10, k = 20``."""
        return f"{self.batch} x ({self.seq} x {self.hidden}), rank {self.rank}, k = {self.steps}"


def lanczos_phases(program, steps: int) -> list[str]:
    """The phase of every instruction of a compiled Lanczos program.

    ``"setup"`` (loads, zeroing, the start vector), ``"step j"`` (from the matrix products of
    step ``j`` up to the scaling of ``u_j``) and ``"store"``, following the program structure
    of :mod:`dcom.sw.compiler`, in which step ``j`` ends with the SCALE after the NORM that
    writes ``alpha_j`` (result index ``2 j + 1``).
    """
    phases, phase, norm_index = [], "setup", None
    for ins in program:
        phases.append(phase)
        if ins.op == Opcode.NORM:
            norm_index = ins.m
        elif ins.op == Opcode.SCALE and norm_index is not None:
            if norm_index == ResultIndex.START:
                phase = "step 0"
            elif norm_index % 2 == 1:                     # alpha_j closes step j
                step = (norm_index - 1) // 2 + 1
                phase = f"step {step}" if step < steps else "store"
            norm_index = None
    return phases


@dataclass(frozen=True, eq=False)
class LanczosPerf:
    """The modelled run of one prompt of a workload.

    Attributes
    ----------
    workload : Workload
    compiled : CompiledLanczos
    timing : ProgramCycles
    """

    workload: Workload
    compiled: CompiledLanczos
    timing: ProgramCycles

    @property
    def config(self) -> DcomConfig:
        return self.timing.config

    @property
    def batch_seconds(self) -> float:
        """The whole batch, prompt after prompt."""
        return self.workload.batch * self.timing.seconds

    @property
    def bound_cycles(self) -> int:
        """Sum of the instructions' throughput bounds (:func:`instruction_bounds`)."""
        return sum(max(instruction_bounds(self.config, t.instruction).values())
                   for t in self.timing.instructions)

    @property
    def bound_batch_seconds(self) -> float:
        """The batch at the throughput bound."""
        return self.batch_seconds * self.bound_cycles / self.timing.total

    def phase_cycles(self) -> dict[str, dict[InstructionClass, int]]:
        """Cycles per phase (:func:`lanczos_phases`) and instruction class."""
        phases = lanczos_phases(self.compiled.program, self.workload.steps)
        result: dict[str, dict[InstructionClass, int]] = {}
        for t in self.timing.instructions:
            per_class = result.setdefault(phases[t.pc], dict.fromkeys(InstructionClass, 0))
            per_class[t.klass] += t.cycles
        return result


def lanczos_perf(config: DcomConfig, workload: Workload) -> LanczosPerf:
    """Compile one prompt of ``workload`` for ``config`` and model its cycles.

    Raises
    ------
    CompileError
        If the ``seq x hidden`` matrix and ``steps`` do not fit the configuration; the message
        names the parameter (buffer_depth, bank_depth, ...) and what is needed.
    """
    compiled = compile_lanczos(config, workload.seq, workload.hidden, workload.steps)
    return LanczosPerf(workload, compiled, program_cycles(config, compiled.program))


def expansion_sweep(config: DcomConfig, workload: Workload, factors=None,
                    progress=None) -> list[LanczosPerf]:
    """:func:`lanczos_perf` for every expansion factor in ``factors`` (default: all allowed).

    ``progress``, if given, is called with a line of text per factor.
    """
    factors = config.expansion_factors if factors is None else list(factors)
    runs = []
    for k, f in enumerate(factors, 1):
        runs.append(lanczos_perf(config.replace(expansion=f), workload))
        if progress is not None:
            progress(f"  [{k}/{len(factors)}] f={f}: {runs[-1].timing.total:,} cycles a prompt")
    return runs


# ---- The report of ``dcom perf`` -------------------------------------------------------------

#: The paper's expansion-factor result (section 6.4, figure 12).
PAPER_OPTIMAL_EXPANSION = 8
PAPER_EXPANSION_SPEEDUP = 6.2
#: The paper's decomposition speedup over an A100 (section 6.4; Table 2's GPU and accelerator
#: times, e.g. 25.1 s against 3.2 s).
PAPER_GPU_SPEEDUP = 8.0


def _class_names() -> list[str]:
    return [k.name for k in InstructionClass]


def _run_table(run: LanczosPerf) -> Table:
    timing = run.timing
    rows = []
    for line in roofline(timing):
        rows.append([line.klass.name, line.cycles, 100.0 * line.cycles / timing.total,
                     line.bound, line.limiter, 100.0 * line.efficiency,
                     line.macs_per_cycle, 100.0 * line.macs_per_cycle / line.peak_macs_per_cycle])
    rows.append(["fetch/decode", timing.fetch_decode, 100.0 * timing.fetch_decode / timing.total,
                 0, "-", 0.0, 0.0, 0.0])
    macs = sum(instruction_macs(run.config, t.instruction) for t in timing.instructions)
    rows.append(["total", timing.total, 100.0, run.bound_cycles, "-",
                 100.0 * run.bound_cycles / timing.total, macs / timing.total,
                 100.0 * macs / timing.total / run.config.n_multipliers])
    return Table(
        "Cycles of one prompt per instruction class, against the roofline",
        ["class", "cycles", "share %", "throughput bound", "limited by", "efficiency %",
         "MAC/cycle", "of peak %"], rows,
        notes=f"{run.config.describe()}, {run.workload.seq} x {run.workload.hidden}, "
              f"k = {run.workload.steps}: {timing.total:,} cycles, "
              f"{1e6 * timing.seconds:,.1f} us at {run.config.clock_mhz:g} MHz a prompt; "
              f"{1e3 * run.batch_seconds:,.2f} ms for the batch of {run.workload.batch}. "
              f"Bound: each instruction at the throughput of its busiest resource ("
              f"{', '.join(RESOURCES)}), latencies overlapped. Peak "
              f"{run.config.n_multipliers:,} MAC/cycle: a MULTIPLY a cycle in every cluster, "
              f"which is also what the buffers' two read ports deliver (a tile and a vector "
              f"word), so buffer bandwidth and multipliers bound MV and MTV alike. The banks "
              f"({run.config.bank_width} bits a cycle each, {run.config.bank_cycles_per_word} "
              f"cycle(s) a word) serve only LOAD and STORE; were A streamed from them for every "
              f"product, each bank would feed its {run.config.cluster_rows} clusters and MV "
              f"would take {run.config.cluster_rows * run.config.bank_cycles_per_word}x its "
              f"multiplier bound. The reduction network takes a group of f partials a cycle "
              f"from every cluster row (MV, PROJ, NORM, whose row sums a cross tree then sums) "
              f"or cluster column (MTV) side by side, while later sums multiply; the scalar "
              f"unit one square root, then one reciprocal, per NORM.")


def _fit_notes(run: LanczosPerf, host_link_gbps: float | None) -> str:
    compiled, config = run.compiled, run.config
    buffer_words = max(region.stop for region in compiled.buffer_map.values())
    bank_words = max(region.stop for region in compiled.bank_map.values())
    fit = (f"The {run.workload.seq} x {run.workload.hidden} matrix fits: every cluster buffer "
           f"holds {buffer_words:,} of its {config.buffer_depth:,} words (A's tiles, vectors, "
           f"bases) and every bank {bank_words:,} of its {config.bank_depth:,} words, so A is "
           f"loaded from the banks once per prompt (the MEMORY cycles) and both products read "
           f"it from the buffers. ")
    if host_link_gbps is None:
        return fit + ("A prompt's activations are taken to be in the banks when its program "
                      "starts, written there by the accelerator that produced them (D-com sits "
                      "beside it); with --host-link-gbps the report adds the time to bring them "
                      "over a link of that bandwidth.")
    return fit + (f"Bringing A ({2 * run.workload.seq * run.workload.hidden / 1e6:,.1f} MB of "
                  f"FP16) into the banks over a {host_link_gbps:g} GB/s link takes "
                  f"{1e6 * host_link_seconds(run.workload, host_link_gbps):,.1f} us a prompt, "
                  f"counted in the D-com row that says so, not overlapped with the previous "
                  f"prompt.")


def host_link_seconds(workload: Workload, gbps: float) -> float:
    """Time to write one prompt's FP16 activations into the banks over a ``gbps`` GB/s link."""
    return 2 * workload.seq * workload.hidden / (gbps * 1e9)


def _balance(run: LanczosPerf) -> str:
    """Whether the prompt's matrix products are limited by the reduction network or by the
    multipliers, from their throughput bounds."""
    limits = {max(RESOURCES, key=instruction_bounds(run.config, t.instruction).get)
              for t in run.timing.instructions if t.instruction.op in (Opcode.MV, Opcode.MTV)}
    return "reduction" if "reduction" in limits else "commands"


def _sweep_table(sweep: list[LanczosPerf]) -> Table:
    base = sweep[0]
    best = min(sweep, key=lambda r: r.timing.total)
    best_bound = min(sweep, key=lambda r: r.bound_cycles)
    knee = next(r for r in sweep if r.timing.total <= 1.03 * best.timing.total)
    balanced = [r.config.expansion for r in sweep if _balance(r) == "commands"]
    config = base.config
    rows = [[r.config.expansion, r.timing.total, 1e3 * r.batch_seconds,
             base.timing.total / r.timing.total, r.bound_cycles,
             base.bound_cycles / r.bound_cycles,
             "network" if _balance(r) == "reduction" else "multipliers"] for r in sweep]
    if balanced:
        R, C = config.cluster_rows, config.cluster_cols
        below = (f"Below f={balanced[0]} the matrix products are limited by the reduction "
                 f"network (a cluster row's {C} partials take {C} / f cycles, more than a tile "
                 f"row's multiplies); from f={balanced[0]}"
                 if balanced[0] != base.config.expansion else "At every f swept")
        cause = (f"{below} they are limited by the multipliers, as the network reduces the "
                 f"{R} cluster rows (MV) or {C} columns (MTV) side by side. A larger f only "
                 f"shortens the reductions of PROJ and NORM ({C} / f groups a row, the rows "
                 f"side by side, then a tree over the row sums; no shorter beyond f = {C}), "
                 f"against one more level of the network's group tree, and costs f - 1 adders "
                 f"per lane in each of the network's {config.network_slices} slices.")
    else:
        cause = "The matrix products stay limited by the reduction network at every f swept."
    return Table(
        "Expansion-factor sweep (paper figure 12)",
        ["f", "cycles a prompt", "batch ms", f"speedup vs f={base.config.expansion}",
         "throughput bound", "bound speedup", "MV/MTV limited by"], rows,
        notes=f"Fastest in the cycle model: f={best.config.expansion}, "
              f"{base.timing.total / best.timing.total:.2f}x over f={base.config.expansion}; "
              f"within 3 % of it from f={knee.config.expansion} "
              f"({base.timing.total / knee.timing.total:.2f}x). Throughput bound: best at "
              f"f={best_bound.config.expansion}, {base.bound_cycles / best_bound.bound_cycles:.2f}x. "
              f"The paper: f={PAPER_OPTIMAL_EXPANSION}, {PAPER_EXPANSION_SPEEDUP}x. In dcom, f "
              f"is the width of the reduction network's group tree: it takes the partials of "
              f"f clusters of every cluster row (or column) a cycle. {cause}")


def _phase_table(run: LanczosPerf) -> Table:
    phases = run.phase_cycles()
    rows = [[phase] + [per_class[k] for k in InstructionClass] + [sum(per_class.values())]
            for phase, per_class in phases.items()]
    return Table("Cycles per Lanczos step and class (waits included; cycles before the first start not)",
                 ["phase"] + _class_names() + ["total"], rows)


def _gpu_rows(run: LanczosPerf, gpu):
    """The GPU model's batch times: batched kernels in a CUDA graph first (the fair baseline),
    then the prompts one after the other as a PyTorch loop launches them."""
    w = run.workload
    cases = [("batched, CUDA graph", gpu.with_launch(CUDA_GRAPH_LAUNCH_S), True),
             ("batched", gpu, True), ("per prompt", gpu, False),
             ("per prompt", gpu.with_launch(10e-6), False)]
    rows = []
    for how, spec, batched in cases:
        seconds = gpu_seconds(spec, w.seq, w.hidden, w.steps, w.batch, batched=batched)
        rows.append([f"{spec.name}, {how}, launch {1e6 * spec.launch_s:g} us", 1e3 * seconds,
                     seconds / run.batch_seconds])
    return rows


def _gpu_tables(run: LanczosPerf, gpu, host_link_gbps: float | None) -> list:
    w = run.workload
    kernels = lanczos_kernels(w.seq, w.hidden, w.steps)
    rows = [[f"D-com, {run.config.describe()}, {run.config.clock_mhz:g} MHz",
             1e3 * run.batch_seconds, 1.0]]
    if host_link_gbps is not None:
        linked = run.batch_seconds + w.batch * host_link_seconds(w, host_link_gbps)
        rows.append([f"D-com with A over a {host_link_gbps:g} GB/s host link", 1e3 * linked,
                     linked / run.batch_seconds])
    rows += _gpu_rows(run, gpu)
    comparison = Table(
        "Decomposition time of the batch: D-com against the GPU model",
        ["machine", "batch ms", "time / D-com time"], rows,
        notes=f"{w.describe()}. GPU: {len(kernels)} dependent kernels a prompt (GEMVs for A v "
              f"and A^T u, CGS2 reorthogonalization as two GEMVs per pass, norm, scaling), each "
              f"launch overhead + max(bytes / HBM bandwidth, flops / FP16 throughput), FP16 "
              f"storage. 'batched' runs all {w.batch} prompts in every kernel (HBM-bound); in "
              f"a CUDA graph the kernels follow each other at about 1 us, the fair baseline. "
              f"'per prompt' runs the prompts one after the other, as the paper's PyTorch "
              f"baseline does (launch-bound small kernels). No host synchronisation for the "
              f"breakdown test is counted, which favours the GPU. The paper: D-com about "
              f"{PAPER_GPU_SPEEDUP:g}x faster than its GPU baseline. scripts/gpu_lanczos.py "
              f"measures the batched GPU time where a GPU is present.")
    assumptions = Table(
        "GPU model figures and their sources", ["figure", "value", "source"],
        [["HBM bandwidth", f"{gpu.hbm_bytes_per_s / 1e12:g} TB/s", gpu.sources["hbm_bytes_per_s"]],
         ["FP16 (non-tensor)", f"{gpu.fp16_flops / 1e12:g} TFLOPS", gpu.sources["fp16_flops"]],
         ["FP16 tensor (unused by GEMV)", f"{gpu.fp16_tensor_flops / 1e12:g} TFLOPS",
          gpu.sources["fp16_tensor_flops"]],
         ["kernel launch overhead", f"{1e6 * gpu.launch_s:g} us (and 10 us)",
          gpu.sources["launch_s"]],
         ["launch in a CUDA graph", f"{1e6 * CUDA_GRAPH_LAUNCH_S:g} us", CUDA_GRAPH_SOURCE]])
    return [comparison, assumptions]


def perf_report(config: DcomConfig, workload: Workload, out_dir, *, factors=None,
                gpu=None, host_link_gbps: float | None = None, progress=print) -> dict:
    """Model ``workload`` on ``config``, sweep the expansion factor, compare with a GPU, and
    write ``perf.json``, ``perf.md`` and the PNG charts into ``out_dir``.

    Parameters
    ----------
    config : DcomConfig
        The instance; the sweep varies its expansion factor.
    workload : Workload
    out_dir : path
    factors : sequence of int, optional
        Expansion factors to sweep (default: every one ``config`` allows).
    gpu : GpuSpec, optional
        Default :data:`dcom.sw.gpumodel.A100_80GB_SXM`.
    host_link_gbps : float, optional
        Bandwidth of a host link that brings each prompt's activations into the banks, in
        GB/s; its time is then added in a row of its own. By default the activations are
        taken to be produced on chip.
    progress : callable or None
        Called with lines of text (progress, then the tables).

    Returns
    -------
    dict
        What ``perf.json`` holds.

    Raises
    ------
    CompileError
        If the workload's matrix does not fit ``config``.
    """
    say = progress or (lambda line: None)
    gpu = A100_80GB_SXM if gpu is None else gpu
    if host_link_gbps is not None:
        check_float(host_link_gbps, "host_link_gbps", 0.0, inclusive=False)
    say(f"dcom perf: {config.describe()}; workload {workload.describe()}")
    run = lanczos_perf(config, workload)
    say(f"  modelled {len(run.timing.instructions)} instructions: {run.timing.total:,} cycles a "
        f"prompt; sweeping the expansion factor")
    sweep = expansion_sweep(config, workload, factors, progress)
    tables = [_run_table(run), _sweep_table(sweep), _phase_table(run),
              *_gpu_tables(run, gpu, host_link_gbps)]
    lines = roofline(run.timing)
    phases = run.phase_cycles()
    charts = [
        BarChart("Expansion-factor sweep", [f"f={r.config.expansion}" for r in sweep],
                 {"RTL model": [1e3 * r.batch_seconds for r in sweep],
                  "throughput bound": [1e3 * r.bound_batch_seconds for r in sweep]},
                 ylabel=f"batch time (ms) at {config.clock_mhz:g} MHz", stacked=False),
        BarChart("Cycles per Lanczos step", list(phases),
                 {k.name: [per_class[k] for per_class in phases.values()]
                  for k in InstructionClass}, ylabel="cycles"),
        BarChart("Roofline: modelled cycles against the throughput bound",
                 [line.klass.name for line in lines],
                 {"modelled": [line.cycles for line in lines],
                  "throughput bound": [line.bound for line in lines]},
                 ylabel="cycles a prompt", stacked=False, log_scale=True),
    ]
    data = {
        "config": config.to_dict(),
        "workload": {"batch": workload.batch, "seq": workload.seq, "hidden": workload.hidden,
                     "rank": workload.rank, "steps": workload.steps},
        "latencies": dataclasses.asdict(latencies(config)),
        "prompt": {"cycles": run.timing.total, "seconds": run.timing.seconds,
                   "fetch_decode": run.timing.fetch_decode,
                   "by_class": {k.name: v for k, v in run.timing.by_class.items()},
                   "rtl_counters": run.timing.counters(), "bound_cycles": run.bound_cycles},
        "batch_seconds": run.batch_seconds,
        "host_link": None if host_link_gbps is None else {
            "gbps": host_link_gbps,
            "seconds_per_prompt": host_link_seconds(workload, host_link_gbps)},
        "roofline": [{"class": line.klass.name, "cycles": line.cycles, "bound": line.bound,
                      "limiter": line.limiter, "efficiency": line.efficiency,
                      "macs": line.macs, "macs_per_cycle": line.macs_per_cycle,
                      "peak_macs_per_cycle": line.peak_macs_per_cycle} for line in lines],
        "phases": {phase: {k.name: v for k, v in per_class.items()}
                   for phase, per_class in phases.items()},
        "sweep": [{"expansion": r.config.expansion, "cycles": r.timing.total,
                   "batch_seconds": r.batch_seconds, "bound_cycles": r.bound_cycles}
                  for r in sweep],
        "paper": {"optimal_expansion": PAPER_OPTIMAL_EXPANSION,
                  "expansion_speedup": PAPER_EXPANSION_SPEEDUP, "gpu_speedup": PAPER_GPU_SPEEDUP},
        "gpu": {"spec": {"name": gpu.name, "hbm_bytes_per_s": gpu.hbm_bytes_per_s,
                         "fp16_flops": gpu.fp16_flops,
                         "fp16_tensor_flops": gpu.fp16_tensor_flops,
                         "launch_s": gpu.launch_s, "sources": gpu.sources},
                "runs": [{"machine": name, "batch_seconds": ms / 1e3, "vs_dcom": ratio}
                         for name, ms, ratio in _gpu_rows(run, gpu)]},
    }
    files = write_report(out_dir, "perf", "D-com performance model", data, tables, charts,
                         notes=[_fit_notes(run, host_link_gbps)])
    for table in tables:
        say("\n" + table.markdown())
    say(f"wrote {files.json}, {files.markdown} and {len(files.charts)} charts")
    return data
