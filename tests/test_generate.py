"""``dcom generate``: files, manifest, hierarchy, and a clean Verilator lint."""

import hashlib
import json
import re
import subprocess

import pytest

from dcom.config import DcomConfig
from dcom.hw.generate import LINT_FILE, TOP_MODULE, LintError, generate, lint
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
