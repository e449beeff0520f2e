"""Reports as machine-readable JSON, a human-readable Markdown page and PNG charts.

Generic on purpose: the synthesis flow, the power flow and the performance model describe what
they measured as plain data, :class:`Table` objects and :class:`BarChart` objects, and
:func:`write_report` writes ``<name>.json``, ``<name>.md`` and one ``<name>-<chart>.png`` per
chart into a folder. The Markdown page embeds the charts, so a reader can look instead of read.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

__all__ = ["Table", "BarChart", "Histogram", "ReportFiles", "write_report", "format_number"]


def format_number(value, digits: int = 4) -> str:
    """A number as a short, readable string: integers as is, floats with ``digits``
    significant digits and thousands separators."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if value == 0 or not math.isfinite(value):
        return f"{value:g}"
    decimals = max(0, digits - 1 - math.floor(math.log10(abs(value))))
    return f"{value:,.{decimals}f}"


@dataclass(frozen=True)
class Table:
    """A table: a title, column headings and rows of values (numbers are formatted)."""

    title: str
    columns: Sequence[str]
    rows: Sequence[Sequence]
    notes: str = ""

    def markdown(self) -> str:
        """The table as a Markdown section."""
        def cell(value):
            return format_number(value).replace("|", "\\|")

        numeric = [all(isinstance(r[i], (int, float)) for r in self.rows)
                   for i in range(len(self.columns))]
        lines = [f"## {self.title}", ""]
        if self.notes:
            lines += [self.notes, ""]
        lines.append("| " + " | ".join(self.columns) + " |")
        lines.append("|" + "|".join("---:" if n else "---" for n in numeric) + "|")
        lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in self.rows]
        return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class BarChart:
    """A bar chart: one bar per category, one (stacked) segment per series."""

    title: str
    categories: Sequence[str]
    series: dict[str, Sequence[float]]
    ylabel: str
    stacked: bool = True
    log_scale: bool = False
    #: A horizontal reference line: ``(label, value)``.
    reference: tuple[str, float] | None = None

    @property
    def slug(self) -> str:
        """File-name part derived from the title."""
        return _slug(self.title)

    def save(self, path: Path) -> Path:
        """Render the chart to a PNG file."""
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        n = len(self.categories)
        fig, ax = plt.subplots(figsize=(max(6.0, 0.6 * n + 2), 4.5))
        positions = list(range(n))
        bottom = [0.0] * n
        width = 0.8 if self.stacked else 0.8 / max(1, len(self.series))
        for k, (label, values) in enumerate(self.series.items()):
            if self.stacked:
                ax.bar(positions, values, width, bottom=bottom, label=label)
                bottom = [b + v for b, v in zip(bottom, values)]
            else:
                ax.bar([p + (k - (len(self.series) - 1) / 2) * width for p in positions],
                       values, width, label=label)
        ax.set_xticks(positions)
        ax.set_xticklabels(self.categories, rotation=30 if n > 4 else 0, ha="right"
                           if n > 4 else "center")
        ax.set_ylabel(self.ylabel)
        ax.set_title(self.title)
        if self.log_scale:
            ax.set_yscale("log")
        if self.reference is not None:
            ax.axhline(self.reference[1], color="black", linestyle="--", linewidth=1,
                       label=self.reference[0])
        if len(self.series) > 1 or self.reference is not None:
            ax.legend(fontsize="small")
        ax.grid(axis="y", alpha=0.3)
        fig.tight_layout()
        fig.savefig(path, dpi=120)
        plt.close(fig)
        return path


@dataclass(frozen=True)
class Histogram:
    """A histogram of values, each with an optional weight (how many it stands for), with an
    optional vertical line (e.g. at zero slack)."""

    title: str
    values: Sequence[float]
    weights: Sequence[float] | None = None
    xlabel: str = ""
    ylabel: str = "count"
    bins: int = 40
    marker: float | None = None

    @property
    def slug(self) -> str:
        """File-name part derived from the title."""
        return _slug(self.title)

    def save(self, path: Path) -> Path:
        """Render the histogram to a PNG file."""
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(7.0, 4.5))
        if len(self.values):
            ax.hist(self.values, bins=self.bins, weights=self.weights)
        if self.marker is not None:
            ax.axvline(self.marker, color="red", linestyle="--")
        ax.set_xlabel(self.xlabel)
        ax.set_ylabel(self.ylabel)
        ax.set_title(self.title)
        ax.grid(axis="y", alpha=0.3)
        fig.tight_layout()
        fig.savefig(path, dpi=120)
        plt.close(fig)
        return path


def _strict(value):
    """``value`` with every non-finite float replaced by None, so that the JSON is strict (no
    ``NaN`` or ``Infinity``, which most JSON readers refuse)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _strict(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_strict(item) for item in value]
    return value


def _slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


@dataclass(frozen=True)
class ReportFiles:
    """The files one report consists of."""

    json: Path
    markdown: Path
    charts: list[Path] = field(default_factory=list)


def write_report(out_dir: str | Path, name: str, title: str, data: dict,
                 tables: Sequence[Table] = (), charts: Sequence[BarChart | Histogram] = (),
                 notes: Sequence[str] = ()) -> ReportFiles:
    """Write ``<name>.json`` (``data``), ``<name>.md`` (notes, tables, charts) and the charts.

    Parameters
    ----------
    out_dir : path
        Folder to write into (created if needed).
    name : str
        Base name of the files.
    title : str
        Heading of the Markdown page.
    data : dict
        Everything machine-readable; must be JSON-serializable (paths are written as text).
    tables, charts : sequences
        What the Markdown page shows, in order.
    notes : sequence of str
        Paragraphs printed under the title.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path = out_dir / f"{name}.json"
    json_path.write_text(json.dumps(_strict(data), indent=2, default=str, allow_nan=False) + "\n")
    chart_paths = [chart.save(out_dir / f"{name}-{chart.slug}.png") for chart in charts]
    parts = [f"# {title}", ""]
    parts += [f"{note}\n" for note in notes]
    parts += [table.markdown() for table in tables]
    parts += [f"![{chart.title}]({path.name})\n" for chart, path in zip(charts, chart_paths)]
    markdown_path = out_dir / f"{name}.md"
    markdown_path.write_text("\n".join(parts))
    return ReportFiles(json_path, markdown_path, chart_paths)
