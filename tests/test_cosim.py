"""The cocotb plumbing: one build per design and simulator, clocks with a timescale, failures,
where the build cache lives and what happens to a damaged build."""

import re
from pathlib import Path

import platformdirs
import pytest
from amaranth import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import Out

from dcom.tb.cosim import (BUILD_STAMP, CocotbFailure, HdlDesign, _build_damage, _record_build,
                           amaranth_emitter, build_jobs, build_outputs, build_root, run_cocotb,
                           simulator_build_dir, write_verilog)


class Counter(wiring.Component):
    count: Out(16)

    def elaborate(self, platform):
        m = Module()
        m.d.sync += self.count.eq(self.count + 1)
        return m


COUNTER = HdlDesign("dcom_test_counter", amaranth_emitter(Counter, "dcom_test_counter"))


@pytest.mark.cocotb
def test_builds_once_and_counts(sim):
    first = run_cocotb(COUNTER, "cocotb_counter", sim, env={"COUNTER_CYCLES": "5"})
    binary = sorted(p for p in first.test_dir.parent.parent.iterdir() if p.is_file())
    stamps = {p: p.stat().st_mtime_ns for p in binary}
    second = run_cocotb(COUNTER, "cocotb_counter", sim, env={"COUNTER_CYCLES": "9"},
                        run_name="second")
    assert (first.tests, first.failed, second.tests, second.failed) == (1, 0, 1, 0)
    assert {p: p.stat().st_mtime_ns for p in binary} == stamps, "the design was rebuilt"


@pytest.mark.cocotb
def test_failure_names_seed_and_rerun_command(sim):
    with pytest.raises(CocotbFailure, match=r"seed 7\).*rerun alone with waveforms: .*--seed 7"):
        run_cocotb(COUNTER, "cocotb_counter", sim, seed=7, run_name="failing",
                   env={"COUNTER_CYCLES": "3", "COUNTER_EXPECT": "4"})


def test_the_build_cache_is_the_users_cache_folder_unless_dcom_build_dir_says(monkeypatch,
                                                                            tmp_path):
    monkeypatch.delenv("DCOM_BUILD_DIR", raising=False)
    assert build_root() == Path(platformdirs.user_cache_dir("dcom")).resolve()
    monkeypatch.setenv("DCOM_BUILD_DIR", str(tmp_path / "cache"))
    assert build_root() == tmp_path / "cache"


def test_the_stamp_tells_an_intact_build_from_a_damaged_one(tmp_path):
    binary = tmp_path / "model"
    binary.write_bytes(bytes(range(256)) * 64)
    stamp = tmp_path / BUILD_STAMP
    _record_build(stamp, [binary])
    assert _build_damage(stamp, [binary]) is None
    # Same size, one byte changed: only the hash sees it.
    binary.write_bytes(b"\xff" + bytes(range(1, 256)) + bytes(range(256)) * 63)
    assert _build_damage(stamp, [binary]) == "model no longer has the SHA-256 the build recorded"
    binary.unlink()
    assert _build_damage(stamp, [binary]) == "model is missing"
    stamp.write_text("")
    assert "records no sizes and hashes" in _build_damage(stamp, [binary])


