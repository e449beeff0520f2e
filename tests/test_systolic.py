"""The systolic array (the comparison baseline) against NumPy, on both simulators."""

import json

import pytest

from dcom.hw.hierarchy import ModuleLibrary
from dcom.hw.systolic import SystolicArray
from dcom.tb.cosim import HdlDesign, run_cocotb

pytestmark = pytest.mark.cocotb

# One small non-square array with FP16 accumulation and combinational multipliers; the FP32,
# pipelined array of `dcom synth` runs (and is checked against the same model) in
# tests/test_synth_power.py.
ARRAYS = {
    "3x2-fp16acc": dict(rows=3, cols=2, buffer_depth=32, acc_format="fp16", mul_stages=0),
}


def systolic_design(params: dict) -> HdlDesign:
    """The array emitted hierarchically: the PE and its units once."""
    def emit(out_dir):
        library = ModuleLibrary()
        library.register("dcom_systolic", SystolicArray(**params, library=library))
        path = out_dir / "dcom_systolic.v"
        path.write_text("\n".join(library.text(name) for name in library.names))
        return [path]
    return HdlDesign("dcom_systolic", emit, params)


@pytest.mark.parametrize("name", ARRAYS)
def test_systolic_matrix_vector(name, sim, seed):
    params = ARRAYS[name]
    run_cocotb(systolic_design(params), "dcom.tb.systolic", sim, seed=seed,
               env={"DCOM_SYSTOLIC": json.dumps(params)})
