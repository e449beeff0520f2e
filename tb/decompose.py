"""Lanczos bidiagonalization of a given matrix on the generated RTL, in Verilator or Icarus.

:func:`rtl_lanczos` is :func:`dcom.sw.isa_lanczos` with the ISA simulator replaced by a cocotb
simulation of the top level: the host writes the compiled program's bank images, runs the
program, runs the store program after a breakdown, and reads back the stored bases, the
broadcast memory (alphas and betas) and the cycle counters. The results are extracted on the
host exactly as for the ISA simulator, so the two engines can be compared word for word.

:func:`rtl_extended_run` is :func:`dcom.sw.convergence.extended_run` on the RTL: the bench
runs the convergence loop, resuming the program segment by segment as the ISA simulator does.

The cocotb side is the tests :func:`run_program` and :func:`run_extended`; their input and
output travel as ``.npz`` files named by the environment variables ``DCOM_DECOMPOSE_IN`` and
``DCOM_DECOMPOSE_OUT``.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import cocotb
import numpy as np

from dcom.config import DcomConfig
from dcom.isa import ResultIndex, Status
from dcom.sw.compiler import compile_lanczos, prepare_lanczos
from dcom.sw.convergence import ConvergenceSettings, extension_plan, fitting_capacity
from dcom.sw.hwkernels import TiledMatrix
from dcom.sw.hwlanczos import DEFAULT_BREAKDOWN_TOL, start_vector
from dcom.sw.lanczos import LanczosInfo, singular_triplets
from dcom.sw.validation import InputError

__all__ = ["RtlRun", "rtl_lanczos", "rtl_extended_run", "RTL_SIMULATORS"]

#: Simulators :func:`rtl_lanczos` runs on.
RTL_SIMULATORS = ("verilator", "icarus")
#: Cycles a program may run before the bench gives up, per Lanczos step.
_CYCLES_PER_STEP_LIMIT = 2_000_000


@dataclass(frozen=True)
class RtlRun:
    """What a run on the RTL produced besides the singular triplets.

    Attributes
    ----------
    info : LanczosInfo
        Alphas, betas (FP32) and bases (FP16), as the ISA simulator's run gives them.
    status : Status
        How the Lanczos program stopped (DONE or BREAKDOWN).
    stop_pc : int
        Where it stopped.
    counters : dict
        The RTL's cycle counters of the Lanczos program (``cycles`` and per class).
    program_seconds : float
        Wall time in the simulator from the program's start to its stop.
    load_seconds : float
        Wall time of the host's writes of the banks and the program before it.
    """

    info: LanczosInfo
    status: Status
    stop_pc: int
    counters: dict
    program_seconds: float
    load_seconds: float


def _simulate(config: DcomConfig, sim: str, testcase: str, given: dict) -> dict:
    """Run the cocotb test ``testcase`` of this module on the top level with ``given`` as its
    input file; what it wrote, as a dict of arrays."""
    from dcom.tb.cosim import run_cocotb
    from dcom.tb.top import top_design

    if sim not in RTL_SIMULATORS:
        raise InputError("sim", repr(sim), ", ".join(RTL_SIMULATORS))
    with tempfile.TemporaryDirectory(prefix="dcom-rtl-") as scratch:
        given_path, produced = Path(scratch) / "in.npz", Path(scratch) / "out.npz"
        np.savez(given_path, **given)
        run_cocotb(top_design(config), "dcom.tb.decompose", sim, testcase=testcase,
                   run_name=f"decompose-{os.getpid()}",
                   env={"DCOM_CONFIG": json.dumps(config.to_dict()),
                        "DCOM_DECOMPOSE_IN": str(given_path),
                        "DCOM_DECOMPOSE_OUT": str(produced)})
        with np.load(produced) as out:
            return {name: out[name] for name in out.files}


def _encoded(program) -> str:
    # Instructions are wider than any NumPy integer: JSON keeps them whole.
    return json.dumps([ins.encode() for ins in program])


def rtl_lanczos(A, rank: int, k: int | None = None, *, config: DcomConfig | None = None,
                sim: str = "verilator", seed=0, breakdown_tol: float = DEFAULT_BREAKDOWN_TOL,
                bulk: bool = True, return_run: bool = False):
    """Truncated SVD by Lanczos bidiagonalization, compiled and run on the generated RTL.

    The conventions and the values, bit for bit, are those of :func:`dcom.sw.isa_lanczos`.
    The simulator build is cached (``dcom.tb.cosim``), so only the first run of a
    configuration pays for it.

    Parameters
    ----------
    A, rank, k, config, seed, breakdown_tol
        As for :func:`dcom.sw.isa_lanczos`.
    sim : str
        ``"verilator"`` or ``"icarus"``.
    bulk : bool
        Write and read the banks straight through the simulator (no simulated cycles) rather
        than through the host port (:meth:`dcom.tb.host.HostDriver.load_banks`).
    return_run : bool
        Also return an :class:`RtlRun` (counters, status, Lanczos info).

    Returns
    -------
    U, s, Vt : numpy.ndarray
        float64 singular triplets (fewer than ``rank`` after a breakdown).
    run : RtlRun
        Only if ``return_run``.

    Raises
    ------
    InputError
        On a bad argument.
    dcom.simulators.SimulatorUnavailable
        If ``sim`` is not installed.
    dcom.tb.cosim.CocotbFailure
        If the simulation fails (its log is named).
    """
    compiled, images, rank, tol = prepare_lanczos(A, rank, k, config, seed, breakdown_tol)
    steps = compiled.steps
    out = _simulate(compiled.config, sim, "run_program", dict(
        images=images, program=_encoded(compiled.program),
        store_program=_encoded(compiled.store_program), tol=np.float32(tol),
        bank_words=compiled.bank_map["store"].stop,
        broadcast_words=ResultIndex.beta(steps - 1) + 1,
        max_cycles=_CYCLES_PER_STEP_LIMIT * steps, bulk=bulk))
    status, stop_pc = Status(int(out["status"])), int(out["stop_pc"])
    info = compiled.extract(out["banks"], out["broadcast"], status, stop_pc)
    run = RtlRun(info, status, stop_pc, json.loads(str(out["counters"])),
                 float(out["seconds"]), float(out["load_seconds"]))
    result = singular_triplets(info, rank)
    return result + (run,) if return_run else result


def rtl_extended_run(a, settings: ConvergenceSettings, *, config: DcomConfig | None = None,
                     sim: str = "verilator", seed=0, v0=None, threshold: float,
                     bulk: bool = True):
    """:func:`dcom.sw.convergence.extended_run` on the generated RTL: the bench runs the
    convergence loop, resuming the program segment by segment.

    Parameters
    ----------
    a : numpy.ndarray
        The matrix (rounded to FP16).
    settings : ConvergenceSettings
        ``max_steps`` is reduced to what the memories hold
        (:func:`dcom.sw.convergence.fitting_capacity`).
    config, sim, seed, v0, threshold, bulk
        As for :func:`dcom.sw.convergence.extended_run` and :func:`rtl_lanczos`.

    Returns
    -------
    info : LanczosInfo
    convergence : Convergence
    programs : list of (program, stop)
        Every program the bench ran, with its data stop, for the cycle model.
    run : RtlRun
        The last segment's stop; the counters are sums over every program.
    """
    config = DcomConfig() if config is None else config
    rows, cols = a.shape
    compiled = fitting_capacity(config, rows, cols, settings)
    settings = replace(settings, max_steps=compiled.max_steps)
    images = compiled.bank_images(TiledMatrix(a, config).values, start_vector(cols, seed, v0))
    out = _simulate(config, sim, "run_extended", dict(
        images=images, tol=np.float32(threshold), shape=np.array([rows, cols]),
        settings=json.dumps(asdict(settings)),
        max_cycles=_CYCLES_PER_STEP_LIMIT * settings.max_steps, bulk=bulk))
    # Replay the bench's loop on the host from the norms it left: the same decisions, and the
    # Convergence record, without shipping it through the simulator.
    broadcast, segments = out["broadcast"], json.loads(str(out["segments"]))
    plan, programs, first = extension_plan(settings), [], 0
    steps = next(plan)
    for done, (last, residual, status, stop_pc) in enumerate(segments, 1):
        if last != steps:
            raise AssertionError(f"the bench ran to {last} steps where the plan asks {steps}")
        status, program = Status(status), compiled.segment(first, last, residual)
        programs.append((program, None if status == Status.DONE else (status, stop_pc)))
        state = dict(status=status, stop_pc=stop_pc, program=program, steps=last,
                     residual=residual)
        try:
            steps, first = plan.send(compiled.extract(None, broadcast, **state)), last
        except StopIteration as stop:
            convergence = stop.value
            if done != len(segments):
                raise AssertionError("the bench ran segments past the plan's end") from None
            break
    programs.append((compiled.store_program, None))
    info = compiled.extract(out["banks"], broadcast, **state)
    run = RtlRun(info, state["status"], stop_pc, json.loads(str(out["counters"])),
                 float(out["seconds"]), float(out["load_seconds"]))
    return info, convergence, programs, run


async def _store(host, store_program, max_cycles: int) -> None:
    """Run the store program; it always ends DONE."""
    stored, _ = await host.run_program(store_program, max_cycles)
    assert stored == Status.DONE, f"the store program ended with {stored.name}"


async def _read_broadcast(host, words: int) -> np.ndarray:
    return np.array([await host.read_broadcast(w) for w in range(words)], dtype=np.uint32)


@cocotb.test()
async def run_program(dut):
    """Run the compiled program ``DCOM_DECOMPOSE_IN`` holds and write what the host reads back
    to ``DCOM_DECOMPOSE_OUT``."""
    from dcom.tb.top import start_host

    host, _ = await start_host(dut)
    with np.load(os.environ["DCOM_DECOMPOSE_IN"]) as given:
        images, tol = given["images"], float(given["tol"])
        program = json.loads(str(given["program"]))
        store_program = json.loads(str(given["store_program"]))
        bank_words, broadcast_words = int(given["bank_words"]), int(given["broadcast_words"])
        max_cycles, bulk = int(given["max_cycles"]), bool(given["bulk"])
    load_start = time.monotonic()
    status, stop_pc = await host.run(images, program, tol, max_cycles, bulk)
    load_seconds = time.monotonic() - load_start - host.run_seconds
    counters = await host.counters()
    dut._log.info("program stopped with %s at pc %d after %d cycles", status.name, stop_pc,
                  counters["cycles"])
    if status == Status.BREAKDOWN:
        await _store(host, store_program, max_cycles)
    banks = await host.read_banks(bank_words, bulk)
    broadcast = await _read_broadcast(host, broadcast_words)
    np.savez(os.environ["DCOM_DECOMPOSE_OUT"], status=int(status), stop_pc=stop_pc, banks=banks,
             broadcast=broadcast, counters=json.dumps(counters), seconds=host.run_seconds,
             load_seconds=load_seconds)


@cocotb.test()
async def run_extended(dut):
    """Run a Lanczos program until convergence (:func:`dcom.sw.convergence.extension_plan`),
    segment by segment, and write what the host reads back to ``DCOM_DECOMPOSE_OUT``."""
    from dcom.tb.top import start_host

    host, _ = await start_host(dut)
    config = host.config
    with np.load(os.environ["DCOM_DECOMPOSE_IN"]) as given:
        images, tol = given["images"], float(given["tol"])
        rows, cols = (int(x) for x in given["shape"])
        settings = ConvergenceSettings(**json.loads(str(given["settings"])))
        max_cycles, bulk = int(given["max_cycles"]), bool(given["bulk"])
    compiled = compile_lanczos(config, rows, cols, settings.ncv, max_steps=settings.max_steps)
    plan, segments, first = extension_plan(settings), [], 0
    steps = next(plan)
    load_start = time.monotonic()
    await host.load_banks(images, bulk)
    await host.set_tol(tol)
    load_seconds = time.monotonic() - load_start
    counters: dict = {}

    async def count():
        # The counters restart with every program: the run's are their sums.
        for name, value in (await host.counters()).items():
            counters[name] = counters.get(name, 0) + value

    while True:
        residual = steps < compiled.v_capacity
        program = compiled.segment(first, steps, residual)
        status, stop_pc = await host.run_program(program, max_cycles)
        await count()
        segments.append((steps, residual, int(status), stop_pc))
        broadcast = await _read_broadcast(host, 2 * steps + residual)
        info = compiled.extract(None, broadcast, status, stop_pc, program=program, steps=steps,
                                residual=residual)
        dut._log.info("steps %d to %d: %s", first, steps, status.name)
        try:
            steps, first = plan.send(info), steps
        except StopIteration:
            break
    await _store(host, compiled.store_program, max_cycles)
    await count()
    banks = await host.read_banks(compiled.bank_map["store"].stop, bulk)
    np.savez(os.environ["DCOM_DECOMPOSE_OUT"], segments=json.dumps(segments), banks=banks,
             broadcast=broadcast, counters=json.dumps(counters),
             seconds=host.run_seconds, load_seconds=load_seconds)
