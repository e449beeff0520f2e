"""The top level on both simulators: memory paths, errors, Lanczos programs, a fuzzer."""

import json

import pytest

from dcom.config import DcomConfig
from dcom.tb.cosim import run_cocotb
from dcom.tb.top import top_design

pytestmark = pytest.mark.cocotb

# One build serves the memory, error and fuzz benches and a Lanczos case.
SMALL = DcomConfig(cluster_rows=2, cluster_cols=2, grid_rows=2, grid_cols=2, buffer_depth=128,
                   bank_depth=256, broadcast_depth=32, program_depth=128, expansion=2)


def run_top(config: DcomConfig, sim: str, seed: int, testcase: str, **env):
    run_cocotb(top_design(config), "dcom.tb.top", sim, testcase=testcase, seed=seed,
               run_name=f"{testcase}-{seed}",
               env={"DCOM_CONFIG": json.dumps(config.to_dict()), **env})


def test_memory_paths(sim, seed):
    run_top(SMALL, sim, seed, "memory_paths")


def test_bad_programs_and_requests(sim, seed):
    run_top(SMALL, sim, seed, "bad_programs_and_requests")


LANCZOS_CASES = {
    "1x1-4x4-tall": (DcomConfig(cluster_rows=1, cluster_cols=1, grid_rows=4, grid_cols=4,
                                buffer_depth=256, bank_depth=512, broadcast_depth=32,
                                program_depth=128, expansion=1),
                     dict(rows=40, cols=12, steps=6)),
    "2x2-2x2-f2-wide": (SMALL, dict(rows=9, cols=22, steps=5)),
    "2x4-4x4-f4-square": (DcomConfig(cluster_rows=2, cluster_cols=4, grid_rows=4, grid_cols=4,
                                     buffer_depth=128, bank_depth=256, broadcast_depth=32,
                                     program_depth=256, expansion=4),
                          dict(rows=37, cols=37, steps=8)),
}


@pytest.mark.parametrize("name", LANCZOS_CASES)
def test_lanczos_program(name, sim, seed, tmp_path):
    config, case = LANCZOS_CASES[name]
    run_top(config, sim, seed, "lanczos_program",
            DCOM_LANCZOS=json.dumps({**case, "seed": seed % 1000}))


def test_random_programs(sim, seed):
    run_top(SMALL, sim, seed, "random_programs",
            DCOM_FUZZ_PROGRAMS="6" if sim == "verilator" else "2")
