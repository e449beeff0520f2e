"""Performance model of D-com: the cycles of any program on any configuration.

The controller of :mod:`dcom.hw.top` runs one instruction at a time. Every instruction goes
through ``FETCH`` and ``DECODE`` (one cycle each), then ``BARRIER``, which waits until no cluster
command is in flight, then the states of its opcode. :func:`execute_cycles` gives the cycles of
those states in closed form, per opcode, from the instruction's fields, the configuration and the
latencies of the hardware components (:func:`latencies`); :func:`program_cycles` adds the
fetch, decode and barrier cycles, walking the program the way the controller does, and returns
the total and the cycles per instruction class (the RTL's ``Register.CYCLES_*`` counters).

With ``L`` the cluster latency, ``L_r`` the reduction unit's, ``L_s`` the scalar unit's,
``W = bank_cycles_per_word``, ``R x C`` clusters and ``f`` the expansion factor, an instruction
executes in (fields as in docs/isa.md):

==========  =================================================================================
ZERO        ``n + 1``
LOAD/STORE  ``(n - 1) W + 3`` (``1`` when ``n = 0``)
BCAST       ``2 n S + 1``, ``S = C`` (U) or ``R`` (V): a read cycle and a write cycle a copy
MV          ``n (m + L + 1 + red(R, C / gcd(f, C)))``
MTV         ``m (n + L + 1 + red(C, R / gcd(f, R)))``
PROJ        ``m (n + L + 1 + red(1, R C / f))``
NORM        ``n + L + 1 + G + L_r + 1 + 2 L_s + 2``, ``G = R C / f``
UPDATE      ``n (m + 3) + 1``
SCALE       ``4 n + 1``
==========  =================================================================================

where ``red(sets, G) = sets (G + L_r + 2) + sets - 1``: one inter-cluster reduction per set of
partial sums (``G`` groups fed one a cycle, ``L_r + 1`` cycles to drain, one write), the sets
one after the other. MV, MTV, PROJ and NORM with ``n = 0`` or ``m = 0`` take no cycles after
the barrier. ``BARRIER`` takes one cycle, more after an UPDATE or SCALE, whose last write-back
is still in the clusters' pipelines (``max(1, L - 2)`` cycles). UPDATE and SCALE also stall on
a read of a word whose write-back is in flight, which only programs that read the words they
write meet (the compiler's never do); :func:`program_cycles` adds those stalls exactly.

Time is cycles divided by ``clock_mhz``. :func:`roofline` sets every instruction class against
the throughput bounds of the resources it uses.

On top of the model, the paper's experiments: :class:`Workload` (a batch of ``S x H``
activations), :func:`lanczos_perf` (one prompt compiled and modelled), :func:`expansion_sweep`
(figure 12) and :func:`perf_report`, which ``dcom perf`` runs: tables, JSON, Markdown and PNG
charts, with the GPU baseline of :mod:`dcom.sw.gpumodel`.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass

from dcom.config import DcomConfig
from dcom.sw.compiler import CompiledLanczos, compile_lanczos
from dcom.sw.isa import Instruction, InstructionClass, Opcode, ResultIndex, Side, \
    Status, instruction_class
from dcom.sw.isasim import check_instruction
from dcom.sw.lanczos import check_rank_steps
from dcom.sw.validation import InputError, check_int

__all__ = ["Latencies", "latencies", "execute_cycles", "InstructionTiming", "ProgramCycles",
           "program_cycles", "RESOURCES", "instruction_macs", "instruction_bounds",
           "ClassRoofline", "roofline", "Workload", "LanczosPerf", "lanczos_perf",
           "lanczos_phases", "expansion_sweep", "perf_report"]

#: Cycles of the FETCH and DECODE states that precede every instruction.
FETCH_DECODE_CYCLES = 2
#: The IDLE cycle in which the controller sees the start; the counters count it.
START_CYCLES = 1


@dataclass(frozen=True)
class Latencies:
    """Pipeline latencies of the hardware components, in cycles.

    Attributes
    ----------
    cluster : int
        From a cluster command's issue to its retirement (``Cluster.latency``).
    reduction : int
        From a group entering the inter-cluster reduction tree to its result leaving it
        (``ReductionUnit.latency``).
    scalar : int
        One square root or reciprocal of the scalar unit (``ScalarUnit.latency``).
    """

    cluster: int
    reduction: int
    scalar: int


@functools.lru_cache(maxsize=None)
def latencies(config: DcomConfig) -> Latencies:
    """The latencies of ``config``'s components, as the components take them from it."""
    # Imported here: the hardware modules pull in Amaranth, which nothing else here needs.
    from dcom.hw.scalar import ScalarUnit

    return Latencies(config.cluster_latency, config.tree_latency(config.expansion_levels),
                     ScalarUnit.latency)


