"""Lanczos bidiagonalization of a given matrix on the generated RTL, in Verilator or Icarus.

:func:`rtl_lanczos` is :func:`dcom.sw.isa_lanczos` with the ISA simulator replaced by a cocotb
simulation of the top level: the host writes the compiled program's bank images, runs the
program, runs the store program after a breakdown, and reads back the stored bases, the
broadcast memory (alphas and betas) and the cycle counters. The results are extracted on the
host exactly as for the ISA simulator, so the two engines can be compared word for word.

The cocotb side is the test :func:`run_program`; its input and output travel as ``.npz`` files
named by the environment variables ``DCOM_DECOMPOSE_IN`` and ``DCOM_DECOMPOSE_OUT``.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import cocotb
import numpy as np

from dcom.config import DcomConfig
from dcom.isa import ResultIndex, Status
from dcom.sw.compiler import prepare_lanczos
from dcom.sw.hwlanczos import DEFAULT_BREAKDOWN_TOL
from dcom.sw.lanczos import LanczosInfo, singular_triplets
from dcom.sw.validation import InputError

__all__ = ["RtlRun", "rtl_lanczos", "RTL_SIMULATORS"]

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


def rtl_lanczos(A, rank: int, k: int | None = None, *, config: DcomConfig | None = None,
                sim: str = "verilator", seed=0, breakdown_tol: float = DEFAULT_BREAKDOWN_TOL,
                return_run: bool = False):
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
    from dcom.tb.cosim import run_cocotb
    from dcom.tb.top import top_design

    if sim not in RTL_SIMULATORS:
        raise InputError("sim", repr(sim), ", ".join(RTL_SIMULATORS))
    compiled, images, rank, tol = prepare_lanczos(A, rank, k, config, seed, breakdown_tol)
    config, steps = compiled.config, compiled.steps
    store = compiled.bank_map["store"]
    with tempfile.TemporaryDirectory(prefix="dcom-rtl-") as scratch:
        given, produced = Path(scratch) / "in.npz", Path(scratch) / "out.npz"
        np.savez(given, images=images,
                 # Instructions are wider than any NumPy integer: JSON keeps them whole.
                 programs=json.dumps([[ins.encode() for ins in compiled.program],
                                      [ins.encode() for ins in compiled.store_program]]),
                 tol=np.float32(tol), bank_words=store.stop,
                 broadcast_words=ResultIndex.beta(steps - 1) + 1,
                 max_cycles=_CYCLES_PER_STEP_LIMIT * steps)
        run_cocotb(top_design(config), "dcom.tb.decompose", sim, testcase="run_program",
                   run_name=f"decompose-{os.getpid()}",
                   env={"DCOM_CONFIG": json.dumps(config.to_dict()),
                        "DCOM_DECOMPOSE_IN": str(given), "DCOM_DECOMPOSE_OUT": str(produced)})
        with np.load(produced) as out:
            status, stop_pc = Status(int(out["status"])), int(out["stop_pc"])
            banks, broadcast = out["banks"], out["broadcast"]
            counters = json.loads(str(out["counters"]))
            seconds, load_seconds = float(out["seconds"]), float(out["load_seconds"])
    info = compiled.extract(banks, broadcast, status, stop_pc)
    result = singular_triplets(info, rank)
    return result + (RtlRun(info, status, stop_pc, counters, seconds, load_seconds),) if return_run else result


@cocotb.test()
async def run_program(dut):
    """Run the compiled program ``DCOM_DECOMPOSE_IN`` holds and write what the host reads back
    to ``DCOM_DECOMPOSE_OUT``."""
    from dcom.tb.top import start_host

    host, _ = await start_host(dut)
    with np.load(os.environ["DCOM_DECOMPOSE_IN"]) as given:
        images, tol = given["images"], float(given["tol"])
        program, store_program = json.loads(str(given["programs"]))
        bank_words, broadcast_words = int(given["bank_words"]), int(given["broadcast_words"])
        max_cycles = int(given["max_cycles"])
    load_start = time.monotonic()
    status, stop_pc = await host.run(images, program, tol, max_cycles)
    load_seconds = time.monotonic() - load_start - host.run_seconds
    counters = await host.counters()
    dut._log.info("program stopped with %s at pc %d after %d cycles", status.name, stop_pc,
                  counters["cycles"])
    if status == Status.BREAKDOWN:
        await host.load_program(store_program)
        await host.start()
        stored = await host.wait(max_cycles)
        assert stored == Status.DONE, f"the store program ended with {stored.name}"
    banks = await host.read_banks(bank_words)
    broadcast = np.array([await host.read_broadcast(w) for w in range(broadcast_words)],
                         dtype=np.uint32)
    np.savez(os.environ["DCOM_DECOMPOSE_OUT"], status=int(status), stop_pc=stop_pc, banks=banks,
             broadcast=broadcast, counters=json.dumps(counters), seconds=host.run_seconds,
             load_seconds=load_seconds)
