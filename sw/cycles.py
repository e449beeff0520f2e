"""Cycle model of D-com: the cycles of any program on any configuration.

:func:`program_cycles` runs a program through a model of the controller of
:mod:`dcom.hw.controller`, cycle by cycle: the front end that fetches, decodes and issues
cluster commands (with its set allocation, accumulator spacing and write-back hazards), the
back end that feeds the reduction network and writes its results, the scalar steps of NORM, and
the memory instructions. It follows the RTL's registers and rules one for one, without the
data: where the program goes depends only on the program (and, for a NORM that stops it, on
the ``stop`` the caller gives). The result is the RTL's counters exactly: the total
(``Register.CYCLES``) and the cycles of each instruction class (``Register.CYCLES_*``; a cycle
counts for the class of the instruction that started last, so an instruction's class also
gets the cycles its successor waits for it).

Cycle numbers count from the host's start (cycle 0); the counters count cycles 1 to the stop.

Time is cycles divided by ``clock_mhz``. :mod:`dcom.sw.roofline` sets the cycles against the
throughput bounds of the hardware's resources; :mod:`dcom.sw.perf` models the paper's
workloads.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from dcom.config import DcomConfig, batch_size
from dcom.isa import (Instruction, InstructionClass, Opcode, Side, Status, instruction_class,
                      steps_interfere, touches_writes_of)
from dcom.sw.isasim import check_instruction
from dcom.sw.validation import InputError, check_int

__all__ = ["Latencies", "latencies", "reduction_groups", "loop_counts", "memory_cycles",
           "InstructionTiming", "ProgramCycles", "program_cycles", "REDUCING"]

#: Instructions whose sums go through the reduction network.
REDUCING = frozenset({Opcode.MV, Opcode.MTV, Opcode.PROJ, Opcode.NORM})
#: Stops that depend on the data: a NORM's result is infinite or NaN, or at most the threshold.
_DATA_STOPS = (Status.BREAKDOWN, Status.OVERFLOW)


@dataclass(frozen=True)
class Latencies:
    """Pipeline latencies of the hardware components, in cycles.

    Attributes
    ----------
    cluster : int
        From a command reaching a cluster to its tree sums (``DcomConfig.cluster_latency``);
        a write-back lands at the end of that cycle.
    accumulate : int
        Further cycles to its accumulator update (``DcomConfig.acc_stages``).
    network : int
        From a group entering the reduction network to its row or column sum leaving it
        (``ReductionNetwork.latency``).
    cross : int
        Further cycles of a reduction across, PROJ's or NORM's
        (``ReductionNetwork.cross_latency``).
    scalar : int
        One square root or reciprocal of the scalar unit (``ScalarUnit.latency``).
    """

    cluster: int
    accumulate: int
    network: int
    cross: int
    scalar: int


def latencies(config: DcomConfig) -> Latencies:
    """The latencies of ``config``'s components, as the components take them from it."""
    return Latencies(config.cluster_latency, config.acc_stages, config.network_latency,
                     config.cross_latency, config.scalar_latency)


def reduction_groups(config: DcomConfig, op: Opcode) -> int:
    """Groups one sum of MV, MTV, PROJ or NORM feeds to the reduction network: the cluster
    columns' (MTV) or the cluster rows' (the others) reductions side by side, each ``K``
    partials in groups of ``gcd(f, K)``; PROJ and NORM then sum the row sums."""
    row, column = config.reduction_group_counts
    return column if op == Opcode.MTV else row


def loop_counts(ins: Instruction) -> tuple[int, int]:
    """``(sums, products)`` of MV, MTV, PROJ or NORM: the sums it reduces (tile rows, tile
    columns, blocks, or NORM's one) and the MULTIPLYs each accumulates."""
    if ins.op == Opcode.MV:
        return ins.n, ins.m
    if ins.op == Opcode.NORM:
        return 1, ins.n
    return ins.m, ins.n


