"""Extended Lanczos runs: resuming, Ritz residual bounds, the convergence loop, and the
hardware program resumed segment by segment."""

import numpy as np
import pytest

from dcom.config import DcomConfig
from dcom.sw import CompileError, hw_lanczos_bidiag, isa_lanczos
from dcom.sw.compiler import compile_lanczos
from dcom.sw.convergence import (ConvergenceSettings, extended_run, extension_plan,
                                 fitting_capacity, run_programs)
from dcom.sw.fparith import round_to
from dcom.sw.hwlanczos import breakdown_threshold, hardware_scale
from dcom.sw.lanczos import (LanczosInfo, float64_run, ritz_residuals, singular_triplets,
                             start_values)
from dcom.sw.validation import InputError

CONFIG = DcomConfig(cluster_rows=2, cluster_cols=2, grid_rows=4, grid_cols=4, expansion=4)


def flat(rows=60, cols=44, seed=3):
    rng = np.random.default_rng(seed)
    left = np.linalg.qr(rng.standard_normal((rows, cols)))[0]
    right = np.linalg.qr(rng.standard_normal((cols, cols)))[0]
    values = np.arange(1, cols + 1) ** -0.2
    return round_to((left * (20 * values)) @ right.T, "fp16").astype(np.float64)


def test_extending_equals_one_run():
    """extend(7) then extend(15) computes exactly what extend(15) does, and the residual half
    step's beta is the next run's beta."""
    a = flat()
    start = start_values(a.shape[1], 0)
    whole = float64_run(a, 15, 1e-12, start).extend(15)
    run = float64_run(a, 15, 1e-12, start, v_capacity=16)
    first = run.extend(7, residual=True)
    assert first.rank == 7 and len(first.betas) == 6 and first.V_basis.shape[1] == 7
    assert first.residual_beta == whole.betas[6]
    resumed = run.extend(15)
    for part in ("alphas", "betas", "U_basis", "V_basis"):
        np.testing.assert_array_equal(getattr(resumed, part), getattr(whole, part))


