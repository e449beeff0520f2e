"""The systolic array (the comparison baseline) against NumPy, on both simulators."""

import json

import pytest

from dcom.hw.systolic import SystolicArray
from dcom.tb.cosim import HdlDesign, library_emitter, run_cocotb

pytestmark = pytest.mark.cocotb

# Small non-square arrays: FP16 accumulation with combinational multipliers, and FP32
# accumulation with a pipelined multiplier (what `dcom synth` compares with).
ARRAYS = {
    "3x2-fp16acc": dict(rows=3, cols=2, buffer_depth=32, acc_format="fp16", mul_stages=0),
    "2x3-fp32acc-s1": dict(rows=2, cols=3, buffer_depth=32, acc_format="fp32", mul_stages=1),
}


def systolic_design(params: dict) -> HdlDesign:
    """The array emitted hierarchically: the PE and its units once."""
    return HdlDesign("dcom_systolic", library_emitter(
        lambda library: SystolicArray(**params, library=library), "dcom_systolic"), params)


@pytest.mark.parametrize("name", ARRAYS)
def test_systolic_matrix_vector(name, sim, seed):
    params = ARRAYS[name]
    run_cocotb(systolic_design(params), "dcom.tb.systolic", sim, seed=seed,
               env={"DCOM_SYSTOLIC": json.dumps(params)})
