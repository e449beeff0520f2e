"""The top level on both simulators: memory paths, errors, Lanczos programs, a fuzzer.

Every program's cycle counters are also checked against the cycle model
(``dcom.sw.cycles``), which is meant to be cycle-exact (the requirement is 5%).
"""

import json

import pytest

from dcom.config import DcomConfig
from dcom.isa import Status
from dcom.sw.compiler import compile_lanczos
from dcom.sw.cycles import program_cycles
from dcom.sw.fuzz import fuzz_case
from dcom.tb.cosim import run_cocotb
from dcom.tb.top import (FUZZ_CONFIG, FUZZ_CROSS_CONFIG, FUZZ_CROSS_SEEDS, FUZZ_PROGRAM_LENGTH,
                         LANCZOS_CASES, SMALL_CONFIG as SMALL, memory_paths_program,
                         top_design)

pytestmark = pytest.mark.cocotb


def run_top(config: DcomConfig, sim: str, seed: int, testcase: str, tmp_path,
            **env) -> list[dict]:
    """Run one bench of ``dcom.tb.top``; return the cycle records it wrote, if any."""
    out = tmp_path / "cycles.json"
    run_cocotb(top_design(config), "dcom.tb.top", sim, testcase=testcase, seed=seed,
               run_name=f"{testcase}-{seed}",
               env={"DCOM_CONFIG": json.dumps(config.to_dict()), "DCOM_CYCLES_OUT": str(out),
                    **env})
    return json.loads(out.read_text()) if out.exists() else []


def assert_counters_match(config: DcomConfig, program, rtl: dict) -> None:
    """The performance model's counters for ``program`` equal the RTL's, class by class."""
    status = Status[rtl["status"]]
    stop = (status, rtl["stop_pc"]) if status in (Status.BREAKDOWN, Status.OVERFLOW) else None
    model = program_cycles(config, program, stop=stop)
    if stop is None:    # a data-dependent stop is given to the model, not predicted by it
        assert (model.status, model.stop_pc) == (status, rtl["stop_pc"])
    counters = model.counters()
    assert counters == rtl["counters"], "\n".join(
        f"{name:14} model {counters[name]:8} RTL {rtl['counters'][name]:8}" for name in counters)


def test_memory_paths(sim, seed, tmp_path):
    (record,) = run_top(SMALL, sim, seed, "memory_paths", tmp_path)
    assert_counters_match(SMALL, memory_paths_program(SMALL), record)


def test_bad_programs_and_requests(sim, seed, tmp_path):
    run_top(SMALL, sim, seed, "bad_programs_and_requests", tmp_path)


@pytest.mark.parametrize("name", LANCZOS_CASES)
def test_lanczos_program(name, sim, seed, tmp_path):
    config, case = LANCZOS_CASES[name]
    (record,) = run_top(config, sim, seed, "lanczos_program", tmp_path,
                        DCOM_LANCZOS=json.dumps({**case, "seed": seed % 1000}))
    program = compile_lanczos(config, case["rows"], case["cols"], case["steps"]).program
    assert_counters_match(config, program, record)


@pytest.mark.configured
def test_lanczos_program_configured(regress_config, sim, seed, tmp_path):
    """A Lanczos program on the instance ``dcom regress`` was given: a tall matrix that fills
    neither the tile rows nor the tile columns."""
    config = regress_config
    rows = 2 * config.cluster_rows * config.grid_rows + 1
    cols = config.cluster_cols * config.grid_cols + 3
    case = dict(rows=rows, cols=cols, steps=min(6, rows, cols), seed=seed % 1000)
    (record,) = run_top(config, sim, seed, "lanczos_program", tmp_path,
                        DCOM_LANCZOS=json.dumps(case))
    program = compile_lanczos(config, rows, cols, case["steps"]).program
    assert_counters_match(config, program, record)


def test_random_programs(sim, seed, tmp_path):
    records = run_top(FUZZ_CONFIG, sim, seed, "random_programs", tmp_path,
                      DCOM_FUZZ_PROGRAMS="6" if sim == "verilator" else "2")
    assert len(records) == (6 if sim == "verilator" else 2)
    for record in records:
        case = fuzz_case(FUZZ_CONFIG, record["seed"], length=record["length"],
                         invalid_rate=record["invalid_rate"])
        assert_counters_match(FUZZ_CONFIG, case.program, record)


def test_row_sums_wait_behind_a_total(sim, seed, tmp_path):
    # Programs whose MV or MTV groups wait for an earlier PROJ's or NORM's total to leave the
    # cross tree: without the wait their sums would leave the network first, out of order.
    for program_seed in FUZZ_CROSS_SEEDS:
        case = fuzz_case(FUZZ_CROSS_CONFIG, program_seed, length=FUZZ_PROGRAM_LENGTH)
        groups = program_cycles(FUZZ_CROSS_CONFIG, case.program, activity=True).activity["groups"]
        assert FUZZ_CROSS_CONFIG.cross_latency + 1 in {b - a for a, b in zip(groups, groups[1:])}
    records = run_top(FUZZ_CROSS_CONFIG, sim, seed, "random_programs", tmp_path,
                      DCOM_FUZZ_SEEDS=",".join(map(str, FUZZ_CROSS_SEEDS)))
    assert [r["seed"] for r in records] == list(FUZZ_CROSS_SEEDS)
    for record in records:
        case = fuzz_case(FUZZ_CROSS_CONFIG, record["seed"], length=FUZZ_PROGRAM_LENGTH)
        assert_counters_match(FUZZ_CROSS_CONFIG, case.program, record)
