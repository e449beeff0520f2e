"""The cluster RTL against the cluster golden model, on both simulators."""

import json

import pytest

from dcom.config import DcomConfig
from dcom.hw.cluster import Cluster
from dcom.hw.hierarchy import ModuleLibrary
from dcom.tb.cosim import HdlDesign, run_cocotb

pytestmark = pytest.mark.cocotb

CONFIGS = {
    "1x1": DcomConfig(grid_rows=1, grid_cols=1, buffer_depth=16),
    "2x4": DcomConfig(grid_rows=2, grid_cols=4, buffer_depth=16),
    "4x4-fp16acc": DcomConfig(grid_rows=4, grid_cols=4, buffer_depth=16, acc_format="fp16"),
    "4x2-pipelined": DcomConfig(grid_rows=4, grid_cols=2, buffer_depth=16, mul_stages=2,
                                add_stages=1, tree_registers=False),
    "8x8": DcomConfig(grid_rows=8, grid_cols=8, buffer_depth=16),
}


def cluster_design(config: DcomConfig) -> HdlDesign:
    """The cluster emitted hierarchically: its units once, then the cluster module."""
    def emit(out_dir):
        library = ModuleLibrary()
        library.register("dcom_cluster", Cluster(config, library))
        path = out_dir / "dcom_cluster.v"
        path.write_text("\n".join(library.text(name) for name in library.names))
        return [path]
    return HdlDesign("dcom_cluster", emit, config.to_dict())


@pytest.mark.parametrize("name", CONFIGS)
def test_cluster_bit_exact(name, sim, seed):
    config = CONFIGS[name]
    commands = 200 if sim == "verilator" else 60
    run_cocotb(cluster_design(config), "dcom.tb.cluster", sim, seed=seed,
               env={"DCOM_CONFIG": json.dumps(config.to_dict()),
                    "DCOM_RANDOM_COMMANDS": str(commands)})
