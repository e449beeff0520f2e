"""``dcom generate``: the Verilog of a D-com instance, one file per distinct module.

Every repeated block (cluster, multiplier, adder, converter) is emitted once as its own module
and instantiated, so the 16 x 16 top level is a small file. The output folder also receives a
manifest (configuration, modules, file hashes) and the ISA document.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from pathlib import Path

from dcom import __version__
from dcom.config import DcomConfig
from dcom.hw.hierarchy import ModuleLibrary
from dcom.hw.top import Dcom

__all__ = ["LINT_WAIVERS", "TOP_MODULE", "emit_verilog", "generate"]

TOP_MODULE = "dcom_top"
ISA_DOC = Path(__file__).resolve().parent.parent / "docs" / "isa.md"

#: Verilator configuration that waives the warnings ``verilator --lint-only -Wall`` gives on
#: Amaranth's output, each for the reason stated; nothing else is waived.
LINT_WAIVERS = """`verilator_config
// Amaranth writes a block's nested wrapper modules (named block.child) into the block's file.
lint_off -rule DECLFILENAME
// Amaranth assigns a default before every case statement, so values the cases leave out
// (an array index beyond its length, an unused enum value) take that default.
lint_off -rule CASEINCOMPLETE
// Amaranth gives registers their reset value as an initial value in the declaration.
lint_off -rule PROCASSINIT
// Amaranth declares a wire for every named intermediate value and field, used or not.
lint_off -rule UNUSEDSIGNAL
// Amaranth mixes operand widths in comparisons, shifts and logic; Verilog's extension and
// truncation rules give exactly the values Amaranth defines.
lint_off -rule WIDTHEXPAND
lint_off -rule WIDTHTRUNC
"""
LINT_FILE = "dcom_lint.vlt"


def emit_verilog(config: DcomConfig, out_dir: Path, progress=None) -> list[Path]:
    """Write ``<module>.v`` for every distinct module of the instance; return the files.

    Parameters
    ----------
    config : DcomConfig
    out_dir : Path
        Created if missing.
    progress : callable, optional
        Called with a line of text as modules are converted.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    library = ModuleLibrary(progress=progress)
    library.register(TOP_MODULE, Dcom(config, library))
    files = []
    for name in library.names:
        path = out_dir / f"{name}.v"
        path.write_text(library.text(name))
        files.append(path)
    return files


def generate(config: DcomConfig, out_dir: Path, quiet: bool = False) -> dict:
    """Emit the Verilog, ``manifest.json`` and ``isa.md`` into ``out_dir``; return the manifest."""
    def say(line):
        if not quiet:
            print(line, flush=True)

    start = time.monotonic()
    say(f"dcom generate: {config.describe()}")
    files = emit_verilog(config, out_dir, progress=lambda line: say(
        f"  [{time.monotonic() - start:6.1f} s] {line}"))
    shutil.copyfile(ISA_DOC, Path(out_dir) / "isa.md")
    (Path(out_dir) / LINT_FILE).write_text(LINT_WAIVERS)
    manifest = {
        "generator": f"dcom {__version__}",
        "top": TOP_MODULE,
        "config": config.to_dict(),
        "modules": [
            {"module": f.stem, "file": f.name, "bytes": f.stat().st_size,
             "sha256": hashlib.sha256(f.read_bytes()).hexdigest()}
            for f in files
        ],
        "total_bytes": sum(f.stat().st_size for f in files),
        "lint": f"verilator --lint-only -Wall {LINT_FILE} *.v --top-module {TOP_MODULE}",
        "seconds": round(time.monotonic() - start, 2),
    }
    (Path(out_dir) / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    say(f"wrote {len(files)} modules, {manifest['total_bytes'] / 1e6:.2f} MB, to {out_dir} "
        f"in {manifest['seconds']} s")
    return manifest
