"""D-com against the systolic array three ways: the comparisons behind the paper's figure 13.

The paper reports D-com's area +3 % and power -59 % against "a systolic array with the same
compute capability and memory" without saying at what work, time or activity the power was
taken. The two designs run the same Lanczos step in very different times, so "power" can mean
three different things, each computed here from the measured (or, at full scale, estimated)
energy of the step:

* **energy at equal work**: the energy of the same step (per step, per multiply-accumulate);
* **average power over a common window**: both designs over the slower one's time, the faster
  one idle for the rest (an idle cycle draws leakage and the clock: all of it without clock
  gating, only the clock gates with it);
* **power at equal utilization**: each design's power when its multipliers are as busy as
  D-com's, each at its own measured energy per unit of work (what a power tool reports when
  it applies the same toggle rates to both designs).

Each comes with and without clock gating of idle logic (:class:`dcom.synth.power.ClockGating`).
"""

from __future__ import annotations

from dataclasses import dataclass

from .power import PowerBreakdown

__all__ = ["StepFigures", "COMPARISONS", "LIKELY_PAPER_COMPARISON", "compare_designs"]

#: Comparison -> what it means, as the report prints it.
COMPARISONS = {
    "energy at equal work": "energy of the same Lanczos step (the same multiply-accumulates); "
                            "independent of how long each design takes",
    "average power over a common window": "both designs over the slower one's time for the "
                                          "step, the faster one idle for the rest",
    "power at equal utilization": "each design with its multipliers as busy as D-com's, at its "
                                  "own measured energy per unit of work",
}

#: Which comparison the paper's -59 % most likely is, and why.
LIKELY_PAPER_COMPARISON = (
    "power at equal utilization",
    "the paper's figures come from Synopsys Design Compiler (its section 6.1), whose power "
    "report applies the "
    "same default toggle rates to every design unless each one's simulated activity is "
    "annotated; that compares power at equal activity, not at equal work or time")


@dataclass(frozen=True)
class StepFigures:
    """One design on the step, without (``[0]``) and with (``[1]``) clock gating.

    Attributes
    ----------
    cycles : int
        Cycles of the step.
    energy_pj : tuple of float
        Energy of the step.
    leakage_uw : float
    clock_uw : tuple of float
        The clock's part of the average power over the step.
    gates_uw : float
        The clock of the clock gates alone (drawn in every cycle when gated).
    macs : int
        Multiply-accumulates of the step.
    multipliers : int
        Multipliers of the design.
    clock_mhz : float
    """

    cycles: int
    energy_pj: tuple[float, float]
    leakage_uw: float
    clock_uw: tuple[float, float]
    gates_uw: float
    macs: int
    multipliers: int
    clock_mhz: float

    @classmethod
    def measured(cls, power: PowerBreakdown, macs: int, multipliers: int) -> "StepFigures":
        """From a measured power breakdown (its clock gating included)."""
        gated = power.gated()
        return cls(power.cycles, (power.energy_pj(), gated.energy_pj()),
                   power.total().leakage_uw, (power.total().clock_uw, gated.total().clock_uw),
                   power.idle(True).clock_uw, macs, multipliers, power.clock_mhz)

    @property
    def utilization(self) -> float:
        """Multiply-accumulates over multiplier-cycles."""
        return self.macs / (self.cycles * self.multipliers)

    def seconds(self, cycles: float) -> float:
        """``cycles`` at the clock, in microseconds."""
        return cycles / self.clock_mhz

    def power_uw(self, gated: bool) -> float:
        """Average power over the design's own time for the step."""
        return self.energy_pj[gated] / self.seconds(self.cycles)

    def idle_uw(self, gated: bool) -> float:
        """Power of a cycle in which nothing but the clock changes: leakage and the whole
        clock, or with gating only the gates' clock."""
        return self.leakage_uw + (self.gates_uw if gated else self.clock_uw[0])

    def window_power_uw(self, cycles: int, gated: bool) -> float:
        """Average power over ``cycles`` (at least the step's), idle after the step."""
        if cycles < self.cycles:
            raise ValueError(f"window of {cycles} cycles is shorter than the step "
                             f"({self.cycles})")
        idle_pj = self.idle_uw(gated) * self.seconds(cycles - self.cycles)
        return (self.energy_pj[gated] + idle_pj) / self.seconds(cycles)

    def power_at_utilization_uw(self, utilization: float, gated: bool) -> float:
        """Power with the multipliers busy ``utilization`` of the cycles: the logic's and
        memories' switching scaled by the activity; the clock whole without gating, with it
        the gates plus the gated part scaled by the activity, at most the whole clock."""
        scale = utilization / self.utilization
        data = self.power_uw(gated) - self.leakage_uw - self.clock_uw[gated]
        clock = self.clock_uw[0]
        if gated:
            clock = min(clock, self.gates_uw + (self.clock_uw[1] - self.gates_uw) * scale)
        return self.leakage_uw + clock + data * scale


def compare_designs(dcom: StepFigures, systolic: StepFigures) -> dict:
    """The three comparisons, D-com over the systolic array, without and with clock gating.

    Returns
    -------
    dict
        Comparison -> ``{"meaning", "ungated", "gated"}``, each figure a dict of both designs'
        values and their ratio; plus ``"utilization"`` and ``"window_cycles"``.
    """
    window = max(dcom.cycles, systolic.cycles)
    target = dcom.utilization
    result = {"utilization": {"dcom": dcom.utilization, "systolic": systolic.utilization},
              "window_cycles": window}
    for name, meaning in COMPARISONS.items():
        entry = {"meaning": meaning}
        for gated, label in ((False, "ungated"), (True, "gated")):
            if name == "energy at equal work":
                d, s = dcom.energy_pj[gated], systolic.energy_pj[gated]
                entry[label] = {"dcom_pj": d, "systolic_pj": s, "ratio": d / s,
                                "dcom_pj_per_mac": d / dcom.macs,
                                "systolic_pj_per_mac": s / systolic.macs}
                continue
            if name == "average power over a common window":
                d = dcom.window_power_uw(window, gated)
                s = systolic.window_power_uw(window, gated)
            else:
                d = dcom.power_at_utilization_uw(target, gated)
                s = systolic.power_at_utilization_uw(target, gated)
            entry[label] = {"dcom_uw": d, "systolic_uw": s, "ratio": d / s}
        result[name] = entry
    return result
