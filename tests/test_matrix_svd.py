"""``dcom decompose``: a user's matrix on each engine, the report, and refused input."""

import json
import os

import numpy as np
import pytest

from dcom.cli import main
from dcom.config import DcomConfig
from dcom.isa import ResultIndex, Status
from dcom.matrix_svd import (ConvergenceWarning, decompose, load_matrix, parse_engines, svds,
                             write_decomposition)
from dcom.sw.compiler import compile_lanczos
from dcom.sw.convergence import extended_run
from dcom.sw.cycles import program_cycles
from dcom.sw.fparith import round_to
from dcom.sw.validation import InputError
from dcom.tb.top import LANCZOS_CASES

CONFIG = DcomConfig(cluster_rows=2, cluster_cols=2, grid_rows=4, grid_cols=4, expansion=4)


def flat_matrix(rows, cols, seed=1):
    """An activation-like matrix: a flat spectrum (sigma_i = i^-0.15), FP16 values."""
    values = np.arange(1, min(rows, cols) + 1) ** -0.15
    return round_to(spectrum_matrix(rows, cols, 30 * values / np.linalg.norm(values), seed),
                    "fp16").astype(np.float64)


def spectrum_matrix(rows, cols, values, seed=0):
    """A matrix with the given leading singular values and random singular vectors."""
    rng = np.random.default_rng(seed)
    r = len(values)
    left = np.linalg.qr(rng.standard_normal((rows, r)))[0]
    right = np.linalg.qr(rng.standard_normal((cols, r)))[0]
    return (left * values) @ right.T


def test_engines_agree_and_match_lapack():
    a = spectrum_matrix(70, 40, np.geomspace(20, 0.5, 12))
    result = decompose(a, 4, ncv=12, maxiter=1, engines="float64,golden,isa", config=CONFIG)
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
    # The modelled cycles are those of the programs the ISA simulator ran.
    _, _, programs = extended_run("isa", np.ldexp(a, isa.scale_exponent), result.settings,
                                  config=CONFIG, threshold=isa.threshold)
    assert result.cycles == sum(program_cycles(CONFIG, program, stop=stop).total
                                for program, stop in programs)


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
    steps = written["engines"]["isa"]["steps"]
    assert written["comparisons"][0]["U_basis"] == {"differing": 0, "words": 50 * steps}
    assert written["engines"]["isa"]["converged"] and not written["engines"]["isa"]["warnings"]
    with np.load(tmp_path / "factors-isa.npz") as factors:
        assert factors["U"].shape == (50, 3) and factors["Vt"].shape == (3, 30)
        np.testing.assert_array_equal(factors["s"], data["engines"]["isa"]["singular_values"])
    markdown = (tmp_path / "decompose.md").read_text()
    assert "Engines compared word for word" in markdown and "Convergence" in markdown


def test_breakdown_is_located_for_the_cycle_model():
    """A rank-3 matrix stops at a NORM: the stop the golden run implies is the ISA
    simulator's, so the modelled cycles stop there too."""
    rng = np.random.default_rng(2)
    a = rng.integers(-3, 4, (40, 3)) @ rng.integers(-3, 4, (3, 30)) / 16
    result = decompose(a, 3, ncv=6, maxiter=1, engines="golden,isa", config=CONFIG)
    golden, isa = result.runs
    assert golden.info.breakdown is not None and len(golden.s) == 3
    assert golden.convergence.converged and np.array_equal(golden.s, isa.s)
    compiled = compile_lanczos(CONFIG, 40, 30, 6)
    stop = compiled.breakdown_stop(golden.info)
    step = golden.info.breakdown_step
    assert stop[0] == Status.BREAKDOWN and compiled.program[stop[1]].m == (
        ResultIndex.alpha(step) if golden.info.breakdown == "alpha" else ResultIndex.beta(step - 1))
    _, _, programs = extended_run("isa", np.ldexp(a, isa.scale_exponent), result.settings,
                                  config=CONFIG, threshold=isa.threshold)
    assert programs[0][1] is not None and programs[0][1][0] == Status.BREAKDOWN
    assert result.cycles == sum(program_cycles(CONFIG, program, stop=stop).total
                                for program, stop in programs)


def test_flat_spectrum_converges_by_default():
    """Activation-like spectrum (sigma_r / sigma_{r+1} about 1.02): k = 2r leaves the last
    triplets percents off; the default converged run is within 1e-3 on every engine."""
    a = flat_matrix(96, 80)
    exact = np.linalg.svd(a, compute_uv=False)
    fixed = decompose(a, 10, ncv=20, maxiter=1, engines="float64", config=CONFIG)
    assert not fixed.runs[0].convergence.converged
    assert fixed.singular_value_errors(fixed.runs[0]).max() * exact[0] / exact[9] > 1e-2
    result = decompose(a, 10, engines="float64,golden,isa", config=CONFIG)
    for run in result.runs:
        assert run.convergence.converged and run.convergence.runs > 1
        assert np.max(np.abs(run.s - exact[:10]) / exact[:10]) < 1e-3
        assert run.warnings(10, result.settings.tol) == []
    assert np.array_equal(result.runs[1].s, result.runs[2].s)


def test_tiny_and_huge_matrices_on_the_hardware_engines():
    """The hardware engines run on 2^e A: a matrix scaled by 1e-4 or 1e4 gives the same
    triplets (scaled), where an absolute threshold or FP16's range would lose them."""
    a = spectrum_matrix(48, 40, np.geomspace(8, 1, 12), seed=5)
    base = decompose(a, 4, engines="golden", config=CONFIG).runs[0]
    for factor in (1e-4, 1e4):
        run = decompose(a * factor, 4, engines="golden", config=CONFIG).runs[0]
        assert len(run.s) == 4 and run.convergence.converged
        np.testing.assert_allclose(run.s / factor, base.s, rtol=2e-3)


