"""Static timing analysis: paths worked out by hand from the Liberty tables, hierarchy against
the flattened design, hold, loops, a user's library, SRAM macros, and an FP adder between
registers against Yosys' logic depth.

The expected figures are computed here from the Liberty text, read with regular expressions
and interpolated by a bilinear function of this file, independently of ``dcom.synth.sta`` and
``dcom.synth.liberty_reader``.
"""

import json
import os
import re
import subprocess

import pytest
from amaranth import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from dcom.hw.fp import FPAdder
from dcom.synth import sram
from dcom.synth import technology as tech
from dcom.synth.flow import synthesize_amaranth, yosys_command
from dcom.synth.liberty import write_liberty
from dcom.synth.liberty_reader import read_liberty
from dcom.synth.sta import TimingError, analyze, analyze_netlist

WIRE = tech.WIRE_CAP_FF_PER_UM * tech.WIRE_UM_PER_FANOUT


# ---- the Liberty figures, read independently ----------------------------------------------

def liberty_figures(text: str) -> dict:
    """Per cell: ``caps`` (input pin -> fF) and ``arcs`` ((related, pin, timing type) ->
    {table kind: (index_1, index_2, values)})."""
    cells = {}
    for chunk in re.split(r"\n  cell \(", text)[1:]:
        name = chunk[:chunk.index(")")]
        caps = {p: float(c) for p, c in re.findall(
            r"pin \((\w+)\) \{\s*direction : input ;\s*(?:clock : true ;\s*)?"
            r"capacitance : ([0-9.]+)", chunk)}
        arcs = {}
        for pin, body in re.findall(r"\n    (?:pin|bus) \((\w+)\) \{(.*?)\n    \}", chunk,
                                    re.DOTALL):
            for timing in re.findall(r"timing \(\) \{(.*?)\n      \}", body, re.DOTALL):
                related = re.search(r'related_pin : "(\w+)"', timing)[1]
                kind = re.search(r"timing_type : (\w+)", timing)
                tables = {}
                for table, inner in re.findall(r"(\w+) \(\w+\) \{(.*?)\}", timing, re.DOTALL):
                    index = [[float(v) for v in m.split(",")]
                             for m in re.findall(r'index_\d \("([^"]*)"\)', inner)]
                    values = [float(v) for row in
                              re.findall(r'"([^"]*)"', inner.split("values")[1])
                              for v in row.split(",")]
                    tables[table] = (index, values)
                arcs[related, pin, kind[1] if kind else "combinational"] = tables
        cells[name] = {"caps": caps, "arcs": arcs}
    return cells


def interpolate(table, x: float, y: float) -> float:
    """Bilinear interpolation (linear extrapolation) of a 2-D table; scalars as they are."""
    index, values = table
    if not index:
        return values[0]
    xs, ys = index

    def segment(points, v):
        i = 0
        while i < len(points) - 2 and v >= points[i + 1]:
            i += 1
        return i, (v - points[i]) / (points[i + 1] - points[i])

    i, tx = segment(xs, x)
    j, ty = segment(ys, y)
    n = len(ys)
    v00, v01 = values[i * n + j], values[i * n + j + 1]
    v10, v11 = values[(i + 1) * n + j], values[(i + 1) * n + j + 1]
    return (v00 * (1 - tx) * (1 - ty) + v10 * tx * (1 - ty) + v01 * (1 - tx) * ty
            + v11 * tx * ty)


class Hand:
    """Delays, slews, loads and checks of dcom's library, by hand."""

    def __init__(self, figures):
        self.f = figures

    def cap(self, cell, pin):
        return self.f[cell]["caps"][pin]

    def load(self, *pins):
        """Load of a net driving ``(cell, pin)`` pairs: their capacitance and a wire each."""
        return sum(self.cap(c, p) + WIRE for c, p in pins)

    def arc(self, cell, related, pin, slew, load, kind="combinational"):
        """(delay, output slew), each the larger of rise and fall."""
        tables = self.f[cell]["arcs"][related, pin, kind]
        delay = max(interpolate(tables[k], slew, load) for k in ("cell_rise", "cell_fall"))
        out = max(interpolate(tables[k], slew, load)
                  for k in ("rise_transition", "fall_transition"))
        return delay, out

    def check(self, cell, pin, kind):
        tables = self.f[cell]["arcs"]["CK", pin, kind]
        return max(interpolate(tables[k], 0.0, 0.0)
                   for k in ("rise_constraint", "fall_constraint"))

    def boundary_slew(self):
        """Output slew of BUF_X1 driving four BUF_X1 inputs (with wires), to a fixed point."""
        slew = 0.0
        for _ in range(20):
            slew = self.arc("BUF_X1", "A", "Y", slew, 4 * self.load(("BUF_X1", "A")))[1]
        return slew


