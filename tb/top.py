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
from dcom.isa import HostError, Instruction, Opcode, Register, ResultIndex, Side, Status
from dcom.hw.generate import TOP_MODULE, emit_verilog
from dcom.hw.sram import sram_module_name
from dcom.hw.top import TILE_MODULE
from dcom.sw.compiler import compile_lanczos
from dcom.sw.fparith import round_to
from dcom.sw.fuzz import fuzz_case
from dcom.sw.hwlanczos import DEFAULT_BREAKDOWN_TOL, start_vector
from dcom.sw.isasim import IsaSimulator
from dcom.sw.lanczos import singular_triplets
from dcom.tb.cosim import HdlDesign
from dcom.tb.host import HostDriver


def top_design(config: DcomConfig) -> HdlDesign:
    """The top level of ``config``, emitted as ``dcom generate`` does, for :func:`run_cocotb`."""
    bank = sram_module_name(config.bank_depth, config.word_bits, 1, config.word_bits)
    return HdlDesign(TOP_MODULE, lambda out_dir: emit_verilog(config, out_dir), config.to_dict(),
                     hier_blocks=(TILE_MODULE,), public=((bank, "mem"),), from_sources=True)


#: Largest error of the singular values against LAPACK's, relative to the largest (the FP16
#: storage of the Lanczos vectors; docs/accuracy.md).
SV_TOLERANCE = 5e-3
#: Period of the clock the benches drive.
CLOCK_PERIOD_NS = 10


def config_from_env() -> DcomConfig:
    return DcomConfig.from_dict(json.loads(os.environ["DCOM_CONFIG"]))


async def start_host(dut) -> tuple[HostDriver, np.random.Generator]:
    config = config_from_env()
    cocotb.start_soon(Clock(dut.clk, CLOCK_PERIOD_NS, unit="ns").start())
    host = HostDriver(dut, config, CLOCK_PERIOD_NS)
    await host.reset()
    return host, np.random.default_rng(cocotb.RANDOM_SEED)


def write_cycles(records: list[dict]) -> None:
    """Write the RTL's cycle counters and how each program stopped to the JSON file
    ``DCOM_CYCLES_OUT`` names, if any (the performance model's validation reads it)."""
    if "DCOM_CYCLES_OUT" in os.environ:
        with open(os.environ["DCOM_CYCLES_OUT"], "w") as out:
            json.dump(records, out)


async def cycles_record(host: HostDriver, status: Status, stop_pc: int, **program) -> dict:
    """The counters after a program, how it stopped, and what identifies the program."""
    return {**program, "counters": await host.counters(), "status": Status(status).name,
            "stop_pc": stop_pc}


#: Instructions of a fuzz program besides its LOADs and HALT.
FUZZ_PROGRAM_LENGTH = 12
#: Words per cluster the memory_paths program loads.
MEMORY_PATHS_WORDS = 3


def memory_paths_program(config: DcomConfig) -> list[Instruction]:
    """ZERO, a LOAD per cluster row, a BCAST each way, a STORE per cluster row, HALT."""
    R, C, words = config.cluster_rows, config.cluster_cols, MEMORY_PATHS_WORDS
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
    return program


@cocotb.test()
async def memory_paths(dut):
    """Banks to clusters and back (LOAD, STORE), ZERO, and the broadcast copies (BCAST)."""
    host, rng = await start_host(dut)
    config = host.config
    R, C = config.cluster_rows, config.cluster_cols
    lanes = config.macs_per_cluster
    words = MEMORY_PATHS_WORDS
    images = rng.integers(0, 1 << 16, size=(C, R * words, lanes), dtype=np.uint16)
    await host.load_banks(images)
    program = memory_paths_program(config)
    store_base = R * words
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
    record = await cycles_record(host, status, len(program) - 1)
    counters = record["counters"]
    assert counters["cycles"] > 0 and counters["cycles_memory"] > 0
    assert counters["cycles_bcast"] > 0 and counters["cycles_mv"] == 0
    # Bulk access to the banks (straight into the SRAM models) sees what the host port sees.
    assert np.array_equal(await host.read_banks(R * words, bulk=True), images)
    again = rng.integers(0, 1 << 16, size=images.shape, dtype=np.uint16)
    await host.load_banks(again, bulk=True)
    assert np.array_equal(await host.read_banks(R * words), again)
    write_cycles([record])


@cocotb.test()
async def bad_programs_and_requests(dut):
    """Unknown opcodes, out-of-range addresses, a missing HALT and refused host requests end
    in the documented states, never a hang."""
    host, _ = await start_host(dut)
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


#: A small instance that fills no dimension evenly; one build serves several benches. Its
#: buses restart their chain at every tile, so that they take the OR of chains.
SMALL_CONFIG = DcomConfig(cluster_rows=2, cluster_cols=2, grid_rows=2, grid_cols=2,
                          buffer_depth=128, bank_depth=256, broadcast_depth=32,
                          program_depth=128, expansion=2, mul_stages=1, add_stages=0,
                          acc_stages=0, acc_sets=8, bus_segment=1)