def _reduction_groups(config: DcomConfig, op: Opcode) -> tuple[int, int]:
    """``(sets, groups)``: the reductions an outer iteration of MV, MTV, PROJ or NORM performs
    one after the other, and the groups of ``gcd(f, K)`` partials each feeds to the tree
    (``icsum_f`` of docs/arithmetic.md over the ``K`` clusters of a row, a column or all)."""
    R, C = config.cluster_rows, config.cluster_cols
    if op == Opcode.MV:
        return R, C // config.reduction_group(C)
    if op == Opcode.MTV:
        return C, R // config.reduction_group(R)
    return 1, config.n_groups


def _reduce_cycles(config: DcomConfig, lat: Latencies, op: Opcode) -> int:
    """REDUCE_FEED, REDUCE_DRAIN and REDUCE_WRITE of every set, with REDUCE_NEXT_SET between."""
    sets, groups = _reduction_groups(config, op)
    return sets * (groups + lat.reduction + 2) + sets - 1


def _loops(ins: Instruction) -> tuple[int, int]:
    """``(outer, inner)`` iterations of MV, MTV, PROJ and NORM (the controller's
    ``outer_count`` and ``inner_count``)."""
    if ins.op == Opcode.MV:
        return ins.n, ins.m
    if ins.op == Opcode.NORM:
        return 1, ins.n
    return ins.m, ins.n


def execute_cycles(config: DcomConfig, ins: Instruction, *, stops: bool = False) -> int:
    """Cycles of ``ins`` after its barrier, up to (not including) the next FETCH.

    Closed form, without hazard stalls (see :func:`program_cycles`).

    Parameters
    ----------
    config : DcomConfig
    ins : Instruction
        A valid instruction other than HALT.
    stops : bool
        ``ins`` is a NORM that stops the program (BREAKDOWN or OVERFLOW): it ends in the cycle
        the square root is ready.

    Returns
    -------
    int
    """
    lat = latencies(config)
    op, n, m = Opcode(ins.op), ins.n, ins.m
    if op == Opcode.ZERO:
        return n + 1
    if op in (Opcode.LOAD, Opcode.STORE):
        # A word every W cycles; the last is written one cycle after its read, and one more
        # cycle sees the transfer done.
        return 1 if n == 0 else (n - 1) * config.bank_cycles_per_word + 3
    if op == Opcode.BCAST:
        sources = config.cluster_rows if ins.side == Side.V else config.cluster_cols
        return 2 * n * sources + 1
    if op == Opcode.UPDATE:
        # Per slot: PRELOAD, m MULTIPLYs and the cycle that sees them done, the write-back.
        return n * (m + 3) + 1
    if op == Opcode.SCALE:
        # Per slot: the hi and lo passes and two write-backs.
        return 4 * n + 1
    outer, inner = _loops(ins)
    if outer == 0 or inner == 0:
        return 0
    # MULTIPLYs, then REDUCE_WAIT until the last has retired (L + 1 cycles).
    accumulate = inner + lat.cluster + 1
    if op == Opcode.NORM:
        _, groups = _reduction_groups(config, op)
        reduce_ = groups + lat.reduction + 1
        scalar = lat.scalar if stops else 2 * lat.scalar + 2    # sqrt [, 1/x, hi, lo words]
        return accumulate + reduce_ + scalar
    return outer * (accumulate + _reduce_cycles(config, lat, op))