@pytest.fixture(scope="module")
def lib_path(tmp_path_factory):
    return write_liberty(tmp_path_factory.mktemp("lib") / "dcom15.lib")


@pytest.fixture(scope="module")
def library(lib_path):
    return read_liberty(lib_path)


@pytest.fixture(scope="module")
def hand(lib_path):
    return Hand(liberty_figures(lib_path.read_text()))


# ---- netlists written by hand (Yosys JSON) -----------------------------------------------

class Builder:
    """A Yosys JSON module: nets are numbered from 2 like Yosys does."""

    def __init__(self):
        self.next = 2
        self.ports, self.cells, self.names = {}, {}, {}

    def net(self):
        self.next += 1
        return self.next - 1

    def port(self, name, direction, width=1):
        bits = [self.net() for _ in range(width)]
        self.ports[name] = {"direction": direction, "bits": bits}
        return bits[0] if width == 1 else bits

    def cell(self, name, kind, **pins):
        self.cells[name] = {"type": kind, "connections": {
            p: (b if isinstance(b, list) else [b]) for p, b in pins.items()}}

    def flop(self, name, clk, d, q=None):
        q = self.net() if q is None else q
        self.cell(name, "DFF_X1", CK=clk, D=d, Q=q)
        self.names[f"{name}_q"] = {"hide_name": 0, "bits": [q]}
        return q

    def chain(self, prefix, kind, n, start, end=None):
        """``n`` inverters (or buffers) in series from net ``start``; returns the last net."""
        net = start
        for i in range(n):
            out = end if (end is not None and i == n - 1) else self.net()
            self.cell(f"{prefix}{i}", kind, A=net, Y=out)
            net = out
        return net

    def json(self):
        return {"ports": self.ports, "cells": self.cells, "netnames": self.names}


def single(builder, name="top"):
    return {"modules": {name: builder.json()}}


def inverter_chain(n):
    b = Builder()
    clk, d, q = b.port("clk", "input"), b.port("d", "input"), b.port("q", "output")
    launch = b.flop("ff_launch", clk, d)
    end = b.chain("inv", "INV_X1", n, launch)
    b.flop("ff_capture", clk, end, q)
    return b


def test_inverter_chain_between_flip_flops(library, hand):
    n = 7
    timing = analyze_netlist(single(inverter_chain(n)), "top", library, clock_mhz=1000)
    clock = hand.boundary_slew()
    assert timing.boundary.slew_ps == pytest.approx(clock)
    assert timing.boundary.load_ff == pytest.approx(4 * hand.load(("BUF_X1", "A")))
    delay, slew = hand.arc("DFF_X1", "CK", "Q", clock, hand.load(("INV_X1", "A")), "rising_edge")
    arrival, delays = delay, [delay]
    for i in range(n):
        load = hand.load(("INV_X1", "A") if i < n - 1 else ("DFF_X1", "D"))
        delay, slew = hand.arc("INV_X1", "A", "Y", slew, load)
        arrival += delay
        delays.append(delay)
    setup = hand.check("DFF_X1", "D", "setup_rising")
    assert timing.register_path_ps == pytest.approx(arrival + setup, rel=1e-9)
    assert timing.wns_ps == pytest.approx(1000 - arrival - setup, rel=1e-9)
    assert timing.fmax_mhz == pytest.approx(1e6 / (arrival + setup), rel=1e-9)
    path = timing.paths[0]
    assert path.cells == n + 1 and path.startpoint == "ff_launch (ff_launch_q)"
    assert path.endpoint == "ff_capture D (ff_capture_q)"
    assert [s.cell for s in path.steps] == ["DFF_X1"] + ["INV_X1"] * n
    assert [s.delay_ps for s in path.steps] == pytest.approx(delays, rel=1e-9)
    assert path.steps[-1].slew_ps == pytest.approx(slew, rel=1e-9)
    assert path.arrival_ps == pytest.approx(arrival, rel=1e-9)
    # One path, so the shortest is the longest: hold slack = arrival - hold.
    hold = hand.check("DFF_X1", "D", "hold_rising")
    assert timing.hold_slack_ps == pytest.approx(arrival - hold, rel=1e-9)
    assert timing.met and not timing.warnings


