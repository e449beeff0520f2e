"""The synthesis flow: area bookkeeping checked independently, hierarchy, a user's own Liberty
file, progress, reports and error messages."""

import json
import re

import pytest
from amaranth import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from dcom.synth.flow import LibertyError, synthesize, synthesize_amaranth


class AdderCounter(wiring.Component):
    """An 8-bit adder and an 8-bit counter."""

    a: In(8)
    b: In(8)
    sum: Out(9)
    count: Out(8)

    def elaborate(self, platform):
        m = Module()
        counter = Signal(8)
        m.d.sync += counter.eq(counter + 1)
        m.d.comb += [self.sum.eq(self.a + self.b), self.count.eq(counter)]
        return m


@pytest.fixture(scope="module")
def adder_counter(tmp_path_factory):
    lines = []
    out = tmp_path_factory.mktemp("adder_counter")
    result = synthesize_amaranth(AdderCounter(), "adder_counter", out, progress=lines.append)
    return result, lines


def liberty_areas(text: str) -> dict[str, float]:
    return {name: float(area) for name, area in
            re.findall(r"cell \((\w+)\) \{\s*area : ([0-9.]+)", text)}


def netlist_instances(text: str, types) -> list[str]:
    """Cell type of every instance in a Yosys Verilog netlist whose type is in ``types``."""
    return [t for t in re.findall(r"^\s*(\S+)\s+\S+\s*\($", text, re.MULTILINE) if t in types]


def test_area_is_the_sum_of_the_cells_in_the_netlist(adder_counter):
    result, _ = adder_counter
    areas = liberty_areas(result.liberty.read_text())
    instances = netlist_instances(result.netlist.read_text(), areas)
    assert len(instances) == result.totals().cell_count > 20
    expected = sum(areas[t] for t in instances)
    assert result.totals().std_area_um2 == pytest.approx(expected, rel=1e-9)
    # Yosys' own stat -liberty agrees.
    log = result.logs[-1].read_text()
    chip = float(re.search(r"Chip area for module '\\adder_counter': ([0-9.]+)", log)[1])
    assert chip == pytest.approx(expected, rel=1e-5)
    assert result.totals().flip_flops == 8 and result.totals().macro_area_um2 == 0
    assert result.totals().leakage_nw > 0


def test_progress_is_one_line_per_step_with_elapsed_time(adder_counter):
    _, lines = adder_counter
    assert len(lines) >= 6
    assert all(re.match(r"\[\s*\d+\.\d s\] \S", line) for line in lines)
    text = "\n".join(lines)
    for step in ("checking liberty", "coarse synthesis", "dfflibmap", "abc -liberty",
                 "reports:"):
        assert step in text


def test_reports_are_json_markdown_and_png(adder_counter):
    result, _ = adder_counter
    out = result.netlist.parent
    data = json.loads((out / "synthesis.json").read_text())
    assert data["top"] == "adder_counter"
    assert data["totals"]["std_area_um2"] == pytest.approx(result.totals().std_area_um2)
    markdown = (out / "synthesis.md").read_text()
    assert "| module | instances | cells |" in markdown
    assert "![Area breakdown](synthesis-area-breakdown.png)" in markdown
    assert (out / "synthesis-area-breakdown.png").read_bytes()[:4] == b"\x89PNG"


HIERARCHY = """
module leaf(input [3:0] a, b, output [3:0] y);
  assign y = (a + b) ^ {4{a[0]}};
endmodule
module top(input clk, input [3:0] a, b, c, output [3:0] y, output reg [3:0] z);
  wire [3:0] z0;
  leaf u0 (.a(a), .b(b), .y(y));
  leaf u1 (.a(b), .b(c), .y(z0));
  always @(posedge clk) z <= z0;
endmodule
"""


def test_hierarchy_counts_each_module_once_and_multiplies(tmp_path):
    source = tmp_path / "top.v"
    source.write_text(HIERARCHY)
    result = synthesize([source], "top", tmp_path / "kept", progress=lambda _: None,
                        reports=False)
    assert set(result.modules) == {"top", "leaf"}
    assert result.modules["top"].submodules == {"leaf": 2}
    assert result.instances() == {"top": 1, "leaf": 2}
    top, leaf = result.modules["top"], result.modules["leaf"]
    total = result.totals()
    assert total.std_area_um2 == pytest.approx(top.std_area_um2 + 2 * leaf.std_area_um2)
    assert total.cell_count == top.cell_count + 2 * leaf.cell_count
    assert total.flip_flops == top.flip_flops == 4

    flat = synthesize([source], "top", tmp_path / "flat", flatten=True,
                      progress=lambda _: None, reports=False)
    assert set(flat.modules) == {"top"}


def test_a_users_liberty_with_other_cell_names(tmp_path):
    library = tmp_path / "tiny.lib"
    library.write_text("""library (tiny) {
  cell (nd2) { area : 2.0 ; cell_leakage_power : 3.0 ;
    pin (a) { direction : input ; } pin (b) { direction : input ; }
    pin (y) { direction : output ; function : "(a*b)'" ; } }
  cell (iv) { area : 1.0 ; cell_leakage_power : 1.0 ;
    pin (a) { direction : input ; }
    pin (y) { direction : output ; function : "a'" ; } }
  cell (bf) { area : 1.5 ; cell_leakage_power : 1.0 ;
    pin (a) { direction : input ; }
    pin (y) { direction : output ; function : "a" ; } }
  cell (reg1) { area : 8.0 ; cell_leakage_power : 10.0 ;
    ff (S, SN) { clocked_on : "c" ; next_state : "d" ; }
    pin (c) { direction : input ; clock : true ; } pin (d) { direction : input ; }
    pin (q) { direction : output ; function : "S" ; } }
}
""")
    source = tmp_path / "counter.v"
    source.write_text("module counter(input clk, output reg [3:0] q);\n"
                      "  always @(posedge clk) q <= q + 1'b1;\nendmodule\n")
    result = synthesize([source], "counter", tmp_path / "out", liberty=library,
                        progress=lambda _: None, reports=False)
    cells = result.totals().cells
    assert set(cells) <= {"nd2", "iv", "bf", "reg1"} and cells["reg1"] == 4
    area = {"nd2": 2.0, "iv": 1.0, "bf": 1.5, "reg1": 8.0}
    assert result.totals().std_area_um2 == pytest.approx(sum(area[c] * n
                                                             for c, n in cells.items()))
    assert result.totals().flip_flops == 4
    assert not result.warnings


def test_missing_liberty_names_the_path(tmp_path):
    missing = tmp_path / "nowhere" / "cells.lib"
    source = tmp_path / "x.v"
    source.write_text("module x(input a, output y); assign y = ~a; endmodule\n")
    with pytest.raises(LibertyError, match=r"liberty file .*nowhere/cells\.lib does not exist"):
        synthesize([source], "x", tmp_path / "out", liberty=missing, progress=lambda _: None)


def test_malformed_liberty_gives_yosys_error_in_one_line(tmp_path, adder_counter):
    result, _ = adder_counter
    broken = tmp_path / "broken.lib"
    text = result.liberty.read_text()
    broken.write_text(text[:len(text) // 2])      # cut off in the middle of a cell
    source = result.netlist.parent / "adder_counter.v"
    with pytest.raises(LibertyError) as info:
        synthesize([source], "adder_counter", tmp_path / "out", liberty=broken,
                   progress=lambda _: None)
    message = str(info.value)
    assert "\n" not in message
    assert re.search(r"liberty file .*broken\.lib is malformed: .*line \d+", message)