def _overlap(first: int, count: int, other_first: int, other_count: int) -> bool:
    return count > 0 and other_count > 0 and first < other_first + other_count \
        and other_first < first + count


def _hazard_stalls(config: DcomConfig, ins: Instruction) -> int:
    """Stall cycles of an UPDATE or SCALE that reads words it writes back.

    The controller holds a command that reads a word while a write-back to it is in flight: a
    write issued in cycle ``t`` blocks reads issued in cycles ``t + 1 .. t + L + 1``. When the
    words read may be written (the compiler's programs never do that), walks the issue schedule
    of :func:`execute_cycles` slot by slot.
    """
    a, b, c, d, n, m = ins.a, ins.b, ins.c, ins.d, ins.n, ins.m
    if ins.op == Opcode.UPDATE:
        # Writes vector words c + s; reads the basis (a + s d + k), the coefficients (b + k)
        # and, before its own write, the vector word.
        basis = (n - 1) * d + m if n and m else 0
        if not (_overlap(a, basis, c, n) or _overlap(b, m, c, n)):
            return 0
    else:
        # Writes vector words a + s and basis words c + s d (within [c, c + (n-1) d]); reads
        # the scalars b, b + 1 and, before its own writes, the vector word.
        basis = (n - 1) * d + 1 if n else 0
        if not (_overlap(b, 2, a, n) or _overlap(b, 2, c, basis) or _overlap(a, n, c, basis)):
            return 0
    window = latencies(config).cluster + 1
    written: dict[int, int] = {}                 # address -> issue cycle of its last write
    t = stalls = 0

    def issue(*addresses: int) -> None:
        nonlocal t, stalls
        while any(0 < t - written.get(addr, -window - 1) <= window for addr in addresses):
            t, stalls = t + 1, stalls + 1
        t += 1

    def write(addr: int) -> None:
        nonlocal t
        written[addr] = t
        t += 1

    for s in range(n):
        if ins.op == Opcode.UPDATE:
            issue(c + s)                                      # PRELOAD
            for k in range(m):
                issue(a + s * d + k, b + k)                   # MULTIPLY
            t += 1                                            # sees inner == m
            write(c + s)
        else:
            issue(a + s, b)                                   # hi pass
            issue(a + s, b + 1)                               # lo pass
            write(a + s)
            write(c + s * d)
    return stalls


@dataclass(frozen=True)
class InstructionTiming:
    """Cycles of one executed instruction (besides its FETCH and DECODE).

    Attributes
    ----------
    pc : int
    instruction : Instruction
    barrier : int
        BARRIER cycles: one, or more while an earlier write-back drains from the clusters.
    execute : int
        Cycles of its own states, hazard stalls included.
    """

    pc: int
    instruction: Instruction
    barrier: int
    execute: int

    @property
    def klass(self) -> InstructionClass:
        """Its cycle-counter class."""
        return instruction_class(self.instruction.op)

    @property
    def cycles(self) -> int:
        """Barrier and execution."""
        return self.barrier + self.execute


