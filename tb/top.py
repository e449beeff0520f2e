"""cocotb testbenches of the D-com top level.

The configuration arrives as JSON in ``DCOM_CONFIG``. The Lanczos and fuzz benches run every
program on the RTL and on the ISA simulator (``dcom.sw.isasim``) and compare all state the host
can read, bit for bit.
"""

from __future__ import annotations

import json
import os

import cocotb
import numpy as np
from cocotb.clock import Clock

from dcom.config import DcomConfig
from dcom.sw.isa import HostError, Instruction, Opcode, Register, Side, Status
from dcom.tb.host import HostDriver


def config_from_env() -> DcomConfig:
    return DcomConfig.from_dict(json.loads(os.environ["DCOM_CONFIG"]))


async def _host(dut) -> tuple[HostDriver, np.random.Generator]:
    config = config_from_env()
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    host = HostDriver(dut, config)
    await host.reset()
    return host, np.random.default_rng(cocotb.RANDOM_SEED)


@cocotb.test()
async def memory_paths(dut):
    """Banks to clusters and back (LOAD, STORE), ZERO, and the broadcast copies (BCAST)."""
    host, rng = await _host(dut)
    config = host.config
    R, C = config.cluster_rows, config.cluster_cols
    lanes = config.macs_per_cluster
    words = 3
    images = rng.integers(0, 1 << 16, size=(C, R * words, lanes), dtype=np.uint16)
    await host.load_banks(images)
    program = [Instruction(Opcode.ZERO, a=0, n=2 * words)]
    for r in range(R):
        program.append(Instruction(Opcode.LOAD, a=r * words, b=0, n=words, m=r))
    # Copy slot 0 of every cluster along its cluster row (U) and its column (V).
    program += [Instruction(Opcode.BCAST, side=Side.U, a=0, b=words, n=1),
                Instruction(Opcode.BCAST, side=Side.V, a=1, b=words + C, n=1)]
    store_base = R * words
    for r in range(R):
        program.append(Instruction(Opcode.STORE, a=0, b=store_base + r * (2 * words + R + C),
                                   n=words + C + R, m=r))
    program.append(Instruction(Opcode.HALT))
    await host.load_program(program)
    await host.start()
    status = await host.wait(10_000)
    assert status == Status.DONE, status
    assert await host.read_register(Register.STOP_PC) == len(program) - 1
    for r in range(R):
        for c in range(C):
            base = store_base + r * (2 * words + R + C)
            got = np.array([await host.read_bank(c, base + t) for t in range(words + C + R)])
            loaded = images[c, r * words:(r + 1) * words]
            assert np.array_equal(got[:words], loaded), f"LOAD/STORE of cluster ({r}, {c})"
            row_copies = images[:, r * words]                      # slot 0 of (r, k), k < C
            assert np.array_equal(got[words:words + C], row_copies), f"BCAST U at ({r}, {c})"
            col_copies = images[c, np.arange(R) * words + 1]       # slot 1 of (k, c), k < R
            assert np.array_equal(got[words + C:], col_copies), f"BCAST V at ({r}, {c})"
    counters = await host.counters()
    assert counters["cycles"] > 0 and counters["cycles_memory"] > 0
    assert counters["cycles_bcast"] > 0 and counters["cycles_mv"] == 0


@cocotb.test()
async def bad_programs_and_requests(dut):
    """Unknown opcodes, out-of-range addresses, a missing HALT and refused host requests end
    in the documented states, never a hang."""
    host, _ = await _host(dut)
    config = host.config
    D = config.buffer_depth
    cases = [
        ([Instruction(Opcode.HALT + 200)], Status.BAD_OPCODE, 0),
        ([Instruction(Opcode.ZERO, a=0, n=1), Instruction(Opcode.NORM, side=2)],
         Status.BAD_OPCODE, 1),
        ([Instruction(Opcode.ZERO, a=D - 1, n=2)], Status.BAD_ADDRESS, 0),
        ([Instruction(Opcode.LOAD, a=0, b=0, n=1, m=config.cluster_rows)], Status.BAD_ADDRESS, 0),
        ([Instruction(Opcode.MV, a=0, b=D, c=0, n=1, m=1)], Status.BAD_ADDRESS, 0),
        ([Instruction(Opcode.NORM, a=0, b=0, n=1, m=config.broadcast_depth)],
         Status.BAD_ADDRESS, 0),
        ([Instruction(Opcode.SCALE, side=Side.U, a=0, b=0, c=0, d=0, n=1,
                      m=config.grid_cols)], Status.BAD_ADDRESS, 0),
        ([Instruction(Opcode.ZERO, a=0, n=1)] * config.program_depth, Status.BAD_PC,
         config.program_depth),
    ]
    for program, expected, pc in cases:
        await host.load_program(program)
        await host.start()
        status = await host.wait(20 * config.program_depth + 1000)
        assert status == expected, f"{program[-1]}: {status.name}, expected {expected.name}"
        assert await host.read_register(Register.STOP_PC) == pc
    # A long program, then requests the top level must refuse while it runs.
    await host.load_program([Instruction(Opcode.ZERO, a=0, n=D)] * 4
                            + [Instruction(Opcode.HALT)])
    await host.start()
    await host.start()
    assert await host.host_error() == HostError.BUSY
    await host.write_bank(0, 0, np.zeros(config.macs_per_cluster))
    assert await host.host_error() == HostError.BUSY
    assert await host.wait(10 * D) == Status.DONE
    await host.read_bank(config.cluster_cols, 0)
    assert await host.host_error() == HostError.BAD_ADDRESS
    await host.write_register(Register.STATUS, 1)
    assert await host.host_error() == HostError.BAD_ADDRESS
    await host.start()
    assert await host.host_error() == HostError.NONE
    assert await host.wait(10 * D) == Status.DONE
