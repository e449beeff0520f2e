"""The report of ``dcom sweep``: one results table as JSON, CSV and Markdown, and charts of the
time a prompt against area and against energy a prompt, with the Pareto front and the paper's
design point marked.

The JSON, Markdown and charts go through :func:`dcom.report.write_report`; :class:`ScatterChart`
has the interface of :mod:`dcom.report`'s charts (``title``, ``slug``, ``save``).
"""

from __future__ import annotations

import csv
import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from dcom import __version__
from dcom.config import DcomConfig
from dcom.report import Table, _slug, write_report

__all__ = ["ScatterChart", "pareto_front", "metrics", "write_sweep_report"]

#: The CSV's columns after the configuration's fields: a record's figures (see :func:`metrics`).
METRICS = ("cycles", "prompt_s", "batch_s", "bound_cycles", "area_mm2", "cluster_area_mm2",
           "power_w", "energy_per_prompt_j", "fmax_mhz", "meets_clock", "prompt_s_met",
           "tests_passed", "tests_failed", "tests_skipped")
#: The CSV's leading columns.
HEAD = ("key", "label", "status", "source", "stage", "error", "log", "host", "seconds")


def pareto_front(xs: Sequence[float], ys: Sequence[float]) -> list[int]:
    """Indices of the points no other point beats on both ``x`` and ``y`` (both minimized),
    in increasing ``x``."""
    front, best = [], math.inf
    for i in sorted(range(len(xs)), key=lambda i: (xs[i], ys[i])):
        if ys[i] < best:
            front.append(i)
            best = ys[i]
    return front


def metrics(record: dict) -> dict:
    """A point record's figures, flat (None where a stage did not run or failed), with those
    derived from two stages: the energy a prompt, the full array's power (measured at the
    configured clock) times the time a prompt; and the time a prompt at the clock the design
    meets, ``min(clock_mhz, fmax)``."""
    perf, synth, regress = (record.get(k) or {} for k in ("perf", "synth", "regress"))
    energy = met = None
    if perf and synth:
        energy = synth["power_w"] * perf["prompt_s"]
        if synth["fmax_mhz"]:
            # A design that misses its clock runs at its fmax.
            clock = min(record["config"]["clock_mhz"], synth["fmax_mhz"])
            met = perf["cycles"] / (1e6 * clock)
    return {"cycles": perf.get("cycles"), "prompt_s": perf.get("prompt_s"),
            "batch_s": perf.get("batch_s"), "bound_cycles": perf.get("bound_cycles"),
            "area_mm2": synth.get("area_mm2"), "cluster_area_mm2": synth.get("cluster_area_mm2"),
            "power_w": synth.get("power_w"), "energy_per_prompt_j": energy,
            "fmax_mhz": synth.get("fmax_mhz"), "meets_clock": synth.get("meets_clock"),
            "prompt_s_met": met, "tests_passed": regress.get("passed"),
            "tests_failed": regress.get("failed"), "tests_skipped": regress.get("skipped")}


@dataclass(frozen=True)
class ScatterChart:
    """Points in two figures of merit, both lower-is-better: the Pareto front joined by a
    line and labelled, the paper's design point a star, points that miss their clock hollow."""

    title: str
    x: Sequence[float]
    y: Sequence[float]
    labels: Sequence[str]
    xlabel: str
    ylabel: str
    paper: int | None = None
    missed: frozenset = frozenset()

    @property
    def slug(self) -> str:
        """File-name part derived from the title."""
        return _slug(self.title)

    @property
    def front(self) -> list[int]:
        """Indices of the Pareto front."""
        return pareto_front(self.x, self.y)

    def save(self, path: Path) -> Path:
        """Render the chart to a PNG file."""
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(7.5, 5.0))
        met = [i for i in range(len(self.x)) if i not in self.missed]
        ax.scatter([self.x[i] for i in met], [self.y[i] for i in met], color="tab:blue",
                   label="design points")
        if self.missed:
            ax.scatter([self.x[i] for i in self.missed], [self.y[i] for i in self.missed],
                       facecolors="none", edgecolors="tab:blue", label="misses its clock")
        front = self.front
        ax.plot([self.x[i] for i in front], [self.y[i] for i in front], color="tab:orange",
                marker="o", label="Pareto front")
        for i in front:
            ax.annotate(self.labels[i], (self.x[i], self.y[i]), fontsize=7,
                        xytext=(4, 4), textcoords="offset points")
        if self.paper is not None:
            ax.scatter([self.x[self.paper]], [self.y[self.paper]], marker="*", s=250,
                       color="tab:red", zorder=3, label="paper's design point")
        for axis, values in (("x", self.x), ("y", self.y)):
            if min(values) > 0 and max(values) / min(values) > 20:
                getattr(ax, f"set_{axis}scale")("log")
        ax.set_xlabel(self.xlabel)
        ax.set_ylabel(self.ylabel)
        ax.set_title(self.title)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(path, dpi=120)
        plt.close(fig)
        return path


