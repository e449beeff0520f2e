"""cocotb testbench of the pipelined floating-point units on Verilator and Icarus Verilog.

All units sit in one bench design (:class:`dcom.tb.fp_designs.FPUnitBench`), so each simulator
builds one design; each test streams special-value pairs and random vectors through one unit.
The ``sim`` fixture (tests/conftest.py) runs every test on each simulator, skipping one that
is not installed with the reason from ``dcom.simulators.available``.
"""

import pytest

from dcom.tb.cosim import HdlDesign, amaranth_emitter, run_cocotb
from dcom.tb.fp_designs import BENCH_STAGES, FPUnitBench
from dcom.tb.fp_reference import UNITS

# Random vectors besides the special-value pairs: Icarus is far slower than Verilator.
RANDOM_VECTORS = {"verilator": 20000, "icarus": 1000}

BENCH = HdlDesign("fp_unit_bench", amaranth_emitter(FPUnitBench, "fp_unit_bench"),
                  {"stages": BENCH_STAGES})


@pytest.mark.cocotb
@pytest.mark.parametrize("unit", list(UNITS))
def test_fp_unit_cocotb(sim, unit, seed):
    run_cocotb(BENCH, "dcom.tb.fp_units", sim, seed=seed, run_name=f"{unit}-{sim}", env={
        "DCOM_FP_UNIT": unit,
        "DCOM_FP_LATENCY": str(BENCH_STAGES[unit]),
        "DCOM_FP_VECTORS": str(RANDOM_VECTORS[sim]),
        "DCOM_FP_SEED": str(seed),
    })
