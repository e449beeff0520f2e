"""``dcom decompose``: a user's matrix on each engine, the report, and refused input."""

import json
import os

import numpy as np
import pytest

from dcom.cli import main
from dcom.config import DcomConfig
from dcom.isa import Status
from dcom.matrix_svd import decompose, load_matrix, parse_engines, write_decomposition
from dcom.sw.compiler import compile_lanczos
from dcom.sw.cycles import program_cycles
from dcom.sw.validation import InputError
from dcom.tb.top import LANCZOS_CASES

CONFIG = DcomConfig(cluster_rows=2, cluster_cols=2, grid_rows=4, grid_cols=4, expansion=4)


def spectrum_matrix(rows, cols, values, seed=0):
    """A matrix with the given leading singular values and random singular vectors."""
    rng = np.random.default_rng(seed)
    r = len(values)
    left = np.linalg.qr(rng.standard_normal((rows, r)))[0]
    right = np.linalg.qr(rng.standard_normal((cols, r)))[0]
    return (left * values) @ right.T


def test_engines_agree_and_match_lapack():
    a = spectrum_matrix(70, 40, np.geomspace(20, 0.5, 12))
    result = decompose(a, 4, k=12, engines="float64,golden,isa", config=CONFIG)
    assert [run.engine for run in result.runs] == ["float64", "golden", "isa"]
    exact = np.linalg.svd(a, compute_uv=False)
    for run in result.runs:
        assert len(run.s) == 4
        # FP16 bases on the hardware engines (docs/accuracy.md): 5e-3 of sigma_1.
        assert np.max(np.abs(run.s - exact[:4])) / exact[0] < 5e-3
        assert result.reconstruction_error(run) >= result.optimal_error - 1e-12
        assert result.reconstruction_error(run) < result.optimal_error + 1e-2
    golden, isa = result.runs[1:]
    assert np.array_equal(golden.s, isa.s)
    program = compile_lanczos(CONFIG, 70, 40, 12).program
    assert result.cycles == program_cycles(CONFIG, program).total


def test_report_files_and_comparison(tmp_path):
    a = spectrum_matrix(50, 30, np.geomspace(8, 1, 10), seed=1)
    data = write_decomposition(decompose(a, 3, engines=["golden", "isa"], config=CONFIG),
                               tmp_path, source="spectrum")
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "decompose-singular-values.png", "decompose.json", "decompose.md",
        "factors-golden.npz", "factors-isa.npz"]
    written = json.loads((tmp_path / "decompose.json").read_text())
    assert written["comparisons"][0]["engines"] == ["golden", "isa"]
    assert written["comparisons"][0]["identical"]
    assert written["comparisons"][0]["U_basis"] == {"differing": 0, "words": 50 * 6}
    with np.load(tmp_path / "factors-isa.npz") as factors:
        assert factors["U"].shape == (50, 3) and factors["Vt"].shape == (3, 30)
        np.testing.assert_array_equal(factors["s"], data["engines"]["isa"]["singular_values"])
    assert "Engines compared word for word" in (tmp_path / "decompose.md").read_text()


def test_breakdown_is_located_for_the_cycle_model():
    """A rank-3 matrix stops at a NORM: the stop the golden run implies is the ISA
    simulator's, so the modelled cycles stop there too."""
    rng = np.random.default_rng(2)
    a = rng.integers(-3, 4, (40, 3)) @ rng.integers(-3, 4, (3, 30)) / 16
    result = decompose(a, 3, k=6, engines="golden", config=CONFIG)
    (run,) = result.runs
    assert run.info.breakdown is not None and len(run.s) == 3
    compiled = compile_lanczos(CONFIG, 40, 30, 6)
    stop = compiled.breakdown_stop(run.info)
    assert stop[0] == Status.BREAKDOWN and compiled.program[stop[1]].m == 2 * run.info.breakdown_step + (
        1 if run.info.breakdown == "alpha" else 2)
    assert result.cycles == program_cycles(CONFIG, compiled.program, stop=stop).total
    assert result.cycles < program_cycles(CONFIG, compiled.program).total