@dataclass(frozen=True, eq=False)
class ProgramCycles:
    """The cycles of a program run, as the performance model predicts them.

    Attributes
    ----------
    config : DcomConfig
    instructions : tuple of InstructionTiming
        Every instruction executed, in order (not the one that stopped the program at decode).
    status : Status
        How the program stops.
    stop_pc : int
        Where it stops (the RTL's ``STOP_PC``).
    total : int
        Cycles from the start to the stop: the RTL's ``CYCLES`` counter.
    """

    config: DcomConfig
    instructions: tuple
    status: Status
    stop_pc: int
    total: int

    @property
    def by_class(self) -> dict[InstructionClass, int]:
        """Barrier and execution cycles of each instruction class (all classes present)."""
        counts = dict.fromkeys(InstructionClass, 0)
        for timing in self.instructions:
            counts[timing.klass] += timing.cycles
        return counts

    @property
    def fetch_decode(self) -> int:
        """The rest of the total: the start cycle and every FETCH and DECODE."""
        return self.total - sum(self.by_class.values())

    @property
    def seconds(self) -> float:
        """Run time at ``config.clock_mhz``."""
        return self.total / (self.config.clock_mhz * 1e6)

    def counters(self) -> dict[str, int]:
        """The RTL's cycle counters, keyed like :meth:`dcom.tb.host.HostDriver.counters`.

        The RTL sets the class of a cycle one cycle late, so a FETCH counts for the class of
        the instruction before it; the first FETCH, the start cycle and every DECODE count for
        none. A NORM that stops the program is followed by no FETCH.
        """
        counts = self.by_class
        stopped_in_norm = self.status in _DATA_STOPS
        for timing in self.instructions[:len(self.instructions) - stopped_in_norm]:
            counts[timing.klass] += 1
        result = {"cycles": self.total}
        result.update({f"cycles_{k.name.lower()}": v for k, v in counts.items()})
        return result


#: Stops that depend on the data: a NORM's result is infinite or NaN, or at most the threshold.
_DATA_STOPS = (Status.BREAKDOWN, Status.OVERFLOW)


def program_cycles(config: DcomConfig, program, *,
                   stop: tuple[Status, int] | None = None) -> ProgramCycles:
    """Cycles of ``program`` on ``config``, from the start to the stop.

    Parameters
    ----------
    config : DcomConfig
    program : sequence of Instruction or int
        Program memory from word 0; words beyond it hold HALT (the reset contents).
    stop : (Status, int), optional
        ``(BREAKDOWN or OVERFLOW, pc)`` when the run stops at the NORM at ``pc`` because of the
        data (the ISA simulator's ``status`` and ``stop_pc`` tell). Without it the program runs
        until HALT, an instruction the controller refuses (BAD_OPCODE, BAD_ADDRESS) or the end
        of program memory (BAD_PC), all of which follow from the program alone.

    Returns
    -------
    ProgramCycles

    Raises
    ------
    InputError
        If the program is longer than ``program_depth``, or ``stop`` is not a data stop at a
        NORM of the program.
    """
    program = [ins if isinstance(ins, Instruction) else Instruction.decode(int(ins))
               for ins in program]
    if len(program) > config.program_depth:
        raise InputError("program", f"has {len(program)} instructions",
                         f"at most program_depth={config.program_depth}")
    stop_status, stop_pc = stop if stop is not None else (None, None)
    if stop is not None:
        if stop_status not in _DATA_STOPS:
            raise InputError("stop", f"status {stop_status!r}", "Status.BREAKDOWN, "
                             "Status.OVERFLOW (other stops follow from the program)")
        check_int(stop_pc, "stop pc", 0, len(program) - 1)
        if program[stop_pc].op != Opcode.NORM:
            raise InputError("stop", f"pc {stop_pc} holds {program[stop_pc]}, not a NORM",
                             "the pc of a NORM of the program")
    cluster_latency = latencies(config).cluster
    timings = []
    fetch = START_CYCLES            # cycle of the current FETCH
    idle_from = 0                   # first cycle with no cluster command in flight
    pc = 0
    while True:
        if pc >= config.program_depth:
            return ProgramCycles(config, tuple(timings), Status.BAD_PC, pc, fetch + 1)
        ins = program[pc] if pc < len(program) else Instruction(Opcode.HALT)
        status = check_instruction(config, ins) or (Status.DONE if ins.op == Opcode.HALT
                                                    else None)
        if status is not None:
            return ProgramCycles(config, tuple(timings), status, pc,
                                 fetch + FETCH_DECODE_CYCLES)
        barrier_start = fetch + FETCH_DECODE_CYCLES
        barrier = max(barrier_start, idle_from) - barrier_start + 1
        stops = pc == stop_pc
        execute = execute_cycles(config, ins, stops=stops)
        if ins.op in (Opcode.UPDATE, Opcode.SCALE):
            execute += _hazard_stalls(config, ins)
            if ins.n:
                # The last write-back issues two cycles before the end (then the loop test).
                idle_from = barrier_start + barrier + execute - 2 + cluster_latency + 1
        timings.append(InstructionTiming(pc, ins, barrier, execute))
        fetch = barrier_start + barrier + execute
        if stops:
            return ProgramCycles(config, tuple(timings), stop_status, pc, fetch)
        pc += 1


