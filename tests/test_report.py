"""The generic report writer: JSON for machines, Markdown and PNG for people."""

import json

from dcom.report import BarChart, Histogram, Table, format_number, write_report


def test_report_files(tmp_path):
    data = {"design": "x", "area_um2": 1234.5678, "path": tmp_path}
    tables = [Table("Area", ["module", "area (um^2)", "cells"],
                    [["top", 1234.5678, 12], ["a|b", 0.000123, 3]], notes="Own cells.")]
    charts = [BarChart("Area breakdown", ["top", "leaf"],
                       {"std": [1.0, 2.0], "macro": [3.0, 0.5]}, ylabel="um^2"),
              BarChart("Cycles per step", ["1x1", "16x16"], {"cycles": [10.0, 1e5]},
                       ylabel="cycles", stacked=False, log_scale=True)]
    files = write_report(tmp_path / "out", "demo", "Demo report", data, tables, charts,
                         notes=["A note."])
    assert json.loads(files.json.read_text()) == {"design": "x", "area_um2": 1234.5678,
                                                  "path": str(tmp_path)}
    markdown = files.markdown.read_text()
    assert markdown.startswith("# Demo report\n\nA note.\n")
    assert "| module | area (um^2) | cells |\n|---|---:|---:|\n| top | 1,235 | 12 |" in markdown
    assert "| a\\|b | 0.0001230 | 3 |" in markdown
    assert [p.name for p in files.charts] == ["demo-area-breakdown.png",
                                               "demo-cycles-per-step.png"]
    for path in files.charts:
        assert path.read_bytes()[:4] == b"\x89PNG"
        assert f"]({path.name})" in markdown


def test_format_number():
    assert format_number(1234567) == "1,234,567"
    assert format_number(3.14159) == "3.142"
    assert format_number(0.0) == "0"
    assert format_number("text") == "text"


def test_histogram_with_weights_and_a_marker(tmp_path):
    histogram = Histogram("Endpoint slack", [-20.0, 5.0, 30.0], [1, 64, 2], xlabel="ps",
                          marker=0.0)
    files = write_report(tmp_path, "timing", "Timing", {}, charts=[histogram])
    assert [p.name for p in files.charts] == ["timing-endpoint-slack.png"]
    assert files.charts[0].read_bytes()[:4] == b"\x89PNG"
    assert "![Endpoint slack](timing-endpoint-slack.png)" in files.markdown.read_text()


def test_json_is_strict(tmp_path):
    """Non-finite figures (e.g. a time at a vanishing clock) are written as null."""
    data = {"seconds": float("inf"), "ratios": [1.5, float("nan")], "nested": {"x": -float("inf")}}
    files = write_report(tmp_path, "strict", "Strict", data)
    text = files.json.read_text()
    assert json.loads(text) == {"seconds": None, "ratios": [1.5, None], "nested": {"x": None}}
