"""``dcom generate``: files, manifest, hierarchy, and a clean Verilator lint."""

import fcntl
import hashlib
import json
import re
import subprocess
import threading
import time

import pytest
from amaranth.back import verilog

from dcom import cli
from dcom.config import MAX_STAGES, ConfigError, DcomConfig
from dcom.hw import generate as generate_module
from dcom.hw.fp import FPAdder, FPMultiplier
from dcom.hw.generate import (LINT_FILE, MANIFEST, TOP_MODULE, LintError, estimate, generate,
                              generate_unit, lint)
from dcom.hw.hierarchy import ModuleConflictError, ModuleLibrary, module_header
from dcom.hw.scalar import ScalarUnit
from dcom.hw.units import UNITS
from dcom.simulators import find


def test_generate_writes_modules_manifest_isa_and_passes_lint(tmp_path, capsys):
    config = DcomConfig(cluster_rows=2, cluster_cols=4, grid_rows=2, grid_cols=4,
                        buffer_depth=32, bank_depth=64, expansion=4)
    manifest = generate(config, tmp_path)
    assert "wrote" in capsys.readouterr().out
    assert manifest["config"] == config.to_dict() and manifest["top"] == TOP_MODULE
    for entry in manifest["modules"]:
        text = (tmp_path / entry["file"]).read_bytes()
        assert hashlib.sha256(text).hexdigest() == entry["sha256"]
    names = [entry["module"] for entry in manifest["modules"]]
    assert names[-1] == TOP_MODULE and "dcom_cluster" in names
    assert (tmp_path / "isa.md").read_text().startswith("# D-com instruction set")
    assert json.loads((tmp_path / "manifest.json").read_text()) == manifest
    # Eight clusters, one cluster module: the top instantiates tiles, each tile one cluster.
    top = (tmp_path / f"{TOP_MODULE}.v").read_text()
    assert top.count("dcom_tile tile_") == 8 and "module dcom_cluster" not in top
    verilator = find("verilator")
    lint = subprocess.run(
        [str(verilator.executable), "--lint-only", "-Wall", LINT_FILE,
         *sorted(p.name for p in tmp_path.glob("*.v")), "--top-module", TOP_MODULE],
        cwd=tmp_path, capture_output=True, text=True, check=False)
    assert lint.returncode == 0 and "%Warning" not in lint.stderr, lint.stderr[:2000]


def test_module_by_module_lint_is_clean_and_catches_a_fault(tmp_path):
    config = DcomConfig(cluster_rows=2, cluster_cols=2, grid_rows=2, grid_cols=2,
                        buffer_depth=32, bank_depth=64, expansion=2)
    manifest = generate(config, tmp_path, quiet=True, check_lint=True)
    assert sorted(manifest["lint_clean"]) == sorted(m["module"] for m in manifest["modules"])
    # A submodule stands as a stub with its real ports: a connection to a port it lacks...
    cluster = tmp_path / "dcom_cluster.v"
    original = cluster.read_text()
    cluster.write_text(re.sub(r"\bidle\b", "idle_renamed", original))
    with pytest.raises(LintError, match="on dcom_tile"):
        lint(tmp_path)
    # ... and a module's own fault are found.
    cluster.write_text(original)
    top = tmp_path / f"{TOP_MODULE}.v"
    top.write_text(top.read_text().replace("endmodule", "  wire never_driven;\n  wire probe = ~never_driven;\nendmodule"))
    with pytest.raises(LintError, match=f"on {TOP_MODULE}"):
        lint(tmp_path)


# ---- dcom generate --unit --------------------------------------------------------------------

#: The smallest instance: one cluster of 1 x 2 multipliers.
TINY = DcomConfig(cluster_rows=1, cluster_cols=1, grid_rows=1, grid_cols=2, buffer_depth=16,
                  bank_depth=16, expansion=1)
UNIT_CONFIG = DcomConfig(cluster_rows=1, cluster_cols=1, grid_rows=2, grid_cols=2,
                         buffer_depth=32, bank_depth=64, expansion=1)


def _verilog_ports(text: str, module: str) -> dict[str, tuple[str, int]]:
    """``{port: (direction, width)}`` of ``module``, from Amaranth's port declarations."""
    header = module_header(text, module)
    body = text[header.end():text.index("endmodule", header.end())]
    return {name: (direction, int(msb) + 1 if msb else 1) for direction, msb, name in
            re.findall(r"^\s*(input|output)\s+(?:\[(\d+):0\]\s+)?(\w+);", body, re.MULTILINE)}


def _table_ports(markdown: str) -> dict[str, tuple[str, int]]:
    return {name: (direction, int(width)) for name, direction, width in
            re.findall(r"^\| `(\w+)` \| (input|output) \| (\d+) \| .+ \|$", markdown,
                       re.MULTILINE)}