# ---- Roofline --------------------------------------------------------------------------------

#: The resources an instruction's cycles are bounded by, each serving one unit of work a cycle:
#: ``commands``: the cluster command port (MULTIPLY, PRELOAD, WRITE; a MULTIPLY is P Q MACs on
#: a tile read through one buffer port and a B word through the other); ``bank``: a bank port
#: (one word every ``bank_cycles_per_word`` cycles, all banks in parallel); ``fill``: the
#: clusters' buffer write bus (ZERO, LOAD, BCAST and result words); ``reduction``: the
#: inter-cluster reduction tree (one group of ``f`` partial vectors a cycle); ``scalar``: the
#: scalar unit (a square root, then a reciprocal).
RESOURCES = ("commands", "bank", "fill", "reduction", "scalar")


def instruction_macs(config: DcomConfig, ins: Instruction) -> int:
    """Multiply-accumulates ``ins`` issues in the whole array (``P Q R C`` per MULTIPLY)."""
    op, n, m = ins.op, ins.n, ins.m
    multiplies = {Opcode.MV: n * m, Opcode.MTV: n * m, Opcode.PROJ: n * m,
                  Opcode.UPDATE: n * m, Opcode.NORM: n, Opcode.SCALE: 2 * n}.get(op, 0)
    return multiplies * config.n_multipliers


def instruction_bounds(config: DcomConfig, ins: Instruction) -> dict[str, int]:
    """Cycles ``ins`` needs on each of :data:`RESOURCES` at its full throughput.

    The largest is the instruction's throughput bound: what a controller that overlapped
    everything else (pipeline latencies included) would take.
    """
    lat = latencies(config)
    op, n, m = Opcode(ins.op), ins.n, ins.m
    bounds = dict.fromkeys(RESOURCES, 0)
    if op in (Opcode.MV, Opcode.MTV, Opcode.PROJ, Opcode.NORM):
        outer, inner = _loops(ins)
        if outer and inner:
            sets, groups = _reduction_groups(config, op)
            bounds["commands"] = outer * inner
            bounds["reduction"] = outer * sets * groups
            bounds["fill"] = 2 if op == Opcode.NORM else outer * sets
            bounds["scalar"] = 2 * lat.scalar if op == Opcode.NORM else 0
    elif op == Opcode.UPDATE:
        bounds["commands"] = n * (m + 2)
    elif op == Opcode.SCALE:
        bounds["commands"] = 4 * n
    elif op == Opcode.ZERO:
        bounds["fill"] = n
    elif op in (Opcode.LOAD, Opcode.STORE):
        bounds["bank"] = n * config.bank_cycles_per_word
        bounds["fill"] = n if op == Opcode.LOAD else 0
    elif op == Opcode.BCAST:
        bounds["fill"] = n * (config.cluster_rows if ins.side == Side.V else config.cluster_cols)
    return bounds