def memory_cycles(config: DcomConfig, ins: Instruction) -> int:
    """Cycles of ZERO, LOAD, STORE or BCAST after its start: ZERO writes a word a cycle; LOAD
    and STORE move a word every ``bank_cycles_per_word`` cycles, each written the cycle after
    its read; BCAST copies a word a cycle, likewise; one more cycle sees the end."""
    n = ins.n
    if ins.op == Opcode.ZERO:
        return n + 1
    if ins.op in (Opcode.LOAD, Opcode.STORE):
        return 1 if n == 0 else (n - 1) * config.bank_cycles_per_word + 3
    copies = n * (config.cluster_rows if ins.side == Side.V else config.cluster_cols)
    return 1 if copies == 0 else copies + 2


@dataclass(frozen=True)
class InstructionTiming:
    """When one instruction ran.

    Attributes
    ----------
    pc : int
    instruction : Instruction
    start : int
        Cycle in which it started, after its wait.
    issued : int
        Cycle its front end finished (the first after its last cluster command or memory
        transfer); its results may still be on the way.
    cycles : int
        Cycles counted for its class: from the cycle after its start to its successor's
        start, or to the stop.
    """

    pc: int
    instruction: Instruction
    start: int
    issued: int
    cycles: int

    @property
    def klass(self) -> InstructionClass:
        """Its cycle-counter class."""
        return instruction_class(self.instruction.op)


@dataclass(frozen=True, eq=False)
class ProgramCycles:
    """The cycles of a program run, as the performance model predicts them.

    Attributes
    ----------
    config : DcomConfig
    instructions : tuple of InstructionTiming
        Every instruction started, in order.
    status : Status
        How the program stops.
    stop_pc : int
        Where it stops (the RTL's ``STOP_PC``).
    total : int
        Cycles from the start to the stop: the RTL's ``CYCLES`` counter.
    activity : dict or None
        With ``program_cycles(..., activity=True)``: the cycles in which a cluster command
        issued (``"commands"``) and in which a group entered the reduction network
        (``"groups"``), as lists.
    """

    config: DcomConfig
    instructions: tuple
    status: Status
    stop_pc: int
    total: int
    activity: dict | None = None

    @property
    def by_class(self) -> dict[InstructionClass, int]:
        """Cycles counted for each instruction class (all classes present): the RTL's
        ``CYCLES_*`` counters."""
        counts = dict.fromkeys(InstructionClass, 0)
        for timing in self.instructions:
            counts[timing.klass] += timing.cycles
        return counts

    @property
    def fetch_decode(self) -> int:
        """The rest of the total: the cycles up to the first instruction's start."""
        return self.total - sum(self.by_class.values())

    @property
    def seconds(self) -> float:
        """Run time at ``config.clock_mhz``."""
        return self.total / (self.config.clock_mhz * 1e6)

    def counters(self) -> dict[str, int]:
        """The RTL's cycle counters, keyed like :meth:`dcom.tb.host.HostDriver.counters`."""
        result = {"cycles": self.total}
        result.update({f"cycles_{k.name.lower()}": v for k, v in self.by_class.items()})
        return result


def _commands(config: DcomConfig, ins: Instruction, batch: int):
    """The cluster commands of an arithmetic instruction in the order the front end issues
    them (its ``EXEC`` state), each as ``(member, allocates, reads set, updates set, pushes a
    job, words read, word written, releases set, ends batch, batch size)``."""
    op, a, b, c, d, n, m = Opcode(ins.op), ins.a, ins.b, ins.c, ins.d, ins.n, ins.m
    outer, mids = {Opcode.MV: (n, m), Opcode.MTV: (m, n), Opcode.PROJ: (m, n),
                   Opcode.NORM: (1, n), Opcode.UPDATE: (n, m), Opcode.SCALE: (n, 2)}[op]
    if op in REDUCING and (outer == 0 or mids == 0):
        return
    address = {Opcode.MV: lambda g, j: (a + g * m + j, b + j),
               Opcode.MTV: lambda g, i: (a + i * m + g, b + i),
               Opcode.PROJ: lambda g, s: (a + s * d + g, b + s),
               Opcode.NORM: lambda g, s: (a + s, a + s),
               Opcode.UPDATE: lambda g, k: (a + g * d + k, b + k),
               Opcode.SCALE: lambda g, p: (a + g, b + p)}[op]
    reducing = op in REDUCING
    g0 = 0
    while g0 < outer:
        size = batch_size(outer - g0, batch)
        if op == Opcode.UPDATE:
            for s in range(size):
                yield (s, True, False, True, False, (c + g0 + s,), None, False, False, size)
        for mid in range(mids):
            restart = mid == 0 and op != Opcode.UPDATE
            last = mid == mids - 1
            for s in range(size):
                yield (s, restart, not restart, True, reducing and last, address(g0 + s, mid),
                       None, False, reducing and last and s == size - 1, size)
        if op == Opcode.UPDATE:
            for s in range(size):
                yield (s, False, True, False, False, (), c + g0 + s, True, s == size - 1, size)
        elif op == Opcode.SCALE:
            for s in range(size):
                yield (s, False, True, False, False, (), a + g0 + s, False, False, size)
                yield (s, False, True, False, False, (), c + (g0 + s) * d, True, s == size - 1,
                       size)
        g0 += size