@pytest.mark.parametrize("name", list(UNITS))
def test_unit_writes_its_module_port_table_and_manifest(tmp_path, name):
    out = tmp_path / name
    manifest = generate_unit(name, UNIT_CONFIG, out, quiet=True)
    top = manifest["top"]
    text = (out / f"{top}.v").read_text()
    table = (out / f"{name}.md").read_text()
    # Every port of the Verilog is in the table, with its direction and width, and nothing else.
    assert _table_ports(table) == _verilog_ports(text, top) != {}
    assert f"**Latency:** {manifest['latency']} cycles" in table
    files = sorted(p.name for p in out.glob("*.v"))
    assert files == sorted(m["file"] for m in manifest["modules"])
    # The unit's module comes last, after the submodules it instantiates.
    assert manifest["modules"][-1]["module"] == top
    for entry in manifest["modules"][:-1]:
        assert re.search(rf"^\s*{entry['module']}\s+\S+\s+\(", text, re.MULTILINE)
    assert json.loads((out / MANIFEST).read_text()) == manifest
    assert manifest["unit"] == name and manifest["config"] == UNIT_CONFIG.to_dict()


def test_unit_stages_and_configuration_apply(tmp_path):
    manifest = generate_unit("fp_mul", UNIT_CONFIG.replace(acc_format="fp16"), tmp_path / "m",
                             stages=3, quiet=True)
    assert manifest["top"] == "dcom_fp_mul_fp16_s3" and manifest["latency"] == 3
    text = (tmp_path / "m" / "dcom_fp_mul_fp16_s3.v").read_text()
    assert _verilog_ports(text, "dcom_fp_mul_fp16_s3")["product"] == ("output", 16)
    # The default is the configuration's stages for that unit.
    assert generate_unit("fp_add", UNIT_CONFIG, tmp_path / "a", quiet=True)["latency"] \
        == UNIT_CONFIG.add_stages
    assert generate_unit("convert_fp32_fp16", UNIT_CONFIG, tmp_path / "c", stages=0,
                         quiet=True)["latency"] == 0


@pytest.mark.parametrize("name, stages", [("fp_add", MAX_STAGES + 1), ("fp_mul", -1),
                                          ("scalar", 1), ("cluster", 0)])
def test_unit_refuses_stages_it_cannot_take(tmp_path, name, stages):
    with pytest.raises(ConfigError, match=rf"^--stages={stages} .*0 to {MAX_STAGES}"):
        generate_unit(name, UNIT_CONFIG, tmp_path / "out", stages=stages, quiet=True)
    assert not (tmp_path / "out").exists()


def test_cli_unit_with_lint_and_its_errors(tmp_path, capsys):
    out = tmp_path / "cluster"
    assert cli.main(["generate", "--unit", "cluster", "--grid", "2x2", "--buffer-depth", "32",
                     "--out", str(out), "--lint"]) == 0
    manifest = json.loads((out / MANIFEST).read_text())
    assert manifest["top"] == "dcom_cluster" and manifest["config"]["grid_rows"] == 2
    assert sorted(manifest["lint_clean"]) == sorted(m["module"] for m in manifest["modules"])
    assert "| `fill__data` | input | 64 |" in (out / "cluster.md").read_text()
    capsys.readouterr()
    for argv, message in (
            (["--unit", "fp_div"], "--unit='fp_div' is not allowed; allowed values: "
                                   + ", ".join(UNITS)),
            (["--unit", "scalar", "--stages", "2"], "--stages=2 is not allowed"),
            (["--stages", "2"], "--stages=2 is not allowed; allowed values: a stage count "
                                "only with --unit")):
        with pytest.raises(SystemExit) as exit_info:
            cli.main(["generate", *argv, "--out", str(tmp_path / "refused")])
        assert exit_info.value.code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "refused").exists()


# ---- the output folder -------------------------------------------------------------------

def test_regenerating_replaces_the_folder_whole(tmp_path):
    out = tmp_path / "rtl"
    first = generate(TINY, out, quiet=True)
    old = {m["file"] for m in first["modules"]}
    # FP16 accumulation needs no converters and other modules: none of the old ones may stay.
    second = generate(TINY.replace(acc_format="fp16"), out, quiet=True)
    new = {m["file"] for m in second["modules"]}
    assert old - new and {p.name for p in out.glob("*.v")} == new
    assert json.loads((out / MANIFEST).read_text())["config"]["acc_format"] == "fp16"
    # Nothing is left beside it but the lock.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rtl", "rtl.lock"]