def test_svds_warns_and_checks_its_arguments():
    a = flat_matrix(96, 80)
    with pytest.warns(ConvergenceWarning, match="not converged"):
        U, s, Vt = svds(a, k=10, ncv=12, maxiter=1, engine="golden", config=CONFIG)
    assert U.shape == (96, 10) and s.shape == (10,) and Vt.shape == (10, 80)
    rng = np.random.default_rng(2)
    low = rng.integers(-3, 4, (40, 3)) @ rng.integers(-3, 4, (3, 30)) / 16
    with pytest.warns(ConvergenceWarning, match="3 of 5 triplets"):
        assert len(svds(low, k=5, engine="float64")[1]) == 3
    v0 = np.random.default_rng(0).standard_normal(80)
    same = svds(a, k=3, v0=v0, engine="golden", config=CONFIG, return_run=True)[3]
    seeded = svds(a, k=3, engine="golden", config=CONFIG, return_run=True)[3]
    assert np.array_equal(same.info.alphas, seeded.info.alphas)
    for kwargs, name in [(dict(v0=np.ones(3)), "v0"), (dict(v0=np.zeros(80)), "v0"),
                         (dict(tol=-1.0), "tol"), (dict(ncv=2), "ncv"), (dict(maxiter=0), "maxiter"),
                         (dict(breakdown_tol=0.0), "breakdown_tol"), (dict(engine="gpu"), "engine")]:
        with pytest.raises(InputError, match=name):
            svds(a, k=3, **{"engine": "golden", **kwargs})


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
        decompose(np.full((8, 8), 1e5), 2, config=CONFIG, scale=False)


def test_cli(tmp_path, capsys):
    path = tmp_path / "a.npy"
    np.save(path, spectrum_matrix(40, 24, np.geomspace(6, 1, 8), seed=3))
    out = tmp_path / "out"
    assert main(["decompose", str(path), "--rank", "3", "--engine", "golden,isa",
                 "--clusters", "2x2", "--grid", "4x4", "--expansion", "4",
                 "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "golden vs isa: identical, word for word" in printed
    assert "(converged)" in printed
    assert main(["decompose", str(path), "--rank", "6", "--ncv", "6", "--maxiter", "1",
                 "--tol", "1e-9", "--engine", "float64", "--out", str(out)]) == 0
    assert "warning: float64: not converged" in capsys.readouterr().err
    # Strict JSON: no NaN or Infinity.
    json.loads((out / "decompose.json").read_text(),
               parse_constant=lambda name: pytest.fail(f"{name} in the report"))
    np.save(tmp_path / "short.npy", np.ones(5))
    for argv, message in [
        (["--rank", "3", "--engine", "gpu"], "engine"),
        (["--rank", "30"], "k"),
        (["--rank", "3", "--breakdown-tol", "0"], "breakdown_tol"),
        (["--rank", "3", "--tol", "-1"], "tol"),
        (["--rank", "3", "--maxiter", "0"], "maxiter"),
        (["--rank", "3", "--v0", str(tmp_path / "short.npy")], "v0"),
        (["--rank", "3", "--v0", str(path)], "--v0"),
    ]:
        with pytest.raises(SystemExit) as exit_info:
            main(["decompose", str(path), *argv, "--out", str(out)])
        assert exit_info.value.code == 2
        assert message in capsys.readouterr().err


def test_build_options_are_passed_to_the_build(tmp_path, monkeypatch):
    # A copy of the environment, so that what main sets does not leak into later tests.
    monkeypatch.setattr(os, "environ", {k: v for k, v in os.environ.items()
                                        if k not in ("DCOM_VERILATOR_CFLAGS", "DCOM_BUILD_JOBS")})
    path = tmp_path / "a.npy"
    np.save(path, spectrum_matrix(20, 12, np.geomspace(4, 1, 4)))
    argv = ["decompose", str(path), "--rank", "2", "--clusters", "2x2", "--grid", "4x4",
            "--expansion", "4", "--out", str(tmp_path / "out")]
    assert main([*argv, "--verilator-opt", "2", "--build-jobs", "3"]) == 0
    assert os.environ["DCOM_VERILATOR_CFLAGS"] == "-O2"
    assert os.environ["DCOM_BUILD_JOBS"] == "3"
    with pytest.raises(SystemExit) as exit_info:
        main([*argv, "--build-jobs", "0"])
    assert exit_info.value.code == 2


@pytest.mark.cocotb
def test_rtl_engine_matches_the_isa_simulator(sim, tmp_path):
    """A user's matrix on the RTL, extended twice: every word as on the ISA simulator, the
    RTL's cycle counters (summed over the resumed programs) equal to the model's (the build is
    the Lanczos regression's)."""
    config, case = LANCZOS_CASES["2x2-2x2-f2-wide"]
    a = spectrum_matrix(case["rows"], case["cols"], np.geomspace(5, 1, 8), seed=4)
    result = decompose(a, 2, ncv=3, tol=1e-9, maxiter=3, engines=["isa", sim], config=config)
    data = write_decomposition(result, tmp_path)
    assert data["comparisons"][0]["identical"], data["comparisons"]
    assert data["engines"][sim]["runs"] == data["engines"]["isa"]["runs"] > 1
    assert data["engines"][sim]["rtl_cycles"] == result.cycles
