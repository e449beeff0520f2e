"""The synthesis flow: area bookkeeping checked independently, hierarchy, a user's own Liberty
file, progress, reports and error messages."""

import json
import re

import pytest
from amaranth import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from dcom.synth.flow import ABC_TARGET_FRACTION, LibertyError, synthesize, synthesize_amaranth
from dcom.synth.sta import TimingError, analyze


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
    purged = synthesize([source], "top", tmp_path / "purged", flatten=True, purge_names=True,
                        progress=lambda _: None, reports=False)
    assert purged.modules["top"] == flat.modules["top"]
    coarse = (tmp_path / "purged" / "yosys" / "coarse.ys").read_text()
    assert coarse.index("flatten\nopt_clean -purge") < coarse.index("-run coarse:fine")


def test_a_prebuilt_module_joins_the_netlist_unchanged(tmp_path):
    """A module synthesized in an earlier run is a black box in the next one and its netlist
    joins the result: same figures and timing as one run of the whole."""
    leaf_source, top_source = tmp_path / "leaf.v", tmp_path / "top.v"
    leaf_end = HIERARCHY.index("endmodule") + len("endmodule")
    leaf_source.write_text(HIERARCHY[:leaf_end] + "\n")
    top_source.write_text(HIERARCHY[leaf_end:])
    quiet = {"progress": lambda _: None, "reports": False, "clock_period_ps": 1000}
    whole_source = tmp_path / "whole.v"
    whole_source.write_text(HIERARCHY)
    whole = synthesize([whole_source], "top", tmp_path / "whole", **quiet)
    leaf = synthesize([leaf_source], "leaf", tmp_path / "leaf", **quiet)
    top = synthesize([top_source], "top", tmp_path / "top", prebuilt=leaf, **quiet)
    assert top.instances() == whole.instances() == {"top": 1, "leaf": 2}
    for name in ("top", "leaf"):
        assert top.modules[name] == whole.modules[name]
    netlist = top.netlist.read_text()
    assert netlist.count("module leaf(") == netlist.count("module top(") == 1
    assert analyze(top, 1000).register_path_ps == \
        pytest.approx(analyze(whole, 1000).register_path_ps)

    other = tmp_path / "tiny.lib"
    other.write_text(TINY_LIBERTY)
    with pytest.raises(ValueError, match="prebuilt='leaf' was mapped to .*allowed values"):
        synthesize([top_source], "top", tmp_path / "mixed", liberty=other, prebuilt=leaf,
                   progress=lambda _: None, reports=False)


TINY_LIBERTY = """library (tiny) {
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
"""


def _counter_source(folder):
    source = folder / "counter.v"
    source.write_text("module counter(input clk, output reg [3:0] q);\n"
                      "  always @(posedge clk) q <= q + 1'b1;\nendmodule\n")
    return source


def test_a_users_liberty_with_other_cell_names(tmp_path):
    library = tmp_path / "tiny.lib"
    library.write_text(TINY_LIBERTY)
    source = _counter_source(tmp_path)
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


_ONLY_BUFFERS = """library (buffers) {
  cell (bf) { area : 1.5 ; pin (a) { direction : input ; }
    pin (y) { direction : output ; function : "a" ; } }
  cell (bf2) { area : 2.5 ; pin (a) { direction : input ; }
    pin (y) { direction : output ; function : "a" ; } }
}
"""
_ONLY_A_FLOP = """library (flop) {
  cell (reg1) { area : 8.0 ;
    ff (S, SN) { clocked_on : "c" ; next_state : "d" ; }
    pin (c) { direction : input ; clock : true ; } pin (d) { direction : input ; }
    pin (q) { direction : output ; function : "S" ; } }
}
"""
# AND, XOR and a buffer: together they build any function only with a constant 1, but with
# an inverter they would, so the inverter is what is missing (and a flip-flop).
_NO_INVERTER = """library (noinv) {
  cell (an2) { area : 2.0 ; pin (a) { direction : input ; } pin (b) { direction : input ; }
    pin (y) { direction : output ; function : "a*b" ; } }
  cell (xr2) { area : 3.0 ; pin (a) { direction : input ; } pin (b) { direction : input ; }
    pin (y) { direction : output ; function : "a^b" ; } }
  cell (bf) { area : 1.5 ; pin (a) { direction : input ; }
    pin (y) { direction : output ; function : "a" ; } }
}
"""
_MISSING = {"inverter": "an inverter", "buffer": "a buffer", "gates": "gates that with the "
            "inverter build any function", "flop": "a D flip-flop"}


