"""The top level's power at any scale, from its structure and its program.

A whole instance's top level (banks, program and broadcast memories, buses, reduction
network, controller, scalar unit) is simulated at gate level only at small scales: a
gate-level run of the paper's 256 clusters would take weeks. This model gives its power at
any scale from what synthesis and the compiler know, in four parts:

* **memories**: every access the program makes, times the SRAM model's energy per access
  of that memory (:func:`program_activity`): the program memory is read every cycle; each
  bank word a LOAD reads is read from every bank (the banks share one read enable) and each
  word a STORE writes is written to every bank; each NORM writes its result to the broadcast
  memory once (only the host reads it). These are the counts the gate-level simulation
  makes, exactly;
* **the clock of the top level's own flip-flops**: their clock energy per cycle from
  synthesis (:attr:`~dcom.synth.design.CategoryFigures.clock_fj`: the flip-flop count
  times the Liberty clock pins' energy), ungated; with clock gating, times a fitted rate;
* **the rest of the top level logic's dynamic energy** (data transitions in the network,
  buses and controller): a fitted constant per cycle plus one per cluster and cycle;
* **leakage**: from synthesis.

The constants (:class:`TopLevelModel`: the two of the data energy, the clock-gating rates)
are fitted on instances measured at gate level by ``scripts/bench_top_power.py``, which also
checks each measured instance against the model fitted on the others.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from dcom.config import DcomConfig
from dcom.hw.top import top_memories
from dcom.isa import OPERANDS, Opcode

from . import sram
from .design import CategoryFigures
from .power import ClockGating, PowerFigures

__all__ = ["TopActivity", "TopSample", "TopLevelModel", "TOP_LEVEL_MODEL", "program_activity",
           "memory_macro"]


@dataclass(frozen=True)
class TopActivity:
    """What the top level does over a program run.

    Attributes
    ----------
    cycles : int
        Clock cycles from the program's start to its stop.
    clusters : int
        Clusters of the instance.
    accesses : dict
        Memory kind (a key of :func:`dcom.hw.top.top_memories`) -> ``(reads, writes)``,
        over all instances of that memory.
    """

    cycles: int
    clusters: int
    accesses: dict[str, tuple[int, int]]


def _operand_words(op: Opcode, name: str, ins, config: DcomConfig) -> int:
    operand = next(o for o in OPERANDS[op] if o.name == name)
    return operand.count.evaluate(ins, config)


def program_activity(config: DcomConfig, program, cycles: int) -> TopActivity:
    """The memory accesses of ``program`` run to its ``HALT`` in ``cycles`` cycles (the cycle
    model's count, :func:`dcom.sw.cycles.program_cycles`), as the top level's RTL makes
    them (see the module docstring)."""
    banks = top_memories(config)["bank"].instances
    loaded = stored = results = 0
    for ins in program:
        op = ins.opcode
        if op == Opcode.HALT:
            break
        if op == Opcode.LOAD:
            loaded += _operand_words(op, "bank", ins, config)
        elif op == Opcode.STORE:
            stored += _operand_words(op, "bank", ins, config)
        elif op == Opcode.NORM:
            results += _operand_words(op, "result", ins, config)
    return TopActivity(cycles, config.n_clusters,
                       {"bank": (banks * loaded, banks * stored), "program": (cycles, 0),
                        "broadcast": (0, results)})


def memory_macro(config: DcomConfig, kind: str) -> sram.SramFigures:
    """The SRAM model's figures of one of the top level's memories (the macro synthesis maps
    it to: one read and one write port, written a whole word at a time)."""
    memory = top_memories(config)[kind]
    return sram.sram_figures(sram.SramConfig(memory.depth, memory.width, 1, 1, memory.width))


@dataclass(frozen=True)
class TopSample:
    """One instance whose top level was measured at gate level: its activity and the
    measured figures of the top level's own logic (category
    :data:`~dcom.synth.evaluate.TOP_GLUE_CATEGORY`)."""

    activity: TopActivity
    glue: PowerFigures
    gating: ClockGating

    def data_fj(self, clock_mhz: float) -> float:
        """Dynamic energy of the glue over the run, its clock's excluded."""
        dynamic = self.glue.internal_uw + self.glue.switching_uw - self.glue.clock_uw
        return dynamic * self.activity.cycles / clock_mhz * 1e3


