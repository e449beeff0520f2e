"""dcom's 15nm-style library: Yosys maps to it, its figures follow the stated facts, every
cell's simulation model does what its Liberty function and its name say, and the tables in
docs/liberty.md are the current ones.

The Liberty text is parsed here with regular expressions and its functions evaluated with
Python operators, independently of ``dcom.synth.liberty_reader``.
"""

import itertools
import os
import re
import subprocess
from pathlib import Path

import pytest

from dcom.simulators import available
from dcom.synth import sram
from dcom.synth import technology as tech
from dcom.synth.cells import CELLS, write_verilog_models
from dcom.synth.flow import yosys_command
from dcom.synth.liberty import cell_table_markdown, write_liberty
from dcom.synth.liberty_reader import LibertyParseError, read_liberty


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    return write_liberty(tmp_path_factory.mktemp("lib") / "dcom15.lib")


def parse_cells(text: str) -> dict:
    """Per cell: area, input pins, output functions and the ff group, by regular expressions."""
    found = {}
    for chunk in re.split(r"\n  cell \(", text)[1:]:
        name = chunk[:chunk.index(")")]
        pins = re.findall(r"pin \((\w+)\) \{\s*direction : (\w+) ;(?:\s*function : \"([^\"]*)\")?",
                          chunk)
        ff = dict(re.findall(r"(next_state|clocked_on|clear|preset) : \"([^\"]*)\"", chunk))
        found[name] = {
            "area": float(re.search(r"area : ([0-9.]+)", chunk)[1]),
            "inputs": [p for p, d, _ in pins if d == "input"],
            "functions": {p: f for p, d, f in pins if d == "output"},
            "ff": ff,
        }
    return found


def evaluate(function: str, values: dict) -> int:
    """A Liberty function with Python's bitwise operators, whose precedence (~ & ^ |) is
    Liberty's (! & ^ |)."""
    expression = function.replace("!", "~").replace("*", "&").replace("+", "|")
    assert not re.search(r"[\w)]\s+[\w(~]", expression), f"implicit AND in {function!r}"
    return eval(expression, {"__builtins__": {}}, dict(values)) & 1


def by_name(name: str, v: dict) -> dict:
    """What a cell called ``name`` must compute, from its name alone."""
    base = name.split("_")[0]
    family = re.fullmatch(r"(INV|BUF|NAND|NOR|AND|OR)\d*", base)
    if family:
        n_inputs = int(base[len(family[1]):] or 1)
        assert len(v) == n_inputs, f"{name} has {len(v)} inputs"
        return {"Y": {"INV": lambda: 1 - v["A"], "BUF": lambda: v["A"],
                      "NAND": lambda: 1 - all(v.values()), "NOR": lambda: 1 - any(v.values()),
                      "AND": lambda: int(all(v.values())),
                      "OR": lambda: int(any(v.values()))}[family[1]]()}
    a, b, c, d = (v.get(p) for p in "ABCD")
    return {
        "XOR2": lambda: {"Y": a ^ b},
        "XNOR2": lambda: {"Y": 1 - (a ^ b)},
        "AOI21": lambda: {"Y": 1 - ((a & b) | c)},
        "AOI22": lambda: {"Y": 1 - ((a & b) | (c & d))},
        "OAI21": lambda: {"Y": 1 - ((a | b) & c)},
        "OAI22": lambda: {"Y": 1 - ((a | b) & (c | d))},
        "MUX2": lambda: {"Y": v["B"] if v["S"] else a},
        "HA": lambda: {"S": a ^ b, "CO": a & b},
        "FA": lambda: {"S": a ^ b ^ v["CI"], "CO": int(a + b + v["CI"] >= 2)},
        "TIEH": lambda: {"Y": 1},
        "TIEL": lambda: {"Y": 0},
    }[base]()