#: The fuzzer's instance: SMALL_CONFIG with pipelined multipliers and accumulators, so random
#: programs meet the accumulator spacing, batches of two sums and the set ring.
FUZZ_CONFIG = SMALL_CONFIG.replace(mul_stages=2, acc_stages=1, acc_sets=4)
#: 4 x 4 clusters with adders of four stages: a 10-cycle cross tree, long enough that an MV's
#: or MTV's groups wait behind an earlier PROJ's or NORM's total (``FUZZ_CROSS_SEEDS``).
FUZZ_CROSS_CONFIG = FUZZ_CONFIG.replace(cluster_rows=4, cluster_cols=4, add_stages=4)
#: Fuzzer programs (length ``FUZZ_PROGRAM_LENGTH``) on ``FUZZ_CROSS_CONFIG`` in which that wait
#: changes the cycles (found with the cycle model, the rule taken out).
FUZZ_CROSS_SEEDS = (8, 14)

#: The Lanczos programs the regression runs: configuration and ``DCOM_LANCZOS`` case (the
#: seed is added per run). ``exact_rank`` asks for a matrix of that exact rank, which stops
#: the program by breakdown.
LANCZOS_CASES = {
    "1x1-4x4-tall-one-set": (DcomConfig(cluster_rows=1, cluster_cols=1, grid_rows=4,
                                        grid_cols=4, buffer_depth=256, bank_depth=512,
                                        broadcast_depth=32, program_depth=128, expansion=1,
                                        mul_stages=1, add_stages=0, acc_stages=1, acc_sets=1),
                     dict(rows=40, cols=12, steps=6)),
    "2x2-2x2-f2-wide": (SMALL_CONFIG, dict(rows=9, cols=22, steps=5)),
    "2x2-2x2-f2-rank2-breakdown": (SMALL_CONFIG, dict(rows=12, cols=10, steps=6, exact_rank=2)),
    # Odd rows and columns: the stream and cross trees carry an odd last sum, and a reduction
    # of all clusters (rows first) is not the row-major tree.
    "3x3-2x2-f1-odd": (SMALL_CONFIG.replace(cluster_rows=3, cluster_cols=3, expansion=1),
                       dict(rows=13, cols=11, steps=5)),
    "2x4-4x4-f4-default-pipeline": (DcomConfig(cluster_rows=2, cluster_cols=4, grid_rows=4,
                                                grid_cols=4, buffer_depth=128, bank_depth=256,
                                                broadcast_depth=32, program_depth=256,
                                                expansion=4),
                                     dict(rows=29, cols=35, steps=6)),
}