def test_timing_report_files(library, tmp_path):
    timing = analyze_netlist(single(inverter_chain(3)), "top", library, clock_mhz=1000,
                             paths=1)
    files = timing.write_report(tmp_path, "timing")
    data = json.loads(files.json.read_text())
    assert data["fmax_mhz"] == pytest.approx(timing.fmax_mhz)
    assert data["paths"][0]["steps"][0]["instance"] == "ff_launch"
    assert data["modules"]["top"]["register_path_ps"] == pytest.approx(timing.register_path_ps)
    markdown = files.markdown.read_text()
    assert "## path 1: slack" in markdown and "| ff_launch | DFF_X1 | CK -> Q |" in markdown
    assert files.charts[0].read_bytes()[:4] == b"\x89PNG"


def test_ripple_carry_chain_of_full_adders(library, hand):
    n = 4
    b = Builder()
    clk, d = b.port("clk", "input"), b.port("d", "input")
    a = [b.flop(f"ff_a{k}", clk, d) for k in range(n)]
    bb = [b.flop(f"ff_b{k}", clk, d) for k in range(n)]
    carry = b.flop("ff_c", clk, d)
    sums = []
    for k in range(n):
        s, co = b.net(), b.net()
        b.cell(f"fa{k}", "FA_X1", A=a[k], B=bb[k], CI=carry, S=s, CO=co)
        b.flop(f"ff_s{k}", clk, s)
        sums.append(s)
        carry = co
    b.flop("ff_co", clk, carry)
    timing = analyze_netlist(single(b), "top", library, clock_mhz=1000)

    clock = hand.boundary_slew()
    q_a = hand.arc("DFF_X1", "CK", "Q", clock, hand.load(("FA_X1", "A")), "rising_edge")
    q_c = hand.arc("DFF_X1", "CK", "Q", clock, hand.load(("FA_X1", "CI")), "rising_edge")
    setup = hand.check("DFF_X1", "D", "setup_rising")
    carry_at, carry_slew = q_c
    ends = {}
    for k in range(n):
        co_load = hand.load(("FA_X1", "CI") if k < n - 1 else ("DFF_X1", "D"))
        s_load = hand.load(("DFF_X1", "D"))
        inputs = {"A": q_a, "B": q_a, "CI": (carry_at, carry_slew)}
        results = {}
        for out, load in (("S", s_load), ("CO", co_load)):
            arcs = [(at + hand.arc("FA_X1", pin, out, sl, load)[0],
                     hand.arc("FA_X1", pin, out, sl, load)[1])
                    for pin, (at, sl) in inputs.items()]
            results[out] = (max(x for x, _ in arcs), max(y for _, y in arcs))
        ends[f"ff_s{k}"] = results["S"][0] + setup
        carry_at, carry_slew = results["CO"]
    ends["ff_co"] = carry_at + setup
    worst = max(ends, key=ends.get)
    assert worst == f"ff_s{n - 1}"
    assert timing.register_path_ps == pytest.approx(ends[worst], rel=1e-9)
    path = timing.paths[0]
    assert path.endpoint.startswith(worst) and path.startpoint.split()[0] in ("ff_a0", "ff_b0")
    assert [s.instance for s in path.steps[1:]] == [f"fa{k}" for k in range(n)]
    assert [s.pins for s in path.steps[1:]] == (
        [path.steps[1].pins] + ["CI -> CO"] * (n - 2) + ["CI -> S"])
    # Every endpoint is listed, worst first, with its own slack.
    listed = {p.endpoint.split()[0]: p.slack_ps for p in timing.paths}
    assert listed == pytest.approx({e: 1000 - v for e, v in ends.items()}, rel=1e-9)


def two_paths(long: int) -> Builder:
    b = Builder()
    clk, d = b.port("clk", "input"), b.port("d", "input")
    b.flop("short_capture", clk, b.chain("short", "INV_X1", 1, b.flop("short_launch", clk, d)))
    b.flop("long_capture", clk, b.chain("long", "INV_X1", long, b.flop("long_launch", clk, d)))
    return b