def run_icarus(tmp_path, testbench: str, *sources) -> list[str]:
    simulator, reason = available("icarus")
    if simulator is None:
        pytest.skip(reason)
    tb = tmp_path / "tb.v"
    tb.write_text(testbench)
    binary = tmp_path / "tb.vvp"
    subprocess.run([str(simulator.executable), "-g2005", "-o", str(binary), str(tb),
                    *map(str, sources)], check=True, capture_output=True, text=True)
    out = subprocess.run(["vvp", "-n", str(binary)], check=True, capture_output=True, text=True)
    return out.stdout.splitlines()


def test_yosys_maps_to_the_library_with_dfflibmap_abc_and_stat(library, tmp_path):
    design = tmp_path / "design.v"
    design.write_text("""
module design(input clk, input rst_n, input [7:0] a, b, output reg [7:0] acc,
              output reg [7:0] q);
  always @(posedge clk or negedge rst_n)
    if (!rst_n) acc <= 8'd0; else acc <= acc + (a ^ b);
  always @(posedge clk) q <= (a & b) | {8{acc[0]}};
endmodule
""")
    lib = os.path.relpath(library, tmp_path)    # YoWASP sees files relative to its cwd
    script = (f'read_verilog "{design.name}"; synth -top design; '
              f'dfflibmap -liberty "{lib}"; abc -liberty "{lib}"; opt_clean; '
              f'stat -liberty "{lib}"')
    subprocess.run(yosys_command() + ["-q", "-l", "yosys.log", "-p", script], cwd=tmp_path,
                   check=True, capture_output=True)
    log = (tmp_path / "yosys.log").read_text()
    assert "ERROR" not in log
    assert re.search(r"mapped 8 \$_DFF_P_ cells to \\DFF_X1 cells", log)
    assert re.search(r"mapped 8 \$_DFF_PN0_ cells to \\DFFR_X1 cells", log)
    after_dfflibmap = log[log.index("Executing DFFLIBMAP"):]
    mapped = dict(re.findall(r"ABC RESULTS:\s+(\w+) cells:\s+(\d+)", after_dfflibmap))
    assert len(mapped) >= 4 and set(mapped) <= {c.name for c in CELLS}
    assert float(re.search(r"Chip area for module '\\design': ([0-9.]+)", log)[1]) > 0


def test_figures_follow_the_public_facts(library):
    text = library.read_text()
    parsed = parse_cells(text)
    read = read_liberty(library)
    assert [c.name for c in CELLS] == list(parsed) == list(read.cells)
    assert re.search(r"nom_voltage : 0.8 ;", text)
    for cell in CELLS:
        # Area = width in poly pitches x 0.064 um x 0.768 um cell height (15nm OCL LEF).
        assert parsed[cell.name]["area"] == pytest.approx(cell.width_cpp * 0.064 * 0.768,
                                                          abs=1e-6)
        entry = read.cells[cell.name]
        assert entry.leakage_nw == pytest.approx(tech.LEAKAGE_NW_PER_UM2 * entry.area_um2,
                                                 rel=1e-3)
        assert all(entry.pins[p].capacitance_ff > 0 for p in entry.inputs)
    assert read.cells["INV_X1"].pins["A"].capacitance_ff == pytest.approx(0.85)
    # Energies are present on every arc of every logic cell.
    assert len(re.findall(r"internal_power \(\)", text)) >= sum(
        len(o.switched_units) for c in CELLS for o in c.outputs)


