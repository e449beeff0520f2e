"""dcom synth: synthesis to a 15nm-style standard-cell library with SRAM macros.

* :mod:`~dcom.synth.technology`: the public process facts (and stated estimates) everything
  else derives from; sources in ``docs/liberty.md``.
* :mod:`~dcom.synth.cells`: the standard-cell catalogue and its Verilog simulation models.
* :mod:`~dcom.synth.liberty`: writes the Liberty library.
* :mod:`~dcom.synth.liberty_reader`: reads area, leakage and pins from any Liberty file.
* :mod:`~dcom.synth.sram`: the SRAM macro model and its views (stub, model, Liberty, techmap).
* :mod:`~dcom.synth.flow`: the Yosys flow and its result.
* :mod:`~dcom.synth.report`: JSON + Markdown + PNG reports, shared with other dcom tools.
"""

from .flow import (LibertyError, SynthesisError, SynthesisResult, synthesize,
                   synthesize_amaranth)
from .liberty import write_liberty
from .cells import write_verilog_models

__all__ = ["LibertyError", "SynthesisError", "SynthesisResult", "synthesize",
           "synthesize_amaranth", "write_liberty", "write_verilog_models"]
