"""A GPU baseline for Lanczos bidiagonalization, modelled from published A100 figures.

The paper compares D-com with Lanczos on an A100 80GB GPU (section 6.4: D-com "about 8x
faster" at decomposition; Table 2's "Decomp. GPU Time" against "Decomp. Accel. Time"). This
module models the GPU side as a sequence of dependent kernels, the ones a PyTorch or cuBLAS
implementation of the same algorithm launches, each taking

    launch overhead + max(bytes moved / HBM bandwidth, flops / FP16 throughput)

Every figure is a field of :class:`GpuSpec` with its public source in :attr:`GpuSpec.sources`.
The kernels (:func:`lanczos_kernels`) follow the program :func:`dcom.sw.compiler.compile_lanczos`
emits, step for step: the same matrix products, classical Gram-Schmidt applied twice against
all earlier vectors, norm and scaling, in FP16 storage.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dcom.config import FORMATS
from dcom.sw.validation import check_int

__all__ = ["GpuSpec", "A100_80GB_SXM", "CUDA_GRAPH_LAUNCH_S", "CUDA_GRAPH_SOURCE", "Kernel",
           "lanczos_kernels", "gpu_seconds"]

#: Bytes of an FP16 value, the storage format of the matrix and the Lanczos vectors.
FP16_BYTES = FORMATS["fp16"].width // 8


@dataclass(frozen=True)
class GpuSpec:
    """The figures of a GPU the baseline needs.

    Attributes
    ----------
    name : str
    hbm_bytes_per_s : float
        Peak memory bandwidth.
    fp16_flops : float
        Peak FP16 throughput of the CUDA cores (non-tensor): matrix-vector products do not
        map to tensor cores.
    fp16_tensor_flops : float
        Peak dense FP16 tensor-core throughput, for reference (a GEMV cannot use it).
    launch_s : float
        Time from one dependent kernel to the next when the kernels are small: launch and
        scheduling overhead.
    sources : dict of str to str
        Where each figure comes from.
    """

    name: str
    hbm_bytes_per_s: float
    fp16_flops: float
    fp16_tensor_flops: float
    launch_s: float
    sources: dict = field(default_factory=dict, compare=False)

    def with_launch(self, launch_s: float) -> "GpuSpec":
        """The same GPU with another launch overhead."""
        return GpuSpec(self.name, self.hbm_bytes_per_s, self.fp16_flops,
                       self.fp16_tensor_flops, launch_s, self.sources)


A100_80GB_SXM = GpuSpec(
    name="NVIDIA A100 80GB SXM",
    hbm_bytes_per_s=2.039e12,
    fp16_flops=78e12,
    fp16_tensor_flops=312e12,
    launch_s=5e-6,
    sources={
        "hbm_bytes_per_s": "NVIDIA A100 Tensor Core GPU datasheet (nvidia-a100-datasheet-us-"
                           "nvidia-1758950-r4-web.pdf): 2,039 GB/s HBM2e, A100 80GB SXM",
        "fp16_flops": "NVIDIA Ampere GA100 architecture whitepaper, table 1, and NVIDIA "
                      "'Hopper architecture in depth' blog, table 3: peak FP16 (non-tensor) "
                      "78 TFLOPS on A100",
        "fp16_tensor_flops": "same tables: peak FP16 tensor 312 TFLOPS dense (624 sparse)",
        "launch_s": "5 us, the low end of the 5-10 us a small dependent kernel costs; NVIDIA's "
                    "Nsight Systems user guide measures about 20 us for a PyTorch elementwise "
                    "kernel round trip on a V100, so 5 us favours the GPU",
    },
)


#: Launch-to-launch time of dependent kernels replayed from a CUDA graph, and its source.
CUDA_GRAPH_LAUNCH_S = 1e-6
CUDA_GRAPH_SOURCE = ("NVIDIA Technical Blog, 'Getting Started with CUDA Graphs' (A. Gray, "
                     "2019): replayed from a graph, a chain of short kernels runs with well "
                     "under 1 us between one kernel and the next; 1 us favours D-com slightly")


@dataclass(frozen=True)
class Kernel:
    """One GPU kernel: what it is, the bytes it moves and the flops it performs."""

    name: str
    bytes: float
    flops: float

    def seconds(self, gpu: GpuSpec) -> float:
        """Launch overhead plus the larger of memory and compute time."""
        return gpu.launch_s + max(self.bytes / gpu.hbm_bytes_per_s, self.flops / gpu.fp16_flops)


def _gemv(name: str, rows: int, cols: int, batch: int) -> Kernel:
    """``y = A x`` with ``A`` ``rows x cols``: reads ``A`` and ``x``, writes ``y``."""
    return Kernel(name, FP16_BYTES * batch * (rows * cols + rows + cols), 2 * batch * rows * cols)


def _reorthogonalize(side: str, length: int, vectors: int, batch: int) -> list[Kernel]:
    """Classical Gram-Schmidt twice against ``vectors`` stored vectors of ``length``:
    coefficients ``c = B^T w`` then ``w -= B c``, each a GEMV."""
    kernels = []
    for _ in range(2):
        kernels.append(_gemv(f"PROJ {side}", vectors, length, batch))
        update = _gemv(f"UPDATE {side}", length, vectors, batch)
        # The update also reads w before subtracting.
        kernels.append(Kernel(update.name, update.bytes + FP16_BYTES * batch * length,
                              update.flops + batch * length))
    return kernels


def _normalize(side: str, length: int, batch: int) -> list[Kernel]:
    """The norm (a reduction over the vector), then the scaling into the basis."""
    return [Kernel(f"NORM {side}", FP16_BYTES * batch * length, 2 * batch * length),
            Kernel(f"SCALE {side}", 2 * FP16_BYTES * batch * length, batch * length)]


def lanczos_kernels(rows: int, cols: int, steps: int, batch: int = 1) -> list[Kernel]:
    """The kernels of ``steps`` Lanczos steps on ``batch`` matrices of ``rows x cols``.

    With ``batch > 1`` every kernel works on all the matrices at once (batched GEMV), so the
    launches are shared; with ``batch = 1`` a caller runs the list once per matrix.

    Returns
    -------
    list of Kernel
        In launch order, every kernel depending on the one before.
    """
    rows, cols = check_int(rows, "rows", 1), check_int(cols, "cols", 1)
    steps = check_int(steps, "steps", 1, min(rows, cols))
    batch = check_int(batch, "batch", 1)
    kernels = _normalize("V", cols, batch)
    for j in range(steps):
        if j > 0:
            kernels.append(_gemv("MTV", cols, rows, batch))
            kernels += _reorthogonalize("V", cols, j, batch)
            kernels += _normalize("V", cols, batch)
        kernels.append(_gemv("MV", rows, cols, batch))
        if j > 0:
            kernels += _reorthogonalize("U", rows, j, batch)
        kernels += _normalize("U", rows, batch)
    return kernels


def gpu_seconds(gpu: GpuSpec, rows: int, cols: int, steps: int, batch: int = 1, *,
                batched: bool = False) -> float:
    """Time of Lanczos on ``batch`` matrices: one after the other, or all in each kernel."""
    if batched:
        return sum(k.seconds(gpu) for k in lanczos_kernels(rows, cols, steps, batch))
    return batch * sum(k.seconds(gpu) for k in lanczos_kernels(rows, cols, steps))