def lanczos_matrix(rows: int, cols: int, rank: int, seed: int) -> np.ndarray:
    """An FP16 low-rank-plus-noise matrix with a few large outlier columns, activation-like."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((rows, rank)) @ (rng.standard_normal((rank, cols))
                                              * np.geomspace(4, 0.5, rank)[:, None])
    a += 0.05 * rng.standard_normal((rows, cols))
    a[:, rng.choice(cols, max(1, cols // 32), replace=False)] *= 8
    return round_to(a, "fp16")


def exact_rank_matrix(rows: int, cols: int, rank: int, seed: int) -> np.ndarray:
    """A matrix of exactly ``rank``: products of small integers over 16, exact in FP16, so
    Lanczos breaks down after ``rank`` steps."""
    rng = np.random.default_rng(seed)
    a = rng.integers(-3, 4, (rows, rank)) @ rng.integers(-3, 4, (rank, cols)) / 16
    return round_to(a, "fp16")


async def _run_on_both(host: HostDriver, sim: IsaSimulator, images, program, tol,
                       max_cycles: int, bulk: bool = False) -> Status:
    """Write the same banks to the RTL (``bulk``: see :meth:`HostDriver.load_banks`) and to
    ``sim``, run ``program`` on both, and compare the status and stop pc."""
    sim.write_banks(images)
    expected = sim.run(program, tol)
    status, stop_pc = await host.run(images, program, tol, max_cycles, bulk)
    assert (status, stop_pc) == (expected, sim.stop_pc), \
        f"RTL stopped with {status.name} at pc {stop_pc}, ISA simulator with " \
        f"{Status(expected).name} at pc {sim.stop_pc}"
    return status


async def _compare_state(host: HostDriver, sim: IsaSimulator, bank_words: range,
                         broadcast_words: int, bulk: bool = False) -> None:
    for word in range(broadcast_words):
        got = await host.read_broadcast(word)
        assert got == int(sim.broadcast[word]), \
            f"broadcast word {word}: RTL {got:#010x}, ISA simulator {int(sim.broadcast[word]):#010x}"
    if bulk:
        banks = (await host.read_banks(bank_words.stop, bulk=True))[:, bank_words.start:]
        expected = sim.banks[:, bank_words.start:bank_words.stop]
        differing = np.argwhere(np.any(banks != expected, axis=-1))
        assert not len(differing), f"bank words (column, word) {differing[:4].tolist()} differ"
        return
    for c in range(host.config.cluster_cols):
        for word in bank_words:
            got = await host.read_bank(c, word)
            assert np.array_equal(got, sim.banks[c, word]), \
                f"bank {c} word {word}: RTL {[hex(v) for v in got]}, " \
                f"ISA simulator {[hex(v) for v in sim.banks[c, word]]}"


@cocotb.test()
async def lanczos_program(dut):
    """A compiled Lanczos bidiagonalization: every stored word of U and V, every alpha and beta
    bit-exact against the ISA simulator; singular values near LAPACK's."""
    host, _ = await start_host(dut)
    config = host.config
    case = json.loads(os.environ["DCOM_LANCZOS"])
    rows, cols, steps, seed = case["rows"], case["cols"], case["steps"], case["seed"]
    if "exact_rank" in case:
        a = exact_rank_matrix(rows, cols, case["exact_rank"], seed)
    else:
        a = lanczos_matrix(rows, cols, rank=max(1, steps // 2), seed=seed)
    compiled = compile_lanczos(config, rows, cols, steps)
    images = compiled.bank_images(a, start_vector(cols, seed))
    sim = IsaSimulator(config)
    bulk = case.get("bulk", False)
    status = await _run_on_both(host, sim, images, compiled.program, DEFAULT_BREAKDOWN_TOL,
                                max_cycles=2_000_000, bulk=bulk)
    stop_pc = sim.stop_pc
    record = await cycles_record(host, status, stop_pc)
    if "exact_rank" in case:
        assert status == Status.BREAKDOWN, f"a rank-{case['exact_rank']} matrix ended {status}"
    if status == Status.BREAKDOWN:
        # The bases found so far are stored by a separate program (CompiledLanczos.extract).
        sim.run(compiled.store_program)
        await host.load_program(compiled.store_program)
        await host.start()
        assert await host.wait(2_000_000) == Status.DONE
    store = compiled.bank_map["store"]
    await _compare_state(host, sim, range(store.start, store.stop),
                         ResultIndex.beta(steps - 1) + 1, bulk=bulk)
    info = compiled.extract(sim.banks, sim.broadcast, status, stop_pc)
    rank = min(steps // 2, info.rank)
    assert rank >= 1, "no singular triplet found"
    _, s, _ = singular_triplets(info, rank)
    exact = np.linalg.svd(a.astype(np.float64), compute_uv=False)[:rank]
    error = np.max(np.abs(s - exact) / exact[0])
    assert error < SV_TOLERANCE, f"singular values off by {error:.2e}"
    dut._log.info("Lanczos %dx%d k=%d on %s: %s; singular-value error %.1e", rows, cols, steps,
                  config.describe(), record["counters"], error)
    write_cycles([record])


@cocotb.test()
async def random_programs(dut):
    """The controller fuzzer: random valid programs over random banks with special values, on
    the RTL and the ISA simulator; banks, buffers (dumped to the banks), broadcast memory,
    status and stop pc compared after every program. Records each program's cycle counters."""
    host, rng = await start_host(dut)
    config = host.config
    # DCOM_FUZZ_SEEDS (comma-separated) chooses the programs, without invalid instructions.
    chosen = [int(v) for v in os.environ.get("DCOM_FUZZ_SEEDS", "").split(",") if v]
    programs = len(chosen) or int(os.environ.get("DCOM_FUZZ_PROGRAMS", "4"))
    sim = IsaSimulator(config)      # like the RTL, it keeps its buffers from program to program
    records = []
    for index in range(programs):
        if chosen:
            seed, invalid_rate = chosen[index], 0.0
        else:
            seed, invalid_rate = int(rng.integers(1 << 31)), 0.02 if index % 2 else 0.0
        case = fuzz_case(config, seed, length=FUZZ_PROGRAM_LENGTH, invalid_rate=invalid_rate)
        status = await _run_on_both(host, sim, case.banks, case.program, case.tol, 200_000)
        records.append(await cycles_record(host, status, sim.stop_pc, seed=seed,
                                           length=FUZZ_PROGRAM_LENGTH, invalid_rate=invalid_rate))
        # Dump every cluster's buffer window into the banks, on both, then compare.
        sim.run(case.dump, case.tol)
        await host.load_program(case.dump)
        await host.start()
        assert await host.wait(200_000) == Status.DONE
        await _compare_state(host, sim, range(config.bank_depth), config.broadcast_depth)
    write_cycles(records)
