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
from dcom.synth.liberty_reader import read_liberty


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
