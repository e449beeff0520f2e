"""dcom synth: synthesis to a 15nm-style standard-cell library with SRAM macros, and timing.

* :mod:`~dcom.synth.technology`: the public process facts (and stated estimates) everything
  else derives from; sources in ``docs/liberty.md``.
* :mod:`~dcom.synth.cells`: the standard-cell catalogue and its Verilog simulation models.
* :mod:`~dcom.synth.liberty`: writes the Liberty library.
* :mod:`~dcom.synth.liberty_reader`: reads area, leakage, pins and timing arcs from any
  Liberty file.
* :mod:`~dcom.synth.sram`: the SRAM macro model and its views (stub, model, Liberty, techmap).
* :mod:`~dcom.synth.flow`: the Yosys flow and its result.
* :mod:`~dcom.synth.design`: hierarchical synthesis of dcom's designs (each distinct module
  once) and area by category; :mod:`~dcom.synth.categories` says which cell is what.
* :mod:`~dcom.synth.netlist`: the synthesized netlist as drivers and loads per net.
* :mod:`~dcom.synth.sta`: static timing analysis of the netlist (setup, hold, fmax, the worst
  paths), each distinct module once; method in ``docs/timing.md``.
* :mod:`~dcom.synth.workloads`: the Lanczos step the power figures are measured on.
* :mod:`~dcom.synth.gatesim`, :mod:`~dcom.synth.activity`, :mod:`~dcom.synth.measure`,
  :mod:`~dcom.synth.power`: RTL and gate-level simulation, transitions per net, and power.
* :mod:`~dcom.synth.evaluate`: ``dcom synth``, with the systolic-array comparison; method in
  ``docs/power.md``.
* Reports (JSON + Markdown + PNG) are written with :mod:`dcom.report`, shared with other dcom
  tools.
"""

from .flow import (LibertyError, SynthesisError, SynthesisResult, synthesize,
                   synthesize_amaranth)
from .liberty import write_liberty
from .cells import write_verilog_models
from .design import synthesize_library

__all__ = ["LibertyError", "SynthesisError", "SynthesisResult", "synthesize",
           "synthesize_amaranth", "synthesize_library", "write_liberty", "write_verilog_models"]
