"""Checks of the whole-array estimates against measurements, at sizes where both exist.

The full array's systolic figure (:func:`~dcom.synth.evaluate.full_scale_systolic`) scales
the measured ``P x Q`` array to ``R P x C Q`` PEs by structural and event counts; at the
paper's scale the big array is far too large to simulate at gate level. At small scales it is
not: :func:`check_systolic_scaling` measures the small array of a configuration and, on the
same Lanczos step (``R x C`` times the small array's block, as the estimate assumes), the big
array itself, as the cluster-scale array of :func:`one_cluster_equivalent` (the same
multipliers and SRAM capacity in one cluster). The estimate is then compared with the
measurement category by category: area, energy of the step, cycles.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from dcom.config import DcomConfig
from dcom.report import ReportFiles, Table, write_report

from .evaluate import (DesignEvaluation, FullScale, TimingSettings, evaluate_systolic,
                       full_scale_systolic, step_for, systolic_for)
from .flow import Progress
from .workloads import lanczos_step

__all__ = ["ScalingCheck", "one_cluster_equivalent", "check_systolic_scaling",
           "write_scaling_report"]


def one_cluster_equivalent(config: DcomConfig) -> DcomConfig:
    """The one-cluster configuration whose cluster-scale systolic array is ``config``'s
    full-scale one: a ``R P x C Q`` grid, the same buffer depth (so the same capacity)."""
    big = config.replace(cluster_rows=1, cluster_cols=1, expansion=1,
                         grid_rows=config.grid_rows * config.cluster_rows,
                         grid_cols=config.grid_cols * config.cluster_cols)
    assert systolic_for(big) == systolic_for(config, "full")
    return big


@dataclass
class ScalingCheck:
    """A full-scale systolic estimate next to the measurement of the same array.

    Attributes
    ----------
    config : DcomConfig
        The configuration whose cluster-scale array was scaled.
    small : DesignEvaluation
        The measured cluster-scale array, the estimate's basis.
    estimate : FullScale
        :func:`~dcom.synth.evaluate.full_scale_systolic` of ``small``.
    measured : DesignEvaluation
        The full-scale array, synthesized and measured on the same step.
    """

    config: DcomConfig
    small: DesignEvaluation
    estimate: FullScale
    measured: DesignEvaluation

    @property
    def label(self) -> str:
        """The two array sizes, e.g. ``2x2 -> 4x4``."""
        s, b = systolic_for(self.config), systolic_for(self.config, "full")
        return f"{s['rows']}x{s['cols']} -> {b['rows']}x{b['cols']}"

    def _energy_pj(self, uw: float, cycles: int) -> float:
        return uw * cycles / self.config.clock_mhz

    def categories(self) -> list[dict]:
        """Per category: area and step energy (pJ), estimated and measured."""
        run = self.measured.power.power
        rows = []
        for category, measured in run.categories.items():
            rows.append({
                "category": category,
                "area_estimated_um2": self.estimate.area[category],
                "area_measured_um2": self.measured.area[category].area_um2,
                "energy_estimated_pj": self._energy_pj(self.estimate.power[category].total_uw,
                                                       self.estimate.cycles),
                "energy_measured_pj": self._energy_pj(measured.total_uw, run.cycles)})
        return rows

    def totals(self) -> dict:
        """Whole-array area, step energy without and with clock gating, and cycles."""
        run = self.measured.power.power
        big = systolic_for(self.config, "full")
        figures = self.estimate.step_figures(self.config.clock_mhz, self.measured.workload.macs,
                                             big["rows"] * big["cols"])
        return {"area_estimated_um2": self.estimate.area_um2(),
                "area_measured_um2": self.measured.area_um2(),
                "energy_estimated_pj": figures.energy_pj[0],
                "energy_measured_pj": self._energy_pj(run.total().total_uw, run.cycles),
                "gated_energy_estimated_pj": figures.energy_pj[1],
                "gated_energy_measured_pj": self._energy_pj(run.gated().total().total_uw,
                                                            run.cycles),
                "cycles_estimated": self.estimate.cycles, "cycles_measured": run.cycles}

    def to_dict(self) -> dict:
        """Plain-data form for JSON reports."""
        return {"arrays": self.label, "config": self.config.to_dict(),
                "categories": self.categories(), "totals": self.totals()}

    def table(self) -> Table:
        """Estimate against measurement, category by category, then the totals."""
        def ratio(estimated, measured):
            return estimated / measured if measured else float("nan")

        rows = [[c["category"], c["area_estimated_um2"], c["area_measured_um2"],
                 ratio(c["area_estimated_um2"], c["area_measured_um2"]),
                 c["energy_estimated_pj"], c["energy_measured_pj"],
                 ratio(c["energy_estimated_pj"], c["energy_measured_pj"])]
                for c in self.categories()]
        t = self.totals()
        rows.append(["whole array", t["area_estimated_um2"], t["area_measured_um2"],
                     ratio(t["area_estimated_um2"], t["area_measured_um2"]),
                     t["energy_estimated_pj"], t["energy_measured_pj"],
                     ratio(t["energy_estimated_pj"], t["energy_measured_pj"])])
        rows.append(["whole array, clock gated", "", "", "", t["gated_energy_estimated_pj"],
                     t["gated_energy_measured_pj"],
                     ratio(t["gated_energy_estimated_pj"], t["gated_energy_measured_pj"])])
        return Table(f"Systolic array {self.label}: estimate scaled from the small array "
                     f"against the big array measured",
                     ["category", "area estimated (um^2)", "area measured (um^2)",
                      "area ratio", "step energy estimated (pJ)", "step energy measured (pJ)",
                      "energy ratio"], rows,
                     notes=f"Cycles of the step: {t['cycles_estimated']:,} estimated, "
                           f"{t['cycles_measured']:,} measured (the small array's step: "
                           f"{self.small.power.power.cycles:,}).")


def check_systolic_scaling(config: DcomConfig, out_dir: str | Path, *, tiles: int = 2,
                           seed: int = 1, small: DesignEvaluation | None = None,
                           progress: Callable[[str], None] | None = None) -> ScalingCheck:
    """Measure ``config``'s cluster-scale systolic array and its full-scale one, and compare
    the full-scale estimate scaled from the first with the second.

    Parameters
    ----------
    config : DcomConfig
        Small enough that ``R P x C Q`` PEs can be simulated at gate level.
    out_dir : path
        Receives a folder per array with its netlist, logs and simulation files.
    tiles : int
        The small array's step is ``tiles x tiles`` units of ``lcm(P, Q)``
        (:func:`~dcom.synth.evaluate.step_for`); the big array's is ``R x C`` times it.
    seed : int
        Seed of the steps' matrices.
    small : DesignEvaluation, optional
        The small array already measured on that step (e.g. by ``dcom synth --compare
        systolic`` with the same ``tiles`` and ``seed``); measured here if not given.
    progress : callable, optional
        Receives one line per step (default: standard error).
    """
    steps = Progress(progress)
    out_dir = Path(out_dir)
    settings = TimingSettings(config.clock_mhz)
    small_step = step_for(config, tiles, seed)
    rows, cols = small_step.a.shape
    big_step = lanczos_step(rows * config.cluster_rows, cols * config.cluster_cols, seed)
    if small is None:
        small = evaluate_systolic(config, small_step, out_dir / "small", None, True, settings,
                                  steps, "systolic (small)")
    measured = evaluate_systolic(one_cluster_equivalent(config), big_step, out_dir / "big",
                                 None, True, settings, steps, "systolic (big)")
    return ScalingCheck(config, small, full_scale_systolic(config, small), measured)


def write_scaling_report(checks: list[ScalingCheck], out_dir: str | Path) -> ReportFiles:
    """``systolic_scaling.json`` and ``.md`` with one table per check."""
    return write_report(out_dir, "systolic_scaling",
                        "Full-scale systolic estimate against measurement",
                        {"checks": [c.to_dict() for c in checks]},
                        tables=[c.table() for c in checks],
                        notes=["Each check scales the small array's measured area and energy "
                               "to the big one (dcom.synth.evaluate.full_scale_systolic) and "
                               "measures the big one on the same step, by the same flow."])