def test_the_long_path_is_critical_and_its_slack_moves_with_the_period(library):
    fast = analyze_netlist(single(two_paths(40)), "top", library, clock_mhz=1000)
    slow = analyze_netlist(single(two_paths(40)), "top", library, clock_mhz=500)
    for timing in (fast, slow):
        assert timing.paths[0].endpoint.startswith("long_capture")
        assert timing.paths[0].cells == 41
        assert timing.paths[1].endpoint.startswith("short_capture")
    assert slow.wns_ps - fast.wns_ps == pytest.approx(1000.0, abs=1e-9)
    assert slow.paths[0].slack_ps - fast.paths[0].slack_ps == pytest.approx(1000.0, abs=1e-9)
    assert slow.fmax_mhz == fast.fmax_mhz


def test_missed_timing_is_an_error_naming_the_path(library):
    timing = analyze_netlist(single(two_paths(40)), "top", library, clock_mhz=5000)
    assert not timing.met and timing.wns_ps < 0
    with pytest.raises(TimingError) as error:
        timing.require()
    message = str(error.value)
    assert "misses 5000 MHz" in message and "long_launch" in message
    assert "long_capture D" in message and f"{timing.wns_ps:,.1f} ps" in message
    analyze_netlist(single(two_paths(40)), "top", library, clock_mhz=100).require()


def test_hold_on_a_direct_flop_to_flop_connection(library, hand):
    b = Builder()
    clk, d = b.port("clk", "input"), b.port("d", "input")
    b.flop("second", clk, b.flop("first", clk, d))
    timing = analyze_netlist(single(b), "top", library, clock_mhz=1000)
    clock = hand.boundary_slew()
    clock_to_q = hand.arc("DFF_X1", "CK", "Q", clock, hand.load(("DFF_X1", "D")),
                          "rising_edge")[0]
    hold = hand.check("DFF_X1", "D", "hold_rising")
    assert timing.hold_slack_ps == pytest.approx(clock_to_q - hold, rel=1e-9)
    assert timing.register_path_ps == pytest.approx(
        clock_to_q + hand.check("DFF_X1", "D", "setup_rising"), rel=1e-9)


def stage(b: Builder, prefix: str, a: int) -> int:
    """INV, NAND2 (with the input), INV, BUF: the logic of module ``stage``."""
    n1, n2, n3, y = b.net(), b.net(), b.net(), b.net()
    b.cell(f"{prefix}i0", "INV_X1", A=a, Y=n1)
    b.cell(f"{prefix}n0", "NAND2_X1", A=n1, B=a, Y=n2)
    b.cell(f"{prefix}i1", "INV_X1", A=n2, Y=n3)
    b.cell(f"{prefix}b0", "BUF_X1", A=n3, Y=y)
    return y


def test_hierarchy_composes_like_the_flattened_design(library):
    child = Builder()
    a = child.port("a", "input")
    y = stage(child, "", a)
    child.ports["y"] = {"direction": "output", "bits": [y]}

    parent = Builder()
    clk, d = parent.port("clk", "input"), parent.port("d", "input")
    mid, out = parent.net(), parent.net()
    launch = parent.flop("launch", clk, d)
    parent.cell("u0", "stage", a=launch, y=mid)
    parent.cell("u1", "stage", a=mid, y=out)
    parent.flop("capture", clk, out)
    hierarchical = analyze_netlist({"modules": {"top": parent.json(), "stage": child.json()}},
                                   "top", library, clock_mhz=1000)

    flat = Builder()
    clk, d = flat.port("clk", "input"), flat.port("d", "input")
    net = flat.flop("launch", clk, d)
    for name in ("u0/", "u1/"):
        net = stage(flat, name, net)
    flat.flop("capture", clk, net)
    flattened = analyze_netlist(single(flat), "top", library, clock_mhz=1000)

    assert hierarchical.modules["stage"].instances == 2
    # The submodules see the boundary slew at their inputs rather than the real one: a
    # little pessimistic (this library adds 0.1 ps per ps of input slew to a first stage).
    assert hierarchical.register_path_ps == pytest.approx(flattened.register_path_ps, rel=0.03)
    assert hierarchical.register_path_ps >= flattened.register_path_ps
    ours, theirs = hierarchical.paths[0], flattened.paths[0]
    assert [s.instance for s in ours.steps] == [s.instance for s in theirs.steps]
    assert ours.endpoint == theirs.endpoint
    # The path's arrivals add up inside the expanded submodules.
    assert ours.arrival_ps == pytest.approx(sum(s.delay_ps for s in ours.steps), rel=1e-9)
    assert hierarchical.modules["stage"].input_to_output_ps > 0


