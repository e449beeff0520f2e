"""dcom.sw: the software side of dcom.

Public API (numpydoc docstrings on each)::

    from dcom.sw import lanczos_bidiag, hw_lanczos_bidiag, decompose_batch

* :func:`lanczos_bidiag` -- float64 reference Lanczos bidiagonalization (Algorithm 1 of the
  paper), returning ``U, s, Vt`` like :func:`numpy.linalg.svd`.
* :func:`hw_lanczos_bidiag` -- the same algorithm with D-com's arithmetic, bit for bit
  (docs/arithmetic.md); raises :class:`HardwareOverflowError` instead of returning inf/NaN.
* :func:`isa_lanczos` -- the same run compiled to D-com's instruction set and executed by the
  ISA simulator (:mod:`dcom.sw.isasim`); :func:`compile_lanczos` gives the program itself.
* :class:`LanczosInfo` -- alphas, betas, Lanczos bases and breakdown of a run.
* The decomposition toolkit of paper sections 3 and 4 (:mod:`dcom.sw.decompose`):
  :func:`decompose_activation`, :func:`decompose_batch`, :func:`reconstruct_batch`,
  :func:`calibrate_thresholds`, :func:`outlier_channels`, :class:`DecomposedActivation`,
  :class:`OutlierThresholds` and the eq. 8 to 12 ratios.
* :class:`InputError` -- every refused argument; it names the parameter and the allowed values.

Lower layers, for testbenches, the compiler and the ISA simulator: :mod:`dcom.sw.fparith`
(datapath arithmetic on float16/float32 arrays and their bit patterns), :mod:`dcom.sw.mapping`
(placement of a matrix on the clusters) and :mod:`dcom.sw.hwkernels` (MV, MTV, DOT,
reorthogonalization, normalization).
"""

from dcom.sw.compiler import CompileError, compile_lanczos, isa_lanczos
from dcom.sw.decompose import (DecomposedActivation, OutlierThresholds,
                               activation_compression_ratio, calibrate_thresholds,
                               decompose_activation, decompose_batch,
                               input_compute_reduction, input_weight_compute_reduction,
                               max_weight_rank, outlier_channels, reconstruct_batch,
                               weight_compression_ratio)
from dcom.sw.hwlanczos import HardwareOverflowError, hw_lanczos_bidiag
from dcom.sw.lanczos import LanczosInfo, lanczos_bidiag
from dcom.sw.validation import InputError

__all__ = ["lanczos_bidiag", "hw_lanczos_bidiag", "isa_lanczos", "compile_lanczos",
           "CompileError", "LanczosInfo", "HardwareOverflowError",
           "InputError", "decompose_activation", "decompose_batch", "reconstruct_batch",
           "calibrate_thresholds", "outlier_channels", "DecomposedActivation",
           "OutlierThresholds", "input_compute_reduction", "input_weight_compute_reduction",
           "activation_compression_ratio", "max_weight_rank", "weight_compression_ratio"]