def test_ritz_residual_bounds_are_the_true_residuals():
    a = flat()
    info = float64_run(a, 12, 1e-12, start_values(a.shape[1], 0), v_capacity=13).extend(
        12, residual=True)
    U, s, Vt = singular_triplets(info, 5)
    true = np.linalg.norm(a.T @ U - Vt.T * s, axis=0)
    np.testing.assert_allclose(ritz_residuals(info, 5), true, rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(a @ Vt.T, U * s, atol=1e-10)       # the other side is exact
    with pytest.raises(InputError, match="residual"):
        ritz_residuals(float64_run(a, 4, 1e-12, start_values(44, 0)).extend(4), 2)


def test_breakdown_means_converged():
    rng = np.random.default_rng(1)
    low = rng.standard_normal((30, 3)) @ rng.standard_normal((3, 20))
    info = float64_run(low, 10, 1e-10 * np.linalg.norm(low), start_values(20, 0),
                       v_capacity=11).extend(10, residual=True)
    assert info.breakdown is not None and info.rank == 3
    np.testing.assert_array_equal(ritz_residuals(info, 3), 0.0)


def test_plan_extends_until_converged_or_out_of_steps():
    a = flat()
    settings = ConvergenceSettings.check(a.shape, 6, ncv=8, tol=1e-8, maxiter=10)
    info, convergence, _ = extended_run("float64", a, settings, threshold=1e-12)
    steps = [h[0] for h in convergence.history]
    assert steps == [8, 18, 28][:len(steps)] and convergence.converged
    assert convergence.relative_residuals.max() <= 1e-8 < convergence.history[0][1]
    assert info.rank == convergence.steps == steps[-1]
    # tol = 0: runs until maxiter; maxiter = 1: the first run only.
    never = ConvergenceSettings.check(a.shape, 6, ncv=8, tol=0.0, maxiter=3)
    assert extended_run("float64", a, never, threshold=1e-12)[1].history[-1][0] == 28
    once = ConvergenceSettings.check(a.shape, 6, ncv=8, tol=0.0, maxiter=1)
    assert not extended_run("float64", a, once, threshold=1e-12)[1].converged
    # At min(M, N) steps V spans R^N: exact, so converged even at tol = 0.
    full = ConvergenceSettings.check(a.shape, 6, ncv=44, tol=0.0)
    assert extended_run("float64", a, full, threshold=1e-12)[1].converged


def test_settings_are_checked():
    assert ConvergenceSettings.check((100, 80), 10).ncv == 21
    assert ConvergenceSettings.check((100, 80), 10, maxiter=3).max_steps == 41
    assert ConvergenceSettings.check((30, 12), 2).ncv == 12
    for kwargs, name in [(dict(rank=0), "k"), (dict(rank=3, ncv=2), "ncv"),
                         (dict(rank=3, tol=float("nan")), "tol"),
                         (dict(rank=3, maxiter=0), "maxiter")]:
        with pytest.raises(InputError, match=name):
            ConvergenceSettings.check((30, 12), **kwargs)
    plan = extension_plan(ConvergenceSettings.check((30, 12), 2, ncv=4))
    assert next(plan) == 4


def test_hardware_runs_resume_word_for_word():
    """The golden model extended and the ISA simulator running program segments agree bit for
    bit, and with one golden run of the final length."""
    a = flat()
    settings = ConvergenceSettings.check(a.shape, 6, ncv=8, tol=1e-6)
    golden, g_conv, _ = extended_run("golden", a, settings, config=CONFIG, threshold=1e-3)
    isa, i_conv, programs = extended_run("isa", a, settings, config=CONFIG, threshold=1e-3)
    assert g_conv.history == i_conv.history and g_conv.runs > 1
    whole = hw_lanczos_bidiag(a, 6, g_conv.steps, config=CONFIG, return_info=True)[3]
    for part in ("alphas", "betas", "U_basis", "V_basis"):
        for other in (isa, whole):
            assert getattr(golden, part).tobytes() == getattr(other, part).tobytes(), part
    assert np.float32(golden.residual_beta) == np.float32(isa.residual_beta)
    # The cycle model's list of programs is what the simulator ran.
    compiled = fitting_capacity(CONFIG, *a.shape, settings)
    modelled = run_programs(compiled, i_conv, isa)
    assert [(p, s) for p, s in modelled] == programs


def test_segments_of_a_plain_program():
    """Segments 0..3 (with residual) and 3..6 run what the 6-step program runs."""
    a = flat(40, 30)
    compiled = compile_lanczos(CONFIG, 40, 30, 3, max_steps=6)
    assert compiled.v_capacity == 7
    whole = isa_lanczos(a, 3, 6, config=CONFIG, return_info=True)[3]
    settings = ConvergenceSettings(rank=3, ncv=3, tol=0.0, maxiter=2, max_steps=6)
    info = extended_run("isa", a, settings, config=CONFIG, threshold=1e-3)[0]
    assert info.alphas.tobytes() == whole.alphas.tobytes()
    assert info.U_basis.tobytes() == whole.U_basis.tobytes()
    plain = compile_lanczos(CONFIG, 40, 30, 3)
    with pytest.raises(InputError, match="residual"):
        plain.segment(0, 3, True)
    with pytest.raises(InputError, match="last"):
        plain.segment(0, 4, False)


def test_capacity_is_the_most_that_fits():
    config = DcomConfig(cluster_rows=1, cluster_cols=1, grid_rows=4, grid_cols=4, expansion=1,
                        broadcast_depth=41)
    settings = ConvergenceSettings.check((64, 48), 4, ncv=8, maxiter=10)
    compiled = fitting_capacity(config, 64, 48, settings)
    assert compiled.max_steps == 20                 # 2 * 20 + 1 norms fill 41 words
    with pytest.raises(CompileError, match="broadcast_depth"):
        compile_lanczos(config, 64, 48, 8, max_steps=21)
    with pytest.raises(CompileError, match="broadcast_depth"):
        fitting_capacity(config, 64, 48, ConvergenceSettings.check((64, 48), 4, ncv=21))


def test_scaling_and_relative_threshold():
    a = flat()
    for factor in (2.0 ** -20, 1.0, 3e4):
        e = hardware_scale(a * factor)
        assert 64 <= np.linalg.norm(np.ldexp(a * factor, e)) < 128
    assert hardware_scale(np.zeros((3, 3))) == 0
    assert breakdown_threshold(np.ones((4, 4))) == pytest.approx(4e-3)
    assert breakdown_threshold(np.full((4, 4), 1e-6)) == 2.0 ** -15


def test_info_without_residual_keeps_its_meaning():
    info = LanczosInfo(np.array([2.0, 1.0]), np.array([0.5]), 2, None, None,
                       np.eye(3, 2), np.eye(3, 2))
    assert info.residual_beta is None
    np.testing.assert_array_equal(info.bidiagonal, [[2.0, 0.5], [0.0, 1.0]])