@dataclass(frozen=True)
class ClassRoofline:
    """One instruction class against its throughput bound.

    Attributes
    ----------
    klass : InstructionClass
    cycles : int
        Cycles the class takes (barriers and execution, as :attr:`ProgramCycles.by_class`).
    bound : int
        Sum over its instructions of their throughput bounds (:func:`instruction_bounds`).
    limiter : str
        The resource that bounds most of those cycles.
    macs : int
        Multiply-accumulates issued.
    peak_macs_per_cycle : int
        ``R C P Q``.
    """

    klass: InstructionClass
    cycles: int
    bound: int
    limiter: str
    macs: int
    peak_macs_per_cycle: int

    @property
    def efficiency(self) -> float:
        """``bound / cycles`` (1 where the class takes no cycles)."""
        return self.bound / self.cycles if self.cycles else 1.0

    @property
    def macs_per_cycle(self) -> float:
        """MACs attained per cycle of the class."""
        return self.macs / self.cycles if self.cycles else 0.0


def roofline(timing: ProgramCycles) -> list[ClassRoofline]:
    """Every instruction class of a run against the throughput bounds of its resources."""
    config = timing.config
    rows = []
    for klass, cycles in timing.by_class.items():
        members = [t.instruction for t in timing.instructions if t.klass == klass]
        per_resource = dict.fromkeys(RESOURCES, 0)
        bound = macs = 0
        for ins in members:
            bounds = instruction_bounds(config, ins)
            limiter = max(RESOURCES, key=bounds.get)
            per_resource[limiter] += bounds[limiter]
            bound += bounds[limiter]
            macs += instruction_macs(config, ins)
        rows.append(ClassRoofline(klass, cycles, bound, max(RESOURCES, key=per_resource.get),
                                  macs, config.n_multipliers))
    return rows


# ---- Lanczos workloads and the paper's experiments -------------------------------------------

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


def _run_table(run: LanczosPerf) -> "Table":
    from dcom.synth.report import Table

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
              f"multiplier bound. The reduction tree takes one group of f partial vectors a "
              f"cycle; the scalar unit one square root, then one reciprocal, per NORM.")


def _fit_notes(run: LanczosPerf) -> str:
    compiled, config = run.compiled, run.config
    buffer_words = max(region.stop for region in compiled.buffer_map.values())
    bank_words = max(region.stop for region in compiled.bank_map.values())
    return (f"The {run.workload.seq} x {run.workload.hidden} matrix fits: every cluster buffer "
            f"holds {buffer_words:,} of its {config.buffer_depth:,} words (A's tiles, vectors, "
            f"bases) and every bank {bank_words:,} of its {config.bank_depth:,} words, so A is "
            f"loaded once per prompt and both products read it from the buffers. Not modelled: "
            f"the host (or a DMA engine) writing the prompt into the banks before the program "
            f"starts.")


def _sweep_table(sweep: list[LanczosPerf]) -> "Table":
    from dcom.synth.report import Table

    base = sweep[0]
    best = min(sweep, key=lambda r: r.timing.total)
    best_bound = min(sweep, key=lambda r: r.bound_cycles)
    rows = [[r.config.expansion, r.timing.total, 1e3 * r.batch_seconds,
             base.timing.total / r.timing.total, r.bound_cycles,
             base.bound_cycles / r.bound_cycles] for r in sweep]
    return Table(
        "Expansion-factor sweep (paper figure 12)",
        ["f", "cycles a prompt", "batch ms", f"speedup vs f={base.config.expansion}",
         "throughput bound", "bound speedup"], rows,
        notes=f"Optimum of the RTL model: f={best.config.expansion}, "
              f"{base.timing.total / best.timing.total:.2f}x over f={base.config.expansion}; "
              f"of the throughput bound: f={best_bound.config.expansion}, "
              f"{base.bound_cycles / best_bound.bound_cycles:.2f}x. The paper: "
              f"f={PAPER_OPTIMAL_EXPANSION}, {PAPER_EXPANSION_SPEEDUP}x. In dcom, f sets the "
              f"inter-cluster reduction: groups of f partial sums summed by a tree, then folded "
              f"one group a cycle; larger f means fewer groups but a deeper tree.")