@pytest.mark.cocotb
@pytest.mark.slow
def test_a_damaged_build_is_rebuilt_and_runs(sim, tmp_path, monkeypatch, capsys):
    """A truncated model executable (or sim.vvp) used to crash the simulator ("return code
    -11"); its stamp no longer matches it, so the next run rebuilds it, says so, and passes."""
    monkeypatch.setenv("DCOM_BUILD_DIR", str(tmp_path))
    run_cocotb(COUNTER, "cocotb_counter", sim, env={"COUNTER_CYCLES": "5"})
    build_dir = simulator_build_dir(COUNTER, sim)
    assert build_dir.is_relative_to(tmp_path)
    [output] = build_outputs(COUNTER, sim, build_dir)
    size = output.stat().st_size
    with open(output, "r+b") as f:
        f.truncate(size // 2)
    capsys.readouterr()
    again = run_cocotb(COUNTER, "cocotb_counter", sim, env={"COUNTER_CYCLES": "7"},
                       run_name="after-damage")
    assert (again.tests, again.failed) == (1, 0)
    assert (f"dcom: rebuilding {build_dir}: {output.name} has {size // 2} bytes, the build "
            f"wrote {size}") in capsys.readouterr().err
    assert _build_damage(build_dir / BUILD_STAMP, [output]) is None


@pytest.mark.cocotb
def test_a_crashed_simulator_names_the_build_folder_to_clear(sim):
    build_dir = simulator_build_dir(COUNTER, sim)
    with pytest.raises(CocotbFailure, match=rf"{sim} crashed .*: it was killed by SIGSEGV; if "
                                            rf"the cached build is damaged, delete "
                                            rf"{re.escape(str(build_dir))} and run again"):
        run_cocotb(COUNTER, "cocotb_counter", sim, run_name="crash",
                   env={"COUNTER_CYCLES": "3", "COUNTER_CRASH": "1"})


def test_builds_of_another_cocotb_installation_are_not_reused(monkeypatch, tmp_path):
    """A Verilator model loads cocotb's libraries from the path it was built against; a cached
    build from another environment (another virtual environment, since deleted) would fail
    to start with "cannot open shared object file"."""
    from cocotb_tools import config as cocotb_config
    here = simulator_build_dir(COUNTER, "verilator")
    monkeypatch.setattr(cocotb_config, "libs_dir", tmp_path / "other-venv" / "cocotb" / "libs")
    elsewhere = simulator_build_dir(COUNTER, "verilator")
    assert elsewhere != here and elsewhere.parent == here.parent


def test_build_jobs_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("DCOM_BUILD_JOBS", "3")
    assert build_jobs() == 3
    for bad in ("0", "two", "-1"):
        monkeypatch.setenv("DCOM_BUILD_JOBS", bad)
        with pytest.raises(ValueError, match="DCOM_BUILD_JOBS"):
            build_jobs()


def test_verilog_from_sources_is_converted_once_per_source_version(tmp_path, monkeypatch):
    """A later process reuses the Verilog of a design that follows from its parameters and
    dcom's sources; a damaged or changed entry is converted again."""
    from dcom.tb import cosim

    monkeypatch.setenv("DCOM_BUILD_DIR", str(tmp_path))
    calls = []

    def emit(out_dir):
        calls.append(out_dir)
        path = out_dir / "twice.v"
        path.write_text("module twice(); endmodule\n")
        return [path]

    design = HdlDesign("twice", emit, {"n": 1}, from_sources=True)
    first = write_verilog(design)
    cosim._verilog_cache.clear()                 # as in a new process
    assert write_verilog(design) == first and len(calls) == 1
    first[0][0].write_text("module twice(); wire x; endmodule\n")
    cosim._verilog_cache.clear()
    assert write_verilog(design)[0][0].read_text() == "module twice(); endmodule\n"
    assert len(calls) == 2
    cosim._verilog_cache.clear()
    write_verilog(HdlDesign("twice", emit, {"n": 1}))   # not from_sources: converted again
    assert len(calls) == 3


def test_a_hierarchical_build_makes_only_ports_and_named_arrays_public(tmp_path, monkeypatch):
    from dcom.tb.cosim import _verilator_config

    monkeypatch.setenv("DCOM_BUILD_DIR", str(tmp_path))

    def emit(out_dir):
        path = out_dir / "shell.v"
        path.write_text("module shell(clk, a, y);\n  input clk; input a; output y;\n"
                        "  wire hidden;\nendmodule\n")
        return [path]

    text = _verilator_config(HdlDesign("shell", emit, {"v": 1}, hier_blocks=("tile",),
                                       public=(("ram", "mem"),)))
    lines = text.splitlines()
    assert lines[0] == "`verilator_config" and 'hier_block -module "tile"' in lines
    assert {line for line in lines if line.startswith("public_flat_rw")} == {
        f'public_flat_rw -module "{m}" -var "{v}"'
        for m, v in [("shell", "clk"), ("shell", "a"), ("shell", "y"), ("ram", "mem")]}