@pytest.mark.parametrize("text, missing", [
    ("library (empty) {\n}\n", ["inverter", "buffer", "gates", "flop"]),
    (_ONLY_BUFFERS, ["inverter", "gates", "flop"]),
    (_ONLY_A_FLOP, ["inverter", "buffer", "gates"]),
    (_NO_INVERTER, ["inverter", "flop"]),
    (TINY_LIBERTY.replace('function : "(a*b)\'"', 'function : "a^b"'), ["gates"]),
], ids=["empty", "only-buffers", "only-a-flop", "no-inverter", "xor-instead-of-nand"])
def test_a_liberty_without_the_cells_mapping_needs_is_refused_up_front(tmp_path, text,
                                                                       missing):
    library = tmp_path / "user.lib"
    library.write_text(text)
    with pytest.raises(LibertyError) as info:
        synthesize([_counter_source(tmp_path)], "counter", tmp_path / "out", liberty=library,
                   progress=lambda _: None, reports=False)
    message = str(info.value)
    assert message.startswith(f"liberty file {library} lacks cells that synthesis maps to: ")
    assert [kind for kind, words in _MISSING.items() if words in message] == missing
    # Refused before any synthesis step ran.
    assert not (tmp_path / "out" / "yosys" / "coarse.log").exists()


def test_dcom_synth_names_the_liberty_and_what_it_lacks(tmp_path, capsys):
    """The check runs before the designs are elaborated, so the command fails at once."""
    from dcom.cli import main

    library = tmp_path / "flop.lib"
    library.write_text(_ONLY_A_FLOP)
    with pytest.raises(SystemExit) as exit_info:
        main(["synth", "--liberty", str(library), "--cluster-only", "--out",
              str(tmp_path / "out")])
    assert exit_info.value.code == 1
    error = capsys.readouterr().err
    assert f"dcom synth: error: liberty file {library} lacks cells" in error
    assert "an inverter" in error and "a buffer" in error and "a D flip-flop" not in error


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


def test_delay_mapping_gives_abc_the_period_and_the_boundary(tmp_path, adder_counter):
    result, _ = adder_counter
    source = result.netlist.parent / "adder_counter.v"
    mapped = synthesize([source], "adder_counter", tmp_path / "timed", clock_period_ps=500,
                        progress=lambda _: None, reports=False)
    script = (tmp_path / "timed" / "yosys" / "mapping.ys").read_text()
    # ABC aims at a fraction of the period (its delay model leaves out the flip-flops').
    target = 500 * ABC_TARGET_FRACTION
    assert re.search(rf"^abc -liberty .* -D {target:g} -constr \S*abc\.constr", script,
                     re.MULTILINE)
    # The smallest buffer drives the inputs, four of its inputs (0.85 fF + 0.2 fF wire each)
    # load the outputs.
    assert (tmp_path / "timed" / "yosys" / "abc.constr").read_text() == \
        "set_driving_cell BUF_X1\nset_load 4.2\n"
    assert mapped.totals().flip_flops == 8
    with pytest.raises(ValueError, match="clock_period_ps=0; allowed values: a positive"):
        synthesize([source], "adder_counter", tmp_path / "bad", clock_period_ps=0,
                   progress=lambda _: None)


def test_require_timing_makes_a_missed_clock_an_error(monkeypatch, capsys):
    """`dcom synth --require-timing` exits 1 naming the failure; without it, exit 0."""
    import dcom.synth.evaluate as evaluate_module
    from dcom.cli import main

    class Report:
        def timing_failures(self):
            return ["cluster: dcom_cluster misses 1000 MHz: worst setup slack -5.0 ps on the "
                    "path from a (q) to b D (r)"]

    calls = []
    monkeypatch.setattr(evaluate_module, "evaluate",
                        lambda config, out, **options: calls.append(options) or Report())
    monkeypatch.setattr(evaluate_module, "summary_lines", lambda report: ["summary"])
    assert main(["synth", "--cluster-only", "--out", "unused"]) == 0
    assert calls[-1]["delay_mapping"] is True and calls[-1]["paths"] == 10
    with pytest.raises(SystemExit) as exit_info:
        main(["synth", "--require-timing", "--no-delay-mapping", "--paths", "3"])
    assert exit_info.value.code == 1
    assert calls[-1]["delay_mapping"] is False and calls[-1]["paths"] == 3
    error = capsys.readouterr().err
    assert "timing not met (--require-timing)" in error and "from a (q) to b D (r)" in error


def test_a_library_without_delays_maps_without_a_target_and_is_not_timed(tmp_path):
    library = tmp_path / "tiny.lib"
    library.write_text(TINY_LIBERTY)
    source = _counter_source(tmp_path)
    result = synthesize([source], "counter", tmp_path / "out", liberty=library,
                        clock_period_ps=1000, progress=lambda _: None, reports=False)
    assert result.totals().flip_flops == 4
    assert result.warnings == [f"liberty {library} has no delay tables: ABC maps without the "
                               f"delay target of 1000 ps"]
    with pytest.raises(TimingError, match="liberty tiny has no delay tables"):
        analyze(result, clock_mhz=1000)


@pytest.mark.parametrize("name", ["2x2:4x4", "my runs"])
def test_an_output_folder_make_cannot_take_is_refused_before_any_work(tmp_path, capsys, name):
    """The gate-level simulations build with make, which splits paths at ':' and spaces:
    `dcom synth` says so at once, naming the folder, instead of failing hours later."""
    from dcom.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["synth", "--clusters", "1x1", "--grid", "2x2", "--out", str(tmp_path / name)])
    assert exit_info.value.code == 1
    error = capsys.readouterr().err
    assert f"out_dir='{tmp_path / name}'" in error and "':' or whitespace" in error
    assert not (tmp_path / name).exists()
