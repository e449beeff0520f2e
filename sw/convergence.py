"""Lanczos runs extended until the top singular triplets converge.

A run of ``ncv`` steps is checked with the Ritz residual bounds of its bidiagonal
(:func:`dcom.sw.lanczos.ritz_residuals`, computed on the host from the alphas and betas); while
the top ``k`` are not within ``tol``, the same run is extended by ``max(k, 10)`` steps (the
hardware program resumes where it stopped: nothing is recomputed), up to ``maxiter`` runs or
the steps the memories hold. :func:`extension_plan` is that loop's logic, written once as a
generator so that the synchronous engines (:func:`extended_run`: float64, the golden model, the
ISA simulator) and the cocotb bench of the RTL (:mod:`dcom.tb.decompose`) drive it alike.

Convergence test, for ``i < k``: ``residual_i <= tol * s_i``, the relative accuracy SciPy's
``svds`` asks of ARPACK. The singular-value error is at most the residual, and about
``residual**2 / gap`` once the triplet is separated from the rest of the spectrum.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import partial
from typing import Callable, Generator

import numpy as np

from dcom.config import DcomConfig
from dcom.isa import Status
from dcom.sw.compiler import CompileError, CompiledLanczos, compile_lanczos
from dcom.sw.hwkernels import TiledMatrix
from dcom.sw.hwlanczos import MIN_BREAKDOWN_TOL, hardware_run, start_vector
from dcom.sw.isasim import IsaSimulator
from dcom.sw.lanczos import LanczosInfo, float64_run, ritz_residuals, start_values
from dcom.sw.validation import InputError, check_float, check_int

__all__ = ["Convergence", "ConvergenceSettings", "ConvergenceWarning", "extension_plan", "extended_run",
           "fitting_capacity", "run_programs", "DEFAULT_TOL", "DEFAULT_MAXITER", "MIN_EXTENSION"]

DEFAULT_TOL = 1e-3
"""Default relative residual ``tol``."""
DEFAULT_MAXITER = 10
"""Default number of runs (the first and its extensions)."""
MIN_EXTENSION = 10
"""Steps an extension adds at least (it adds ``max(k, MIN_EXTENSION)``)."""


class ConvergenceWarning(UserWarning):
    """Fewer triplets than asked for (a breakdown), or triplets that did not reach ``tol``."""


@dataclass(frozen=True)
class ConvergenceSettings:
    """The checked arguments of a converged run.

    Attributes
    ----------
    rank : int
        ``k``: triplets that must converge.
    ncv : int
        Steps of the first run.
    tol : float
        Relative residual tolerance (0: run to ``maxiter`` or ``max_steps``).
    maxiter : int
        Runs at most (the first and its extensions).
    max_steps : int
        Steps at most (the memories' capacity, or ``min(M, N)``).
    """

    rank: int
    ncv: int
    tol: float
    maxiter: int
    max_steps: int

    @classmethod
    def check(cls, shape: tuple[int, int], rank, ncv=None, tol=DEFAULT_TOL, maxiter=None,
              max_steps: int | None = None) -> "ConvergenceSettings":
        """Validate SciPy-style arguments for an ``M x N`` matrix.

        ``ncv`` defaults to ARPACK's ``min(min(M, N), max(2 k + 1, 20))``, ``maxiter`` to
        :data:`DEFAULT_MAXITER`; ``max_steps`` (default the most ``maxiter`` runs take, at most
        ``min(M, N)``) caps the steps further.

        Raises
        ------
        InputError
            Naming the argument and its allowed values.
        """
        limit = min(shape)
        rank = check_int(rank, "k", 1, limit)
        ncv = min(limit, max(2 * rank + 1, 20)) if ncv is None else ncv
        ncv = check_int(ncv, "ncv", rank, limit)
        tol = check_float(tol, "tol", 0.0)
        maxiter = check_int(DEFAULT_MAXITER if maxiter is None else maxiter, "maxiter", 1, 10**6)
        reach = min(limit, ncv + (maxiter - 1) * max(rank, MIN_EXTENSION))
        max_steps = reach if max_steps is None else min(reach, max_steps)
        if max_steps < ncv:
            raise InputError("ncv", str(ncv), f"at most {max_steps}, the steps the memories hold")
        return cls(rank, ncv, tol, maxiter, max_steps)


@dataclass(frozen=True)
class Convergence:
    """How a converged run went.

    Attributes
    ----------
    steps : int
        Lanczos steps of the final run (its Krylov dimension).
    runs : int
        The first run and its extensions.
    converged : bool
        Every one of the top ``k`` triplets (or all that exist after a breakdown) met ``tol``.
    residuals : numpy.ndarray
        Residual bounds of the top ``k`` Ritz triplets of the final run (0 after a breakdown).
    singular_values : numpy.ndarray
        Their Ritz values.
    history : list of tuple
        ``(steps asked for, max_i residual_i / s_i)`` after every run.
    max_steps : int
        The cap on the steps that applied (``maxiter`` runs, ``min(M, N)``, the memories).
    """

    steps: int
    runs: int
    converged: bool
    residuals: np.ndarray
    singular_values: np.ndarray
    history: list
    max_steps: int

    @property
    def relative_residuals(self) -> np.ndarray:
        """``residual_i / s_i``."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.singular_values > 0, self.residuals / self.singular_values,
                            np.where(self.residuals > 0, np.inf, 0.0))