def _phase_table(run: LanczosPerf) -> "Table":
    from dcom.synth.report import Table

    phases = run.phase_cycles()
    rows = [[phase] + [per_class[k] for k in InstructionClass] + [sum(per_class.values())]
            for phase, per_class in phases.items()]
    return Table("Cycles per Lanczos step and class (barriers included; fetch/decode not)",
                 ["phase"] + _class_names() + ["total"], rows)


def _gpu_rows(run: LanczosPerf, gpu):
    from dcom.sw.gpumodel import gpu_seconds

    w = run.workload
    cases = [("per prompt", gpu, False), ("per prompt", gpu.with_launch(10e-6), False),
             ("batched", gpu, True)]
    rows = []
    for how, spec, batched in cases:
        seconds = gpu_seconds(spec, w.seq, w.hidden, w.steps, w.batch, batched=batched)
        rows.append([f"{spec.name}, {how}, launch {1e6 * spec.launch_s:g} us", 1e3 * seconds,
                     seconds / run.batch_seconds])
    return rows


def _gpu_tables(run: LanczosPerf, gpu) -> list:
    from dcom.sw.gpumodel import lanczos_kernels
    from dcom.synth.report import Table

    w = run.workload
    kernels = lanczos_kernels(w.seq, w.hidden, w.steps)
    rows = [[f"D-com, {run.config.describe()}, {run.config.clock_mhz:g} MHz",
             1e3 * run.batch_seconds, 1.0]] + _gpu_rows(run, gpu)
    comparison = Table(
        "Decomposition time of the batch: D-com against the GPU model",
        ["machine", "batch ms", "GPU time / D-com time"], rows,
        notes=f"{w.describe()}. GPU: {len(kernels)} dependent kernels a prompt (GEMVs for A v "
              f"and A^T u, CGS2 reorthogonalization as two GEMVs per pass, norm, scaling), each "
              f"launch overhead + max(bytes / HBM bandwidth, flops / FP16 throughput), FP16 "
              f"storage. 'per prompt' runs the prompts one after the other (launch-bound "
              f"small kernels, as in the paper's PyTorch baseline); 'batched' runs all "
              f"{w.batch} prompts in every kernel (HBM-bound). No host synchronisation for "
              f"the breakdown test is counted, which favours the GPU. The paper: D-com about "
              f"{PAPER_GPU_SPEEDUP:g}x faster.")
    assumptions = Table(
        "GPU model figures and their sources", ["figure", "value", "source"],
        [["HBM bandwidth", f"{gpu.hbm_bytes_per_s / 1e12:g} TB/s", gpu.sources["hbm_bytes_per_s"]],
         ["FP16 (non-tensor)", f"{gpu.fp16_flops / 1e12:g} TFLOPS", gpu.sources["fp16_flops"]],
         ["FP16 tensor (unused by GEMV)", f"{gpu.fp16_tensor_flops / 1e12:g} TFLOPS",
          gpu.sources["fp16_tensor_flops"]],
         ["kernel launch overhead", f"{1e6 * gpu.launch_s:g} us (and 10 us)",
          gpu.sources["launch_s"]]])
    return [comparison, assumptions]


def perf_report(config: DcomConfig, workload: Workload, out_dir, *, factors=None,
                gpu=None, progress=print) -> dict:
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
    from dcom.sw.gpumodel import A100_80GB_SXM
    from dcom.synth.report import BarChart, write_report

    say = progress or (lambda line: None)
    gpu = A100_80GB_SXM if gpu is None else gpu
    say(f"dcom perf: {config.describe()}; workload {workload.describe()}")
    run = lanczos_perf(config, workload)
    say(f"  modelled {len(run.timing.instructions)} instructions: {run.timing.total:,} cycles a "
        f"prompt; sweeping the expansion factor")
    sweep = expansion_sweep(config, workload, factors, progress)
    tables = [_run_table(run), _sweep_table(sweep), _phase_table(run), *_gpu_tables(run, gpu)]
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
                         notes=[_fit_notes(run)])
    for table in tables:
        say("\n" + table.markdown())
    say(f"wrote {files.json}, {files.markdown} and {len(files.charts)} charts")
    return data