def test_combinational_models_match_function_and_name(library, tmp_path):
    cells = {n: c for n, c in parse_cells(library.read_text()).items() if not c["ff"]}
    lines = ["`timescale 1ns/1ps", "module tb;"]
    for name, cell in cells.items():
        ins, outs = cell["inputs"], list(cell["functions"])
        lines += [f"  reg [{max(len(ins), 1) - 1}:0] i_{name};",
                  f"  wire [{len(outs) - 1}:0] o_{name};"]
        ports = [f".{p}(i_{name}[{len(ins) - 1 - k}])" for k, p in enumerate(ins)]
        ports += [f".{p}(o_{name}[{len(outs) - 1 - k}])" for k, p in enumerate(outs)]
        lines.append(f"  {name} u_{name} ({', '.join(ports)});")
    lines += ["  integer k;", "  initial begin"]
    for name, cell in cells.items():
        n = len(cell["inputs"])
        lines += [f"    for (k = 0; k < {2 ** n}; k = k + 1) begin",
                  f"      i_{name} = k; #1 $display(\"{name} %0d %b\", k, o_{name});",
                  "    end"]
    lines += ["  end", "endmodule"]
    models = write_verilog_models(tmp_path / "cells.v")
    output = run_icarus(tmp_path, "\n".join(lines) + "\n", models)

    seen = set()
    for line in output:
        name, index, bits = line.split()
        cell = cells[name]
        ins, outs = cell["inputs"], list(cell["functions"])
        values = dict(zip(ins, map(int, format(int(index), f"0{len(ins)}b")))) if ins else {}
        simulated = dict(zip(outs, map(int, bits)))
        from_function = {o: evaluate(f, values) for o, f in cell["functions"].items()}
        assert simulated == from_function, f"{name} {values}: model vs Liberty function"
        assert simulated == by_name(name, values), f"{name} {values}: model vs its name"
        seen.add((name, index))
    assert len(seen) == sum(2 ** len(c["inputs"]) for c in cells.values())


def test_flip_flop_models_match_ff_group_and_name(library, tmp_path):
    cells = {n: c for n, c in parse_cells(library.read_text()).items() if c["ff"]}
    assert set(cells) == {"DFF_X1", "DFFR_X1", "DFFS_X1"}
    assert "clear" in cells["DFFR_X1"]["ff"] and "preset" in cells["DFFS_X1"]["ff"]
    assert not {"clear", "preset"} & set(cells["DFF_X1"]["ff"])
    # Stimulus: (D, async pin, clock edge?) per step; every combination of D and the
    # asynchronous pin, with and without a clock edge, twice over.
    steps = [(d, r, edge) for _ in range(2)
             for d, r, edge in itertools.product((0, 1), (1, 0, 1), (1, 0))]
    lines = ["`timescale 1ns/1ps", "module tb;", "  reg D, CK, X;"]
    for name, cell in cells.items():
        extra = [p for p in cell["inputs"] if p not in ("D", "CK")]
        ports = ".D(D), .CK(CK), " + "".join(f".{p}(X), " for p in extra) + f".Q(q_{name})"
        lines += [f"  wire q_{name};", f"  {name} u_{name} ({ports});"]
    lines += ["  initial begin", "    CK = 0; X = 1; D = 0; #1;"]
    for d, r, edge in steps:
        lines.append(f"    D = {d}; X = {r}; #1;")
        if edge:
            lines.append("    CK = 1; #1; CK = 0; #1;")
        lines.append('    $display("%b %b %b", q_DFF_X1, q_DFFR_X1, q_DFFS_X1);')
    lines += ["  end", "endmodule"]
    models = write_verilog_models(tmp_path / "cells.v")
    output = run_icarus(tmp_path, "\n".join(lines) + "\n", models)

    state = dict.fromkeys(cells, None)
    checked = 0
    for (d, r, edge), line in zip(steps, output):
        for name, bit in zip(("DFF_X1", "DFFR_X1", "DFFS_X1"), line.split()):
            ff = cells[name]["ff"]
            values = {"D": d, "RN": r, "SN": r}
            if "clear" in ff and evaluate(ff["clear"], values):
                state[name] = 0
            elif "preset" in ff and evaluate(ff["preset"], values):
                state[name] = 1
            elif edge:
                state[name] = evaluate(ff["next_state"], values)
            # The first step clocks every flip-flop, so all states are known from then on.
            assert int(bit) == state[name], f"{name} after D={d} async={r} edge={edge}"
            checked += 1
    assert checked == 3 * len(steps)