def test_load_matrix_formats(tmp_path):
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    np.save(tmp_path / "a.npy", a)
    np.savez(tmp_path / "one.npz", x=a)
    np.savez(tmp_path / "named.npz", A=a, other=a[:1])
    np.savetxt(tmp_path / "a.csv", a, delimiter=",")
    for name in ("a.npy", "one.npz", "named.npz", "a.csv"):
        np.testing.assert_array_equal(load_matrix(tmp_path / name), a)
    np.save(tmp_path / "ints.npy", np.arange(6).reshape(2, 3))
    assert load_matrix(tmp_path / "ints.npy").dtype == np.float64


@pytest.mark.parametrize("make, message", [
    (lambda d: d / "missing.npy", "is not a file"),
    (lambda d: (d / "a.txt").write_text("1,2") and d / "a.txt", "suffix"),
    (lambda d: np.savez(d / "two.npz", x=np.ones((2, 2)), y=np.ones(2)) or d / "two.npz",
     "holds arrays"),
    (lambda d: np.save(d / "vector.npy", np.ones(4)) or d / "vector.npy", "dimensions"),
    (lambda d: np.save(d / "nan.npy", np.array([[1.0, np.nan]])) or d / "nan.npy", "NaN"),
    (lambda d: np.save(d / "obj.npy", np.array([[1, "x"]], dtype=object), allow_pickle=True)
     or d / "obj.npy", "cannot be read"),
    (lambda d: (d / "bad.csv").write_text("1,2\n3,x\n") and d / "bad.csv", "cannot be read"),
    (lambda d: (d / "dir.npy").mkdir() or d / "dir.npy", "is not a file"),
])
def test_load_matrix_refuses(tmp_path, make, message):
    with pytest.raises(InputError, match=message):
        load_matrix(make(tmp_path))


def test_engine_names_are_checked():
    assert parse_engines("isa, golden,isa") == ("isa", "golden")
    for bad in ("", "gpu", "isa,,golden"):
        with pytest.raises(InputError, match="engine"):
            parse_engines(bad)
    with pytest.raises(InputError, match="65504"):
        decompose(np.full((8, 8), 1e5), 2, config=CONFIG)


def test_cli(tmp_path, capsys):
    path = tmp_path / "a.npy"
    np.save(path, spectrum_matrix(40, 24, np.geomspace(6, 1, 8), seed=3))
    out = tmp_path / "out"
    assert main(["decompose", str(path), "--rank", "3", "--engine", "golden,isa",
                 "--clusters", "2x2", "--grid", "4x4", "--expansion", "4",
                 "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "golden vs isa: identical, word for word" in printed
    # Strict JSON: no NaN or Infinity.
    json.loads((out / "decompose.json").read_text(),
               parse_constant=lambda name: pytest.fail(f"{name} in the report"))
    for argv, message in [
        (["--rank", "3", "--engine", "gpu"], "engine"),
        (["--rank", "30"], "rank"),
        (["--rank", "3", "--breakdown-tol", "0"], "breakdown_tol"),
    ]:
        with pytest.raises(SystemExit) as exit_info:
            main(["decompose", str(path), *argv, "--out", str(out)])
        assert exit_info.value.code == 2
        assert message in capsys.readouterr().err


def test_verilator_optimization_level_is_passed_to_the_build(tmp_path, monkeypatch):
    monkeypatch.delenv("DCOM_VERILATOR_CFLAGS", raising=False)
    path = tmp_path / "a.npy"
    np.save(path, spectrum_matrix(20, 12, np.geomspace(4, 1, 4)))
    assert main(["decompose", str(path), "--rank", "2", "--verilator-opt", "2",
                 "--clusters", "2x2", "--grid", "4x4", "--expansion", "4",
                 "--out", str(tmp_path / "out")]) == 0
    assert os.environ["DCOM_VERILATOR_CFLAGS"] == "-O2"


@pytest.mark.cocotb
def test_rtl_engine_matches_the_isa_simulator(sim, tmp_path):
    """A user's matrix on the RTL: every word as on the ISA simulator, the RTL's cycle counter
    equal to the model's (the build is the Lanczos regression's)."""
    config, case = LANCZOS_CASES["2x2-2x2-f2-wide"]
    a = spectrum_matrix(case["rows"], case["cols"], np.geomspace(5, 1, 5), seed=4)
    result = decompose(a, 2, k=case["steps"], engines=["isa", sim], config=config)
    data = write_decomposition(result, tmp_path)
    assert data["comparisons"][0]["identical"], data["comparisons"]
    assert data["engines"][sim]["rtl_cycles"] == result.cycles
