"""Roofline of D-com: every instruction class against the throughput bounds of its resources.

:func:`instruction_bounds` gives, per instruction, the cycles it needs on each of
:data:`RESOURCES` at full throughput, as if a controller overlapped everything else (pipeline
latencies included); the largest is its throughput bound. :func:`roofline` sums those bounds
per instruction class of a run modelled by :func:`dcom.sw.cycles.program_cycles` and sets them,
and the multiply-accumulates attained (:func:`instruction_macs`), against the cycles the class
takes.
"""

from __future__ import annotations

from dataclasses import dataclass

from dcom.config import DcomConfig
from dcom.isa import Instruction, InstructionClass, Opcode, Side
from dcom.sw.cycles import ProgramCycles, latencies, loop_counts, reduction_groups

__all__ = ["RESOURCES", "instruction_macs", "instruction_bounds", "ClassRoofline", "roofline"]

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
        outer, inner = loop_counts(ins)
        if outer and inner:
            bounds["commands"] = outer * inner
            bounds["reduction"] = outer * reduction_groups(config, op)
            bounds["fill"] = 2 if op == Opcode.NORM else outer
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