def test_a_folder_of_other_files_is_refused_and_left_alone(tmp_path, capsys):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.v").write_text("module mine; endmodule\n")
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["generate", "--unit", "fp_add", "--out", str(mine)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert f"--out='{mine}' is not allowed" in err and "manifest.json" in err
    assert [p.name for p in mine.iterdir()] == ["notes.v"]
    assert (mine / "notes.v").read_text() == "module mine; endmodule\n"
    # A manifest not written by dcom does not make it an output either.
    (mine / MANIFEST).write_text('{"generator": "someone else"}')
    with pytest.raises(ConfigError, match="--out"):
        generate_unit("fp_add", UNIT_CONFIG, mine, quiet=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine"]


def test_concurrent_runs_into_one_folder_wait_for_the_lock(tmp_path):
    out = tmp_path / "unit"
    done = threading.Event()
    with open(tmp_path / "unit.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        thread = threading.Thread(target=lambda: (
            generate_unit("fp_add", UNIT_CONFIG, out, quiet=True), done.set()))
        thread.start()
        # The run converts and writes beside the folder, then waits to swap it in.
        deadline = time.monotonic() + 60
        while not list(tmp_path.glob(".unit.*.new/manifest.json")):
            assert time.monotonic() < deadline and not done.is_set()
            time.sleep(0.05)
        time.sleep(0.5)
        assert not out.exists() and not done.is_set()
        fcntl.flock(lock, fcntl.LOCK_UN)
        thread.join(60)
    assert done.is_set() and (out / "fp_add.md").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["unit", "unit.lock"]


# ---- size estimate, progress, Ctrl-C -----------------------------------------------------

def test_estimate_grows_with_the_tiles_and_matches_the_measured_16x16():
    default = estimate(DcomConfig())
    assert default.tiles == 256
    # Measured: 1,200 MiB peak, 60,428 lines of top module at 16 x 16 clusters of 8 x 8.
    assert 0.9 < default.peak_bytes / (1200 * 2**20) < 1.1
    assert 0.9 < default.top_lines / 60_428 < 1.2
    big = estimate(DcomConfig(cluster_rows=64, cluster_cols=64))
    assert big.peak_bytes > 12 * 2**30 > default.peak_bytes
    assert estimate(DcomConfig(grid_rows=4, grid_cols=4)).peak_bytes < default.peak_bytes
    assert 0 < generate_module.available_memory()


def test_generate_refuses_what_exceeds_the_available_memory(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(generate_module, "available_memory", lambda: 2**20)
    argv = ["generate", "--clusters", "1x1", "--grid", "1x2", "--buffer-depth", "16",
            "--out", str(tmp_path / "rtl")]
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "--clusters='1x1' is not allowed" in err and "GiB (estimated)" in err
    assert "0.0 GiB are available" in err and "--force" in err
    assert not (tmp_path / "rtl").exists()
    # --force converts anyway, and the conversion of the top module reports its phases.
    assert cli.main([*argv, "--force"]) == 0
    out, err = capsys.readouterr()
    assert "estimate: 1 tiles: top module" in out and "wrote" in out
    assert "module dcom_top: elaborating" in err
    assert "module dcom_top: elaborated in" in err and "building its netlist" in err


def test_long_conversions_report_while_they_run():
    lines = []
    library = ModuleLibrary(progress=lines.append, heartbeat=0.01)
    library.register("dcom_scalar", ScalarUnit())
    assert lines[0] == "module dcom_scalar: elaborating"
    assert any(re.fullmatch(r"module dcom_scalar: converting: \d+ s.*", line) for line in lines)
    # The two phases give exactly what verilog.convert gives.
    assert library.text("dcom_scalar") == verilog.convert(ScalarUnit(), name="dcom_scalar",
                                                         emit_src=False)


def test_ctrl_c_exits_with_130_and_one_line(tmp_path, capsys, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_synth", interrupted)
    assert cli.main(["synth", "--out", str(tmp_path / "synth")]) == 130
    assert capsys.readouterr().err == "dcom synth: interrupted\n"
    # Interrupted while writing, generate leaves the earlier output as it was and no scratch.
    out = tmp_path / "unit"
    generate_unit("fp_add", UNIT_CONFIG, out, quiet=True)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    monkeypatch.setattr(generate_module, "lint", interrupted)
    assert cli.main(["generate", "--unit", "scalar", "--lint", "--out", str(out)]) == 130
    assert capsys.readouterr().err.splitlines()[-1] == "dcom generate: interrupted"
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["unit", "unit.lock"]


# ---- ModuleLibrary -------------------------------------------------------------------------

def test_module_library_refuses_one_name_for_two_designs():
    library = ModuleLibrary()
    assert library.register("dcom_adder", FPAdder("fp32", 2)) is True
    # The same design again is the same module, converted once.
    assert library.register("dcom_adder", FPAdder("fp32", 2)) is True
    assert library.names == ["dcom_adder"]
    with pytest.raises(ModuleConflictError, match=r"module dcom_adder .*_stages 2 before, 3 now"):
        library.register("dcom_adder", FPAdder("fp32", 3))
    with pytest.raises(ModuleConflictError, match=r"module dcom_adder .*class"):
        library.register("dcom_adder", FPMultiplier("fp32", 2))
    with pytest.raises(ModuleConflictError, match="module dcom_adder .*ports differ"):
        library.register("dcom_adder", FPAdder("fp16", 2))
    library.register_verilog("dcom_memory", "module dcom_memory(clk);\n  input clk;\nendmodule\n")
    with pytest.raises(ModuleConflictError, match="module dcom_memory .*Verilog text differs"):
        library.register_verilog("dcom_memory", "module dcom_memory(clk);\nendmodule\n")
    assert library.names == ["dcom_adder", "dcom_memory"]
