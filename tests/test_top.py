"""The top level on both simulators: memory paths, errors, Lanczos programs, a fuzzer."""

import json

import pytest

from dcom.config import DcomConfig
from dcom.hw.generate import TOP_MODULE, emit_verilog
from dcom.tb.cosim import HdlDesign, run_cocotb

pytestmark = pytest.mark.cocotb

SMALL = DcomConfig(cluster_rows=2, cluster_cols=2, grid_rows=2, grid_cols=2, buffer_depth=64,
                   bank_depth=64, broadcast_depth=16, program_depth=64, expansion=2)


def top_design(config: DcomConfig) -> HdlDesign:
    return HdlDesign(TOP_MODULE, lambda out_dir: emit_verilog(config, out_dir), config.to_dict())


def run_top(config: DcomConfig, sim: str, seed: int, testcase: str, **env):
    run_cocotb(top_design(config), "dcom.tb.top", sim, testcase=testcase, seed=seed,
               run_name=f"{testcase}-{seed}",
               env={"DCOM_CONFIG": json.dumps(config.to_dict()), **env})


def test_memory_paths(sim, seed):
    run_top(SMALL, sim, seed, "memory_paths")


def test_bad_programs_and_requests(sim, seed):
    run_top(SMALL, sim, seed, "bad_programs_and_requests")