def test_combinational_loop_is_reported_and_cut(library):
    b = Builder()
    clk, d = b.port("clk", "input"), b.port("d", "input")
    x, y = b.net(), b.net()
    q = b.flop("launch", clk, d)
    b.cell("loop_a", "NAND2_X1", A=q, B=y, Y=x)
    b.cell("loop_b", "NAND2_X1", A=x, B=q, Y=y)
    b.flop("capture", clk, b.chain("tail", "INV_X1", 2, y))
    timing = analyze_netlist(single(b), "top", library, clock_mhz=1000)
    assert len(timing.loops) == 1
    assert "loop_a" in timing.loops[0] and "loop_b" in timing.loops[0]
    assert not timing.met and "combinational loop" in timing.failure()
    assert timing.paths and timing.paths[0].endpoint.startswith("capture")


def test_a_users_library_in_ns_and_pf_with_swapped_table_axes(tmp_path):
    """Delays in ns, capacitance in pF, index_1 the load; every figure by hand."""
    path = tmp_path / "user.lib"
    path.write_text("""library (user) {
  time_unit : "1ns"; capacitive_load_unit (1, pf);
  lu_table_template (load_slew) { variable_1 : total_output_net_capacitance;
    variable_2 : input_net_transition; index_1 ("0.001, 0.011"); index_2 ("0.01, 0.11"); }
  cell (bf) { area : 1;
    pin (a) { direction : input; capacitance : 0.002; }
    pin (y) { direction : output; function : "a";
      timing () { related_pin : "a";
        cell_rise (load_slew) { values ("0.010, 0.020", "0.030, 0.040"); }
        cell_fall (load_slew) { values ("0.012, 0.022", "0.032, 0.042"); }
        rise_transition (load_slew) { values ("0.020, 0.020", "0.040, 0.040"); }
        fall_transition (load_slew) { values ("0.020, 0.020", "0.040, 0.040"); } } } }
  cell (ff) { area : 4;
    ff (S, SN) { clocked_on : "c"; next_state : "d"; }
    pin (c) { direction : input; clock : true; capacitance : 0.001; }
    pin (d) { direction : input; capacitance : 0.001;
      timing () { related_pin : "c"; timing_type : setup_rising;
        rise_constraint (scalar) { values ("0.005"); }
        fall_constraint (scalar) { values ("0.004"); } } }
    pin (q) { direction : output; function : "S";
      timing () { related_pin : "c"; timing_type : rising_edge;
        cell_rise (scalar) { values ("0.050"); }
        rise_transition (scalar) { values ("0.030"); } } } }
}
""")
    library = read_liberty(path)
    b = Builder()
    clk, d = b.port("clk", "input"), b.port("d", "input")
    launch, mid = b.net(), b.net()
    b.cell("f0", "ff", c=clk, d=d, q=launch)
    b.cell("buf", "bf", a=launch, y=mid)
    b.cell("f1", "ff", c=clk, d=mid, q=b.net())
    timing = analyze_netlist(single(b), "top", library, clock_mhz=1000)
    # Boundary: bf drives four bf inputs (2 fF each + 0.2 fF wire): 8.8 fF, beyond the table
    # (1 and 11 fF) at 0.78 of the way; the transition is 20 + 0.78 * 20 ps at any slew.
    assert timing.boundary.load_ff == pytest.approx(8.8)
    assert timing.boundary.slew_ps == pytest.approx(20 + 20 * 7.8 / 10)
    # q: 50 ps (scalar), slew 30 ps; buf at 1.2 fF (f1's d and a wire) and 30 ps:
    # load 0.02 of the way, slew 0.2 of the way; the fall table is the larger, by 2 ps.
    tx, ty = (1.2 - 1) / 10, (30 - 10) / 100
    fall = (12 * (1 - tx) * (1 - ty) + 32 * tx * (1 - ty) + 22 * (1 - tx) * ty
            + 42 * tx * ty)
    assert timing.register_path_ps == pytest.approx(50 + fall + 5, rel=1e-9)
    assert [s.delay_ps for s in timing.paths[0].steps] == pytest.approx([50, fall])


