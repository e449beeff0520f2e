"""Time Lanczos bidiagonalization of a batch of activations on a real GPU, next to the model.

Runs the algorithm dcom compiles (docs/arithmetic.md's kernels: A v and A^T u, classical
Gram-Schmidt twice against all earlier vectors, norm, scaling) batched over the prompts with
PyTorch, FP16 storage, in a CUDA graph when ``--graph`` is given, and prints the measured time
of the batch beside the GPU model's (``dcom.sw.gpumodel``) and D-com's (``dcom perf``). Needs
PyTorch with a CUDA device; without one it says so and exits with status 2.

    python scripts/gpu_lanczos.py --batch 64 --seq 4096 --hidden 4096 --rank 10 --graph
"""

from __future__ import annotations

import argparse
import sys
import time

from dcom.config import DcomConfig
from dcom.sw.gpumodel import A100_80GB_SXM, CUDA_GRAPH_LAUNCH_S, gpu_seconds
from dcom.sw.perf import Workload, lanczos_perf


def lanczos_batched(torch, a, steps: int):
    """``steps`` Lanczos steps on every matrix of ``a`` (``batch x S x H``, FP16) at once;
    returns the bases and the bidiagonal's diagonals."""
    batch, rows, cols = a.shape
    v_basis = torch.zeros(batch, cols, steps, dtype=a.dtype, device=a.device)
    u_basis = torch.zeros(batch, rows, steps, dtype=a.dtype, device=a.device)
    alphas = torch.zeros(batch, steps, dtype=torch.float32, device=a.device)
    betas = torch.zeros(batch, steps, dtype=torch.float32, device=a.device)
    v = torch.ones(batch, cols, 1, dtype=a.dtype, device=a.device)
    v = v / torch.linalg.vector_norm(v.float(), dim=1, keepdim=True).to(a.dtype)
    v_basis[:, :, :1] = v
    for j in range(steps):
        u = torch.bmm(a, v_basis[:, :, j:j + 1])
        for _ in range(2):                                     # CGS2 against U
            u = u - torch.bmm(u_basis[:, :, :j], torch.bmm(u_basis[:, :, :j].transpose(1, 2), u))
        alpha = torch.linalg.vector_norm(u.float(), dim=1)
        alphas[:, j] = alpha[:, 0]
        u_basis[:, :, j:j + 1] = (u.float() / alpha[:, None]).to(a.dtype)
        if j + 1 < steps:
            z = torch.bmm(a.transpose(1, 2), u_basis[:, :, j:j + 1])
            for _ in range(2):                                 # CGS2 against V
                z = z - torch.bmm(v_basis[:, :, :j + 1],
                                  torch.bmm(v_basis[:, :, :j + 1].transpose(1, 2), z))
            beta = torch.linalg.vector_norm(z.float(), dim=1)
            betas[:, j] = beta[:, 0]
            v_basis[:, :, j + 1:j + 2] = (z.float() / beta[:, None]).to(a.dtype)
    return u_basis, v_basis, alphas, betas


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--seq", type=int, default=4096)
    parser.add_argument("--hidden", type=int, default=4096)
    parser.add_argument("--rank", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=5, help="timed runs (default 5)")
    parser.add_argument("--graph", action="store_true",
                        help="capture the run in a CUDA graph and time its replays")
    args = parser.parse_args(argv)
    workload = Workload(args.batch, args.seq, args.hidden, args.rank)
    try:
        import torch
    except ImportError:
        print("gpu_lanczos: PyTorch is not installed (pip install torch); nothing measured",
              file=sys.stderr)
        return 2
    if not torch.cuda.is_available():
        print("gpu_lanczos: no CUDA device; nothing measured", file=sys.stderr)
        return 2
    device = torch.device("cuda")
    generator = torch.Generator(device=device).manual_seed(0)
    a = torch.randn(args.batch, args.seq, args.hidden, device=device, generator=generator,
                    dtype=torch.float16)
    lanczos_batched(torch, a, workload.steps)                 # warm-up: kernels, allocator
    torch.cuda.synchronize()
    if args.graph:
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            lanczos_batched(torch, a, workload.steps)
        run = graph.replay
    else:
        def run():
            lanczos_batched(torch, a, workload.steps)
    times = []
    for _ in range(args.repeats):
        torch.cuda.synchronize()
        start = time.perf_counter()
        run()
        torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    measured = min(times)
    gpu = A100_80GB_SXM.with_launch(CUDA_GRAPH_LAUNCH_S if args.graph else A100_80GB_SXM.launch_s)
    model = gpu_seconds(gpu, args.seq, args.hidden, workload.steps, args.batch, batched=True)
    dcom = lanczos_perf(DcomConfig(), workload).batch_seconds
    print(f"{workload.describe()} on {torch.cuda.get_device_name(device)}"
          f"{' (CUDA graph)' if args.graph else ''}:")
    print(f"  measured, best of {args.repeats}: {1e3 * measured:10.2f} ms")
    print(f"  GPU model ({gpu.name}, launch {1e6 * gpu.launch_s:g} us): {1e3 * model:10.2f} ms")
    print(f"  D-com model (dcom perf, defaults):        {1e3 * dcom:10.2f} ms "
          f"({measured / dcom:.1f}x faster than measured)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
