"""cocotb bench that measures the RTL's cycle counters on random programs.

The performance model (``dcom.sw.perf``) is checked against these counters for programs the
compiler never emits: empty loops, refused instructions, data-dependent stops and UPDATEs or
SCALEs that read what they write. The configuration arrives as JSON in ``DCOM_CONFIG``, the
fuzzer seeds (``dcom.sw.fuzz.fuzz_case``) as a JSON list in ``DCOM_PERF_SEEDS``; the bench
writes one record per program, with the counters, the status and the stop pc, to the JSON file
named by ``DCOM_CYCLES_OUT``.
"""

from __future__ import annotations

import json
import os

import cocotb

from dcom.sw.fuzz import fuzz_case
from dcom.sw.isa import Register, Status
from dcom.tb.top import _host

#: Instructions of a random program besides its LOADs and HALT.
PROGRAM_LENGTH = 12
#: Share of deliberately invalid instructions in every other program.
INVALID_RATE = 0.05


@cocotb.test()
async def random_program_counters(dut):
    """Run every seed's fuzz program and record the cycle counters and how it stopped."""
    host, _ = await _host(dut)
    config = host.config
    records = []
    for index, seed in enumerate(json.loads(os.environ["DCOM_PERF_SEEDS"])):
        case = fuzz_case(config, seed, length=PROGRAM_LENGTH,
                         invalid_rate=INVALID_RATE if index % 2 else 0.0)
        await host.load_banks(case.banks)
        await host.load_program(case.program)
        await host.set_tol(case.tol)
        await host.start()
        status = await host.wait(200_000)
        records.append({"seed": seed, "invalid_rate": INVALID_RATE if index % 2 else 0.0,
                        "status": Status(status).name,
                        "stop_pc": await host.read_register(Register.STOP_PC),
                        "counters": await host.counters()})
    with open(os.environ["DCOM_CYCLES_OUT"], "w") as out:
        json.dump({"config": config.to_dict(), "programs": records}, out)