@dataclass(frozen=True)
class TopLevelModel:
    """The fitted constants of the top level's power (see the module docstring).

    Attributes
    ----------
    data_fj_per_cycle, data_fj_per_cluster_cycle : float
        The glue's dynamic energy besides its clock: ``a cycles + b clusters cycles``.
    clock_rate : float
        With clock gating, the fraction of the glue's ungated clock energy drawn on a run.
    idle_clock_rate : float
        The same in a cycle in which no register loads (the gates alone).
    basis : str
        Where the constants come from.
    """

    data_fj_per_cycle: float
    data_fj_per_cluster_cycle: float
    clock_rate: float
    idle_clock_rate: float
    basis: str = ""

    @classmethod
    def fit(cls, samples: Sequence[TopSample], clock_mhz: float) -> "TopLevelModel":
        """Least-squares fit on two or more measured instances of different cluster counts
        (exact with two); the clock rates are the samples' means."""
        if len({s.activity.clusters for s in samples}) < 2:
            raise ValueError("the top level's model needs instances of at least two cluster "
                             f"counts, got {sorted(s.activity.clusters for s in samples)}")
        basis = np.array([[s.activity.cycles, s.activity.cycles * s.activity.clusters]
                          for s in samples], dtype=float)
        energy = np.array([s.data_fj(clock_mhz) for s in samples])
        (a, b), *_ = np.linalg.lstsq(basis, energy, rcond=None)
        rates = [s.gating.clock_rate(s.activity.cycles) for s in samples]
        idle = [s.gating.idle_rate() for s in samples]
        return cls(float(a), float(b), float(np.mean(rates)), float(np.mean(idle)),
                   "fitted on " + ", ".join(f"{s.activity.clusters} clusters"
                                            for s in samples))

    def memories(self, config: DcomConfig, activity: TopActivity,
                 area: CategoryFigures) -> PowerFigures:
        """The memories' power over ``activity``: accesses times the SRAM model's energies,
        plus ``area``'s leakage."""
        energy_pj = 0.0
        for kind, (reads, writes) in activity.accesses.items():
            macro = memory_macro(config, kind)
            energy_pj += reads * macro.read_energy_pj + writes * macro.write_energy_pj
        return PowerFigures(sram_uw=energy_pj * config.clock_mhz / activity.cycles,
                            leakage_uw=area.leakage_nw / 1000)

    def glue(self, config: DcomConfig, activity: TopActivity, area: CategoryFigures,
             gated: bool = False) -> PowerFigures:
        """The top level's own logic over ``activity``: its clock (from ``area``; times
        :attr:`clock_rate` if ``gated``) and data energy; the model does not split internal
        from switching energy (all internal)."""
        clock_uw = area.clock_fj * config.clock_mhz * 1e-3 * (self.clock_rate if gated else 1)
        data_fj = activity.cycles * (self.data_fj_per_cycle
                                     + activity.clusters * self.data_fj_per_cluster_cycle)
        data_uw = data_fj * config.clock_mhz / activity.cycles * 1e-3
        return PowerFigures(internal_uw=clock_uw + data_uw, leakage_uw=area.leakage_nw / 1000,
                            clock_uw=clock_uw)


#: Fitted by ``scripts/bench_top_power.py`` on instances of 2 x 2, 2 x 4 and 4 x 4 clusters
#: of 2 x 2 multipliers (64-word buffers), each running four compiled Lanczos steps, with
#: dcom's 15nm-style library at 1 GHz.
TOP_LEVEL_MODEL = TopLevelModel(574.8, 111.21, 0.1181, 0.0489,
                                "fitted on 4, 8 and 16 clusters of 2 x 2 at gate level")
