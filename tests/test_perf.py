"""The paper's workloads on the performance model: Lanczos phases, the expansion-factor
sweep, the GPU model and ``dcom perf``."""

import json

import pytest

from dcom.cli import main
from dcom.config import DcomConfig
from dcom.sw.compiler import CompileError
from dcom.sw.gpumodel import A100_80GB_SXM, gpu_seconds, lanczos_kernels
from dcom.sw.perf import Workload, expansion_sweep, lanczos_perf, lanczos_phases
from dcom.sw.validation import InputError
from dcom.tb.top import LANCZOS_CASES


def test_lanczos_workload_and_phases():
    config = LANCZOS_CASES["2x4-4x4-f4-default-pipeline"][0]
    run = lanczos_perf(config, Workload(batch=3, seq=29, hidden=35, rank=3))
    assert run.workload.steps == 6
    phases = lanczos_phases(run.compiled.program, 6)
    assert phases[0] == "setup" and phases[-1] == "store"
    assert [p for p in dict.fromkeys(phases)] == ["setup"] + [f"step {j}" for j in range(6)] \
        + ["store"]
    per_phase = run.phase_cycles()
    assert sum(sum(c.values()) for c in per_phase.values()) == sum(run.timing.by_class.values())
    assert run.batch_seconds == pytest.approx(3 * run.timing.seconds)
    with pytest.raises(InputError, match="steps"):
        Workload(rank=10, steps=5)
    with pytest.raises(CompileError, match="buffer_depth"):
        lanczos_perf(config, Workload(seq=4096, hidden=4096))


def test_paper_workload_fits_the_default_configuration_and_sweeps():
    runs = expansion_sweep(DcomConfig(), Workload(), factors=[1, 8])
    assert [r.config.expansion for r in runs] == [1, 8]
    assert runs[1].timing.total < runs[0].timing.total
    assert runs[1].bound_cycles < runs[1].timing.total


def test_gpu_model():
    kernels = lanczos_kernels(4096, 4096, 20)
    # Start vector: norm, scale; step 0: MV, norm, scale; steps j > 0: MTV, MV, 2 x 4
    # reorthogonalization GEMVs, 2 x (norm, scale).
    assert len(kernels) == 2 + 3 + 19 * 14
    mv = next(k for k in kernels if k.name == "MV")
    assert mv.seconds(A100_80GB_SXM) == pytest.approx(5e-6 + 2 * 4096 * 4098 / 2.039e12)
    batched = gpu_seconds(A100_80GB_SXM, 4096, 4096, 20, 64, batched=True)
    assert batched < gpu_seconds(A100_80GB_SXM, 4096, 4096, 20, 64)


def test_cli_perf(tmp_path, capsys):
    out = tmp_path / "perf"
    assert main(["perf", "--clusters", "2x4", "--grid", "4x4", "--buffer-depth", "128",
                 "--seq", "37", "--hidden", "37", "--rank", "4", "--batch", "2",
                 "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "Expansion-factor sweep" in printed and "[4/4] f=8" in printed
    data = json.loads((out / "perf.json").read_text())
    assert [p["expansion"] for p in data["sweep"]] == [1, 2, 4, 8]
    assert sorted(p.name for p in out.glob("*.png")) == [
        "perf-cycles-per-lanczos-step.png", "perf-expansion-factor-sweep.png",
        "perf-roofline-modelled-cycles-against-the-throughput-bound.png"]
    for argv, message in ((["--rank", "0"], "rank"), (["--expansion", "3"], "expansion"),
                          (["--clusters", "2x2", "--expansion", "4"], "buffer_depth")):
        with pytest.raises(SystemExit) as exit_:
            main(["perf", "--out", str(out)] + argv)
        assert exit_.value.code == 2
        assert message in capsys.readouterr().err