def docs_block(tag: str) -> str:
    """The generated table between ``<!-- tag:begin -->`` and ``<!-- tag:end -->`` in
    docs/liberty.md."""
    text = (Path(__file__).parents[1] / "docs" / "liberty.md").read_text()
    return re.search(rf"<!-- {tag}:begin -->\n(.*?)<!-- {tag}:end -->", text, re.DOTALL)[1]


def test_docs_show_the_current_tables():
    assert docs_block("cell-table") == cell_table_markdown()
    block = docs_block("sram-table")
    configs = [sram.SramConfig(*map(int, shape)) for shape in
               re.findall(r"\| dcom_sram_(\d+)x(\d+)_(\d+)r(\d+)w \|", block)]
    assert len(configs) >= 5
    assert block == sram.figures_table_markdown(configs)


def test_reader_scales_units_and_averages_arcs(tmp_path):
    """A hand-written library in other units than dcom's: every figure worked out by hand."""
    path = tmp_path / "units.lib"
    path.write_text("""library (units) {
  voltage_unit : "1mV";
  leakage_power_unit : "1pW";
  capacitive_load_unit (1,pf);
  nom_voltage : 800;
  cell (BUF_T) {
    area : 1.5;
    cell_leakage_power : 500;
    pin (A) { direction : input; capacitance : 0.002; }
    pin (Z) {
      direction : output;
      function : "A";
      internal_power () { related_pin : "A"; rise_power (scalar) { values ("1, 3"); }
                          fall_power (scalar) { values ("5"); } }
      internal_power () { related_pin : "A"; power (scalar) { values ("2"); } }
    }
  }
}
""")
    library = read_liberty(path)
    cell = library.cells["BUF_T"]
    assert library.voltage == pytest.approx(0.8)
    assert cell.area_um2 == 1.5 and cell.leakage_nw == pytest.approx(0.5)
    assert cell.pins["A"].capacitance_ff == pytest.approx(2.0)
    # Arcs: (mean(1, 3) + 5) / 2 = 3.5 and 2; their mean 2.75 pF mV^2 = 2.75e-3 fJ.
    assert cell.pins["Z"].internal_energy_fj == pytest.approx(2.75e-3)


def test_reader_reads_timing_groups_in_any_axis_order_and_unit(tmp_path):
    """Tables in ns over (load in pF, slew), scalars, timing types and related pins, by hand."""
    path = tmp_path / "timing.lib"
    path.write_text("""library (timing) {
  time_unit : "1ns";
  capacitive_load_unit (1,pf);
  lu_table_template (load_by_slew) {
    variable_1 : total_output_net_capacitance;
    variable_2 : input_net_transition;
    index_1 ("0.001, 0.002");
    index_2 ("0.01, 0.03");
  }
  cell (AN2) {
    area : 1;
    pin (A) { direction : input; capacitance : 0.001; }
    pin (B) { direction : input; capacitance : 0.001; }
    pin (Z) {
      direction : output;
      function : "A*B";
      timing () {
        related_pin : "A B";
        timing_sense : positive_unate;
        cell_rise (load_by_slew) { index_2 ("0.01, 0.05"); values ("0.1, 0.2", "0.3, 0.4"); }
        rise_transition (scalar) { values ("0.05"); }
      }
    }
  }
  cell (DF) {
    area : 4;
    ff (IQ, IQN) { clocked_on : "CK"; next_state : "D"; }
    pin (CK) { direction : input; clock : true; }
    pin (D) { direction : input;
      timing () { related_pin : "CK"; timing_type : setup_rising;
                  rise_constraint (scalar) { values ("0.02"); } } }
    pin (Q) { direction : output; function : "IQ";
      timing () { related_pin : "CK"; timing_type : rising_edge;
                  cell_fall (scalar) { values ("0.07"); } } }
  }
}
""")
    library = read_liberty(path)
    (arc,) = library.cells["AN2"].pins["Z"].timing
    assert arc.related_pins == ("A", "B") and arc.timing_type == "combinational"
    assert arc.timing_sense == "positive_unate"
    table = arc.tables["cell_rise"]
    # The group's own index_2 replaces the template's; ns -> ps, pF -> fF.
    assert table.variables == ("total_output_net_capacitance", "input_net_transition")
    assert table.indices == ((1.0, 2.0), (10.0, 50.0))
    assert table.values == pytest.approx((100, 200, 300, 400))
    # 1.5 fF and 20 ps: halfway and a quarter of the way: bilinear.
    point = {"total_output_net_capacitance": 1.5, "input_net_transition": 20.0}
    assert table.lookup(**point) == pytest.approx(0.5 * 0.75 * 100 + 0.5 * 0.75 * 300
                                                  + 0.5 * 0.25 * 200 + 0.5 * 0.25 * 400)
    # Beyond the points: linear extrapolation (3 fF, slew 10 ps).
    assert table.lookup(total_output_net_capacitance=3.0, input_net_transition=10.0) == \
        pytest.approx(500)
    xs, ys, rows = table.grid("input_net_transition", "total_output_net_capacitance")
    assert xs == (10.0, 50.0) and ys == (1.0, 2.0) and rows == [[100, 300], [200, 400]]
    assert arc.tables["rise_transition"].lookup() == pytest.approx(50)
    flop = library.cells["DF"]
    assert flop.clock_pins == ("CK",)
    (setup,) = flop.pins["D"].timing
    assert setup.timing_type == "setup_rising" and setup.related_pins == ("CK",)
    assert setup.tables["rise_constraint"].lookup() == pytest.approx(20)
    (launch,) = flop.pins["Q"].timing
    assert launch.timing_type == "rising_edge"
    assert launch.tables["cell_fall"].lookup(input_net_transition=5.0) == pytest.approx(70)