def program_cycles(config: DcomConfig, program, *, stop: tuple[Status, int] | None = None,
                   activity: bool = False) -> ProgramCycles:
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
    activity : bool
        Also record when commands issue and groups enter the network
        (:attr:`ProgramCycles.activity`).

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
    return _run(config, program, stop_status, stop_pc, activity)


def _run(config, program, stop_status, stop_pc, activity) -> ProgramCycles:
    """The controller's registers, stepped cycle by cycle (:mod:`dcom.hw.controller`)."""
    lat = latencies(config)
    S, W = config.acc_sets, config.write_latency
    settle_cycles = lat.cluster + lat.accumulate
    # The feed register, the distribution register, the network, the result register.
    result_delay = 2 + lat.network + 1
    scalar = lat.scalar
    # How long the clusters are busy after a command issues: the command register, the
    # cluster row's distribution register, then the command's own latency.
    busy_after = {"update": 2 + lat.cluster + lat.accumulate, "write": 2 + W,
                  "other": 2 + lat.cluster}

    trace = {"commands": [], "groups": []} if activity else None
    busy_sets = [False] * S
    cool = [0] * S
    settle = [0] * S
    set_base = 0
    jobs = deque()             # [set, groups left, is NORM, is across]
    cross_wait = 0             # cycles until a row or column reduction may enter
    results = deque()          # (cycle its result leaves the network, is NORM)
    writes = deque()           # (issue cycle, word) of write-backs in flight
    clusters_busy_until = 0
    norm_busy = False
    norm_step = None           # (cycle, what): the NORM's next scalar step
    be_mixed = False
    prev = None
    starts = []                # (pc, instruction, start cycle, issued cycle or None)
    state, t, pc = "FETCH", 2, 0
    ins, ins_pc, error, commands, pending, serial, first_batch = None, 0, None, None, None, \
        False, True
    front_end_until = None
    norm_pc = None
    while True:
        be_idle = not jobs and not results and not norm_busy
        clusters_idle = t > clusters_busy_until
        full_idle = be_idle and clusters_idle
        feed = (jobs[0] if jobs and settle[jobs[0][0]] == 0 and (jobs[0][3] or cross_wait == 0)
                else None)
        issue = None
        stopped = None
        next_state = state

        # ---- NORM's scalar steps (the result leaves the network in cycle r) ---------------
        if norm_step is not None and norm_step[0] == t:
            what = norm_step[1]
            if what == "sqrt":
                if norm_pc == stop_pc and stop_status is not None:
                    stopped = (stop_status, norm_pc)
                    norm_busy = False
                else:
                    # The reciprocal, the split into hi and lo, then the two words.
                    norm_step = (t + scalar + config.norm_split_latency + 2, "lo")
            else:
                norm_busy = False
                norm_step = None

        # ---- front end ------------------------------------------------------------------
        if stopped is None:
            if state == "FETCH":
                if pc >= config.program_depth:
                    error, ins_pc, next_state = Status.BAD_PC, pc, "WAIT"
                else:
                    next_state = "DECODE"
            elif state == "DECODE":
                ins = program[pc] if pc < len(program) else Instruction(Opcode.HALT)
                ins_pc, pc = pc, pc + 1
                error = check_instruction(config, ins)
                next_state, check_until = "CHECK", t + config.check_cycles
            elif state == "CHECK":
                if t == check_until:
                    next_state = "WAIT"
            elif state == "WAIT":
                op = None if error is not None else Opcode(ins.op)
                if error is not None or op == Opcode.HALT:
                    if full_idle:
                        stopped = (error or Status.DONE, ins_pc)
                else:
                    if op in REDUCING:
                        early = (not be_mixed and not norm_busy and not
                                 (prev is not None and touches_writes_of(ins, prev, config)))
                        ready = be_idle or early
                    elif op in (Opcode.UPDATE, Opcode.SCALE):
                        ready = be_idle
                    else:
                        ready = full_idle
                    if ready:
                        starts.append([ins_pc, ins, t, None])
                        if op in (Opcode.ZERO, Opcode.LOAD, Opcode.STORE, Opcode.BCAST):
                            next_state = "MEMORY"
                            front_end_until = t + memory_cycles(config, ins)
                        else:
                            next_state = "EXEC"
                            interfere = steps_interfere(ins, config)
                            commands = _commands(config, ins, 1 if interfere else config.batch)
                            pending = next(commands, None)
                            serial, first_batch = interfere and op in REDUCING, True
                        if op in REDUCING and all(loop_counts(ins)):
                            be_mixed = not be_idle
                            prev = ins
                            if op == Opcode.NORM:
                                norm_busy, norm_pc = True, ins_pc
            elif state == "MEMORY":
                if t == front_end_until:
                    next_state = "FETCH"
                    starts[-1][3] = t + 1
            elif state == "EXEC":
                if pending is None:
                    next_state = "FETCH"
                    starts[-1][3] = t + 1
                else:
                    (s, allocates, reads, updates, job, words, written, releases, ends,
                     size) = pending
                    k = (set_base + s) % S
                    ok = not (allocates and busy_sets[k]) and not (reads and cool[k])
                    if ok and words:
                        ok = not any(1 <= t - tw <= W and w in words for tw, w in writes)
                    if ok and serial and allocates and s == 0 and not first_batch:
                        ok = be_idle
                    if ok:
                        issue = (k, pending)

        if stopped is not None:
            return _finish(config, starts, stopped, t, trace)

        # ---- end of the cycle -------------------------------------------------------------
        if be_idle:
            be_mixed = False        # (a start in this cycle set it to False too)
        for k in range(S):
            if cool[k]:
                cool[k] -= 1
            if settle[k]:
                settle[k] -= 1
        while writes and t - writes[0][0] >= W:
            writes.popleft()
        if results and results[0][0] == t:
            _, is_norm = results.popleft()
            if is_norm:
                norm_step = (t + scalar, "sqrt")
        if feed is not None and feed[3]:
            cross_wait = lat.cross
        elif cross_wait:
            cross_wait -= 1
        if feed is not None:
            if trace is not None:
                trace["groups"].append(t)
            feed[1] -= 1
            if feed[1] == 0:
                results.append((t + result_delay + (lat.cross if feed[3] else 0), feed[2]))
                jobs.popleft()
                busy_sets[feed[0]] = False
        if issue is not None:
            k, (s, allocates, reads, updates, job, words, written, releases, ends,
                size) = issue
            kind = "update" if updates else "write" if written is not None else "other"
            clusters_busy_until = max(clusters_busy_until, t + busy_after[kind])
            if trace is not None:
                trace["commands"].append(t)
            if allocates:
                busy_sets[k] = True
            if updates:
                cool[k] = config.acc_latency - 1
                settle[k] = settle_cycles
            if written is not None:
                writes.append((t, written))
            if releases:
                busy_sets[k] = False
            if job:
                jobs.append([k, reduction_groups(config, Opcode(ins.op)),
                             ins.op == Opcode.NORM, ins.op in (Opcode.PROJ, Opcode.NORM)])
            if ends:
                set_base = (set_base + size) % S
                first_batch = False
            pending = next(commands, None)
            if pending is None:
                next_state = "FETCH"
                starts[-1][3] = t + 1
        state = next_state
        t += 1


def _finish(config, starts, stopped, t, trace) -> ProgramCycles:
    timings = []
    for k, (pc, ins, start, issued) in enumerate(starts):
        end = starts[k + 1][2] if k + 1 < len(starts) else t
        timings.append(InstructionTiming(pc, ins, start, issued if issued is not None else t,
                                         end - start))
    return ProgramCycles(config, tuple(timings), stopped[0], stopped[1], t, trace)