def test_sram_macro_arcs_come_from_the_model(tmp_path, hand):
    config = sram.SramConfig(64, 16)
    figures = sram.sram_figures(config)
    lib = tmp_path / "macros.lib"
    lib.write_text(sram.macro_liberty_text([config]))
    macro = liberty_figures(lib.read_text())[config.name]
    library = read_liberty(write_liberty(tmp_path / "dcom15.lib"))
    b = Builder()
    clk, d = b.port("clk", "input"), b.port("d", "input")
    q = b.flop("addr_reg", clk, d)
    data = [b.net() for _ in range(16)]
    zero = "0"
    b.cell("mem", config.name, R0_CLK=clk, R0_EN=q, R0_ADDR=[q] + [zero] * 5, R0_DATA=data,
           W0_CLK=clk, W0_EN=zero, W0_MASK=[zero] * 16, W0_ADDR=[zero] * 6,
           W0_DATA=[zero] * 16)
    b.flop("data_reg", clk, data[3])
    timing = analyze_netlist(single(b), "top", library, read_liberty(lib), clock_mhz=1000)
    clock = hand.boundary_slew()
    tables = macro["arcs"]["R0_CLK", "R0_DATA", "rising_edge"]
    load = hand.load(("DFF_X1", "D"))
    access = max(interpolate(tables[k], clock, load) for k in ("cell_rise", "cell_fall"))
    assert access == pytest.approx(figures.access_time_ps + 0.1 * clock
                                   + tech.TAU_PS * load / (4 * tech.UNIT_INPUT_CAP_FF))
    setup = hand.check("DFF_X1", "D", "setup_rising")
    assert timing.register_path_ps == pytest.approx(access + setup, rel=1e-9)
    path = timing.paths[0]
    assert path.startpoint.split()[0] == "mem" and path.endpoint.startswith("data_reg D")
    # The address register's path ends at the macro, checked against its setup time.
    into = [p for p in timing.paths if p.endpoint.startswith("mem")]
    assert into and into[0].setup_ps == pytest.approx(figures.setup_ps)


class Registered(wiring.Component):
    """An FP32 adder between registers."""

    a: In(32)
    b: In(32)
    s: Out(32)

    def elaborate(self, platform):
        m = Module()
        m.submodules.add = add = FPAdder("fp32")
        ra, rb = Signal(32), Signal(32)
        m.d.sync += [ra.eq(self.a), rb.eq(self.b), self.s.eq(add.sum)]
        m.d.comb += [add.a.eq(ra), add.b.eq(rb)]
        return m


def test_fp_adder_between_registers_against_yosys_logic_depth(tmp_path):
    result = synthesize_amaranth(Registered(), "registered_add", tmp_path, flatten=True,
                                 progress=lambda _: None, reports=False)
    timing = analyze(result, clock_mhz=1000)
    path = timing.paths[0]
    assert path.steps[0].cell.startswith("DFF") and path.endpoint.split()[1] == "D"
    # Yosys' longest topological path, flip-flops removed: the cells between registers.
    # YoWASP sees files relative to its working directory.
    script = tmp_path / "depth.ys"
    script.write_text(f'read_liberty -lib "{os.path.relpath(result.liberty, tmp_path)}"\n'
                      f'read_json "{os.path.relpath(result.netlist_json, tmp_path)}"\n'
                      "delete t:DFF_X1\nltp\n")
    subprocess.run(yosys_command() + ["-q", "-l", "depth.log", "-s", script.name],
                   cwd=tmp_path, capture_output=True, text=True, check=True)
    depth = int(re.search(r"Longest topological path .*\(length=(\d+)\)",
                          (tmp_path / "depth.log").read_text())[1])
    logic = path.cells - 1
    assert 0.8 * depth <= logic <= depth
    # Plausible for about 20 ps a cell (FO4 = 15 ps), the adder's whole depth in one cycle.
    assert 10 * logic < path.arrival_ps < 60 * logic
    assert timing.fmax_mhz == pytest.approx(1e6 / (path.arrival_ps + path.setup_ps))