def test_reader_names_a_table_it_cannot_follow(tmp_path):
    path = tmp_path / "bad.lib"
    path.write_text("""library (bad) {
  cell (B) { area : 1; pin (A) { direction : input; }
    pin (Y) { direction : output; function : "A";
      timing () { related_pin : "A"; cell_rise (missing) { values ("1, 2"); } } } }
}
""")
    with pytest.raises(LibertyParseError, match="cell B pin Y: table cell_rise uses "
                                                "template 'missing'"):
        read_liberty(path)


def test_macros_have_access_time_and_setup_arcs(tmp_path):
    config = sram.SramConfig(1024, 64)
    figures = sram.sram_figures(config)
    path = tmp_path / "macros.lib"
    path.write_text(sram.macro_liberty_text([config]))
    cell = read_liberty(path).cells[config.name]
    assert set(cell.clock_pins) == {"R0_CLK", "W0_CLK"}
    (read,) = cell.pins["R0_DATA"].timing
    assert read.timing_type == "rising_edge" and read.related_pins == ("R0_CLK",)
    # At zero load and zero clock slew the arc is the access time.
    assert read.tables["cell_rise"].lookup(input_net_transition=0.0,
                                           total_output_net_capacitance=0.0) == \
        pytest.approx(figures.access_time_ps)
    for pin, clock in (("R0_ADDR", "R0_CLK"), ("W0_DATA", "W0_CLK"), ("W0_EN", "W0_CLK")):
        kinds = {t.timing_type: t for t in cell.pins[pin].timing}
        assert kinds["setup_rising"].related_pins == (clock,)
        assert kinds["setup_rising"].tables["rise_constraint"].lookup() == \
            pytest.approx(2 * 5 * tech.TAU_PS)
        assert kinds["hold_rising"].tables["rise_constraint"].lookup() == \
            pytest.approx(tech.TAU_PS)
    # 1024 x 64 with a column mux of 4: 256 rows of 256 cells, one sub-array:
    # log4(2 x 256 x 256) + 4 + 3 + 1 = 16.5 FO4.
    assert figures.access_time_ps == pytest.approx(16.5 * 5 * tech.TAU_PS)