def _check(info: LanczosInfo, rank: int, tol: float) -> tuple[np.ndarray, np.ndarray, bool, float]:
    """Residual bounds and Ritz values of the top ``rank``, whether they met ``tol``, and the
    largest ``residual_i / s_i``."""
    count = min(rank, info.rank)
    values = np.linalg.svd(info.bidiagonal, compute_uv=False)[:count] if count else np.zeros(0)
    if info.breakdown is None and info.residual_beta is None:
        # No room for another v vector: V spans all of R^N and A^T U = V B^T holds exactly.
        residuals = np.zeros(count)
    else:
        residuals = ritz_residuals(info, count)
    with np.errstate(divide="ignore", invalid="ignore"):
        worst = float(np.max(np.where(residuals > 0, residuals / values, 0.0))) if count else 0.0
    return residuals, values, bool(np.all(residuals <= tol * values)), worst


def extension_plan(settings: ConvergenceSettings) -> Generator[int, LanczosInfo, Convergence]:
    """The convergence loop as a generator.

    It yields the step count to run to (with the residual half step when the layout has room
    for it) and is sent the :class:`LanczosInfo` of the whole run so far; it returns (in
    ``StopIteration.value``) the :class:`Convergence` when the top ``k`` converged, the run
    broke down, or ``maxiter`` runs or ``max_steps`` steps are spent.
    """
    steps, history = settings.ncv, []
    for run in range(1, settings.maxiter + 1):
        info = yield steps
        residuals, values, converged, worst = _check(info, settings.rank, settings.tol)
        history.append((steps, worst))
        done = (converged or info.breakdown is not None or steps >= settings.max_steps
                or run == settings.maxiter)
        if done:
            return Convergence(info.rank, run, converged, residuals, values, history,
                               settings.max_steps)
        steps = min(steps + max(settings.rank, MIN_EXTENSION), settings.max_steps)
    raise AssertionError("unreachable: the last run returns")


def fitting_capacity(config: DcomConfig, rows: int, cols: int,
                     settings: ConvergenceSettings) -> CompiledLanczos:
    """The program compiled for the most steps up to ``settings.max_steps`` that the
    configuration's memories hold (at least ``ncv``).

    Raises
    ------
    CompileError
        If not even ``ncv`` steps fit.
    """
    low, high = settings.ncv, settings.max_steps
    try:
        return compile_lanczos(config, rows, cols, settings.ncv, max_steps=high)
    except CompileError:
        if high == low:
            raise
    best = compile_lanczos(config, rows, cols, settings.ncv, max_steps=low)
    while high - low > 1:       # compiling is monotone in max_steps: bisect
        middle = (low + high) // 2
        try:
            best, low = compile_lanczos(config, rows, cols, settings.ncv, max_steps=middle), middle
        except CompileError:
            high = middle
    return best


def run_programs(compiled: CompiledLanczos, convergence: Convergence,
                 info: LanczosInfo) -> list:
    """Every program a converged run on the hardware executes, with its data stop:
    ``[(program, None or (Status.BREAKDOWN, pc)), ...]``, the segments of
    ``convergence.history`` and the store program (for :func:`dcom.sw.cycles.program_cycles`).
    """
    programs, first = [], 0
    for last, _ in convergence.history:
        program = compiled.segment(first, last, last < compiled.v_capacity)
        programs.append((program, None))
        first = last
    if info.breakdown is not None:
        programs[-1] = (programs[-1][0], compiled.breakdown_stop(info, programs[-1][0]))
    return programs + [(compiled.store_program, None)]