def _charts(records: list[dict], paper_key: str | None) -> list[ScatterChart]:
    charts = []
    ok = [r for r in records if r["status"] == "ok"]
    axes = (("Time per prompt against area", "area_mm2", "area (mm^2)", 1.0),
            ("Time per prompt against energy per prompt", "energy_per_prompt_j",
             "energy a prompt (uJ)", 1e6))
    for title, name, xlabel, scale in axes:
        shown = [r for r in ok if metrics(r)[name] is not None]
        if shown:
            charts.append(_chart(title, shown, [scale * metrics(r)[name] for r in shown],
                                 xlabel, paper_key))
    if not charts and ok:
        charts.append(_chart("Time per prompt against multipliers", ok,
                             [DcomConfig.from_dict(r["config"]).n_multipliers for r in ok],
                             "FP16 multipliers (no synthesis: the area's proxy)", paper_key))
    return charts


def _chart(title: str, shown: list[dict], x: list[float], xlabel: str,
           paper_key: str | None) -> ScatterChart:
    keys = [r["key"] for r in shown]
    missed = frozenset(i for i, r in enumerate(shown) if metrics(r)["meets_clock"] is False)
    clocks = ", ".join(f"{c:g}" for c in
                       sorted({DcomConfig.from_dict(r["config"]).clock_mhz for r in shown}))
    # Synthesized points are timed at the clock they meet, which is what they deliver.
    met = [metrics(r)["prompt_s_met"] for r in shown]
    ylabel = (f"time a prompt (us) at min({clocks} MHz, fmax)" if all(met) else
              f"time a prompt (us) at {clocks} MHz")
    y = [1e6 * (m if all(met) else r["perf"]["prompt_s"]) for m, r in zip(met, shown)]
    return ScatterChart(title, x, y, [r["label"] for r in shown], xlabel, ylabel,
                        keys.index(paper_key) if paper_key in keys else None, missed)


def _or_dash(value):
    return "-" if value is None else value


def _results_table(records: list[dict], stages) -> Table:
    columns = ["point", "status", "source", "cycles a prompt", "us a prompt", "batch ms"]
    if stages.synth != "none":
        columns += ["area mm^2", "power W", "uJ a prompt", "fmax MHz", "meets clock",
                    "us at min(clock, fmax)"]
    if stages.regress is not None:
        columns += ["tests passed", "tests failed"]
    columns.append("run s")
    rows = []
    for r in records:
        m = metrics(r)
        row = [r["label"], r["status"], r["source"], _or_dash(m["cycles"]),
               _or_dash(m["prompt_s"] and 1e6 * m["prompt_s"]),
               _or_dash(m["batch_s"] and 1e3 * m["batch_s"])]
        if stages.synth != "none":
            energy = m["energy_per_prompt_j"]
            row += [_or_dash(m["area_mm2"]), _or_dash(m["power_w"]),
                    _or_dash(energy and 1e6 * energy), _or_dash(m["fmax_mhz"]),
                    {None: "-", True: "yes", False: "NO"}[m["meets_clock"]],
                    _or_dash(m["prompt_s_met"] and 1e6 * m["prompt_s_met"])]
        if stages.regress is not None:
            row += [_or_dash(m["tests_passed"]), _or_dash(m["tests_failed"])]
        row.append(_or_dash(r["seconds"].get("total")))
        rows.append(row)
    return Table("Results", columns, rows,
                 notes="Time a prompt at the configured clock (the performance model); with "
                       "synthesis, area and power of the full array (the whole instance's "
                       "synthesis, or the cluster's x R x C with --synth cluster), energy a "
                       "prompt = that power x the time a prompt, the fmax of the slowest "
                       "synthesized design, and the time a prompt at the clock the design "
                       "meets, min(clock, fmax), which the charts show.")