class _IsaRun:
    """A compiled program run segment by segment on the ISA simulator; :attr:`programs` lists
    every program run with its data stop (None, or ``(status, pc)``), for the cycle model."""

    def __init__(self, compiled: CompiledLanczos, images: np.ndarray, threshold: float):
        self.compiled = compiled
        self.sim = IsaSimulator(compiled.config)
        self.sim.write_banks(images)
        self.threshold = threshold
        self.steps = 0
        self.programs: list = []
        self.last: tuple | None = None

    def extend(self, steps: int) -> LanczosInfo:
        residual = steps < self.compiled.v_capacity
        program = self.compiled.segment(self.steps, steps, residual)
        status = self.sim.run(program, self.threshold)
        self.programs.append((program, None if status == Status.DONE
                              else (status, self.sim.stop_pc)))
        self.steps = steps
        self.last = dict(status=status, stop_pc=self.sim.stop_pc, program=program, steps=steps,
                         residual=residual)
        # The bases reach the banks only at the end: the loop needs only the norms.
        return self.compiled.extract(None, self.sim.broadcast, **self.last)

    def finish(self) -> LanczosInfo:
        """Store the bases and read the whole run."""
        self.sim.run(self.compiled.store_program)
        self.programs.append((self.compiled.store_program, None))
        return self.compiled.extract(self.sim.banks, self.sim.broadcast, **self.last)


def extended_run(engine: str, a: np.ndarray, settings: ConvergenceSettings, *,
                 config: DcomConfig | None = None, seed=0, v0=None, threshold: float,
                 progress: Callable[[str], None] | None = None
                 ) -> tuple[LanczosInfo, Convergence, list]:
    """Run ``engine`` (``"float64"``, ``"golden"`` or ``"isa"``) until convergence.

    Parameters
    ----------
    engine : str
    a : numpy.ndarray
        The matrix (the hardware engines round it to FP16).
    settings : ConvergenceSettings
        For ``"isa"``, ``max_steps`` must be what the compiled layout holds
        (:func:`fitting_capacity`).
    config : DcomConfig, optional
        The instance of the hardware engines.
    seed, v0
        The start vector (:func:`dcom.sw.lanczos.start_values`).
    threshold : float
        Absolute breakdown threshold (at least ``2**-15`` for the hardware engines).
    progress : callable, optional
        Called with a line of text after every run.

    Returns
    -------
    info : LanczosInfo
        The final run, with its bases.
    convergence : Convergence
    programs : list of (program, stop)
        ``"isa"`` only: every program run, with its data stop (for the cycle model).
    """
    config = DcomConfig() if config is None else config
    rows, cols = a.shape
    v_capacity = min(settings.max_steps + 1, cols)
    programs: list = []
    if engine == "float64":
        run = float64_run(a, settings.max_steps, threshold, start_values(cols, seed, v0),
                          v_capacity=v_capacity)
        extend = partial(run.extend, residual=True)
    elif engine == "golden":
        threshold = check_float(threshold, "breakdown threshold", MIN_BREAKDOWN_TOL)
        run = hardware_run(a, config, settings.max_steps, float(np.float32(threshold)),
                           start_vector(cols, seed, v0), v_capacity)
        extend = partial(run.extend, residual=True)
    elif engine == "isa":
        compiled = fitting_capacity(config, rows, cols, settings)
        settings = replace(settings, max_steps=compiled.max_steps)
        images = compiled.bank_images(TiledMatrix(a, config).values,
                                      start_vector(cols, seed, v0))
        run = _IsaRun(compiled, images, threshold)
        extend, programs = run.extend, run.programs
    else:
        raise InputError("engine", repr(engine), "float64, golden or isa")
    plan = extension_plan(settings)
    steps = next(plan)
    while True:
        info = extend(steps)
        try:
            asked, steps = steps, plan.send(info)
        except StopIteration as stop:
            convergence = stop.value
            break
        if progress is not None:
            worst = _check(info, settings.rank, settings.tol)[3]
            progress(f"{engine}: {asked} steps, largest residual {worst:.2g} of its singular "
                     f"value (tol {settings.tol:g}); extending to {steps} steps")
    if engine == "isa":
        info = run.finish()
    return info, convergence, programs