def _csv(path: Path, records: list[dict], invalid: list) -> Path:
    fields = [f.name for f in dataclasses.fields(DcomConfig)]
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow([*HEAD, *fields, *METRICS])
        for r in records:
            m = metrics(r)
            writer.writerow([r["key"], r["label"], r["status"], r["source"], r["stage"] or "",
                             r["error"] or "", r["log"], r["host"] or "",
                             r["seconds"].get("total", ""),
                             *(r["config"][f] for f in fields),
                             *("" if m[k] is None else m[k] for k in METRICS)])
        for point in invalid:
            writer.writerow(["", point.label, "invalid", "", "config", point.error, "", "", "",
                             *("" for _ in fields), *("" for _ in METRICS)])
    return path


def write_sweep_report(out_dir, spec, result) -> dict:
    """Write ``sweep.json``, ``sweep.csv``, ``sweep.md`` and the charts into ``out_dir``.

    Parameters
    ----------
    out_dir : path
    spec : dcom.sweep.SweepSpec
    result : dcom.sweep.SweepResult
        Its ``points``, ``records`` and counts; ``seconds`` as far as known.

    Returns
    -------
    dict
        ``json``, ``markdown``, ``csv`` (paths) and ``charts`` (a list of paths).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    records, invalid = result.records, result.invalid
    paper = DcomConfig().to_dict()
    paper_key = next((r["key"] for r in records if r["config"] == paper), None)
    charts = _charts(records, paper_key)
    fronts = {c.title: [c.labels[i] for i in c.front] for c in charts}
    notes = [f"Workload: {spec.workload.describe()}. Stages: "
             f"{', '.join(spec.stages.names())}"
             + (f" (synthesis: {spec.stages.synth})" if spec.stages.synth != "none" else "")
             + (f" (regression: -k {spec.stages.regress!r} on {spec.stages.sim})"
                if spec.stages.regress is not None else "") + ".",
             f"{len(result.points)} points: {len(records) - result.failed} ok, {result.failed} "
             f"failed, {len(invalid)} invalid; {result.computed} computed, {result.cached} "
             f"from the cache; {result.seconds:.1f} s. dcom {__version__}.",
             "The paper's design point (DcomConfig's defaults) is "
             + ("marked with a star." if paper_key else
                "not among the points (add it with --paper-point).")]
    notes += [f"Pareto front, {title.lower()}: {', '.join(labels)}."
              for title, labels in fronts.items()]
    for r in records:
        if r["status"] != "ok":
            notes.append(f"Failed: {r['label']} ({r['stage']}): {r['error']}. Full log "
                         f"`{r['log']}`; its end:\n\n```\n{r.get('log_tail', '')}\n```")
    tables = [_results_table(records, spec.stages)]
    if invalid:
        tables.append(Table("Invalid points (refused by DcomConfig)", ["point", "error"],
                            [[p.label, p.error] for p in invalid]))
    data = {"dcom": __version__, "axes": {k: list(v) for k, v in spec.axes.items()},
            "workload": dataclasses.asdict(spec.workload),
            "stages": dataclasses.asdict(spec.stages),
            "summary": {"points": len(result.points), "ok": len(records) - result.failed,
                        "failed": result.failed, "invalid": len(invalid),
                        "computed": result.computed, "cached": result.cached,
                        "seconds": result.seconds},
            "paper_point": paper_key, "pareto": fronts,
            "points": [dict(r, **{"metrics": metrics(r)}) for r in records],
            "invalid": [{"label": p.label, "values": p.values, "error": p.error}
                        for p in invalid]}
    files = write_report(out_dir, "sweep", f"dcom sweep: {len(result.points)} points", data,
                         tables, charts, notes)
    return {"json": files.json, "markdown": files.markdown,
            "csv": _csv(out_dir / "sweep.csv", records, invalid), "charts": files.charts}
