"""``dcom generate``: the Verilog of a D-com instance, one file per distinct module.

Every repeated block (tile, cluster, multiplier, adder, converter, SRAM) is emitted once as its
own module and instantiated, so the 16 x 16 top level is a small file. The output folder also
receives a manifest (configuration, modules, file hashes), the ISA document and the Verilator
lint waivers; :func:`lint` checks every module once.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from dcom import __version__
from dcom.config import DcomConfig
from dcom.hw.hierarchy import ModuleLibrary, module_header
from dcom.hw.top import Dcom

__all__ = ["LINT_WAIVERS", "TOP_MODULE", "LintError", "emit_verilog", "generate", "lint",
           "port_stub"]

TOP_MODULE = "dcom_top"
ISA_DOC = Path(__file__).resolve().parent.parent / "docs" / "isa.md"

#: Verilator configuration that waives the warnings ``verilator --lint-only -Wall`` gives on
#: Amaranth's output, each for the reason stated; nothing else is waived.
LINT_WAIVERS = """`verilator_config
// Amaranth writes a module's unshared submodules (named module.child) into its file.
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
# A port stub declares its ports and nothing else.
_STUB_WAIVERS = """`verilator_config
lint_off -rule UNUSEDSIGNAL -file "*/stubs/*"
lint_off -rule UNDRIVEN -file "*/stubs/*"
"""


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
    library = ModuleLibrary(progress=progress)
    library.register(TOP_MODULE, Dcom(config, library))
    return library.write(out_dir)


def generate(config: DcomConfig, out_dir: Path, quiet: bool = False,
             check_lint: bool = False) -> dict:
    """Emit the Verilog, ``manifest.json`` and ``isa.md`` into ``out_dir``; return the manifest.

    With ``check_lint``, also :func:`lint` every module (raising :class:`LintError` on any
    finding) and record the result in the manifest.
    """
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
        "lint": f"verilator --lint-only -Wall {LINT_FILE} <module>.v <submodule port stubs> "
                f"--top-module <module>, for every module (dcom generate --lint)",
        "seconds": round(time.monotonic() - start, 2),
    }
    if check_lint:
        seconds = lint(out_dir, progress=lambda line: say(f"  {line}"))
        manifest["lint_clean"] = {name: round(s, 2) for name, s in seconds.items()}
    (Path(out_dir) / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    say(f"wrote {len(files)} modules, {manifest['total_bytes'] / 1e6:.2f} MB, to {out_dir} "
        f"in {manifest['seconds']} s")
    return manifest


class LintError(RuntimeError):
    """Verilator found something in a generated module; the message quotes it."""


def port_stub(verilog_text: str, module: str) -> str:
    """A module with the ports of ``module`` in ``verilog_text`` (Amaranth's style) and no
    body."""
    header = module_header(verilog_text, module)
    body = verilog_text[header.end():verilog_text.index("endmodule", header.end())]
    ports = [line for line in body.splitlines() if re.match(r"\s*(input|output|inout)\b", line)]
    return header.group(0) + "\n".join(ports) + "\nendmodule\n"


def lint(out_dir: Path, progress=None) -> dict[str, float]:
    """Lint every module of a generated design once: ``verilator --lint-only -Wall`` with the
    design's waivers, the module as top and its submodules as port stubs.

    Verilator elaborates every instance, so a whole 16 x 16 design takes it tens of gigabytes;
    module by module, each is checked once, and the stubs keep every port connection checked
    against the real ports.

    Returns
    -------
    dict
        Seconds per module.

    Raises
    ------
    LintError
        On any warning or error, naming the module.
    """
    from dcom.simulators import find

    verilator = find("verilator")
    out_dir = Path(out_dir)
    texts = {path.stem: path.read_text() for path in sorted(out_dir.glob("*.v"))}
    seconds = {}
    with tempfile.TemporaryDirectory() as scratch:
        stub_dir = Path(scratch) / "stubs"
        stub_dir.mkdir()
        (Path(scratch) / "stubs.vlt").write_text(_STUB_WAIVERS)
        for name, text in texts.items():
            children = [c for c in texts if c != name and re.search(rf"^\s*{c}\s+\S+\s+\(", text,
                                                                      re.MULTILINE)]
            stubs = []
            for child in children:
                stubs.append(stub_dir / f"{child}.v")
                stubs[-1].write_text(port_stub(texts[child], child))
            start = time.monotonic()
            run = subprocess.run(
                [str(verilator.executable), "--lint-only", "-Wall", str(out_dir / LINT_FILE),
                 str(Path(scratch) / "stubs.vlt"), str(out_dir / f"{name}.v"),
                 *map(str, stubs), "--top-module", name],
                capture_output=True, text=True, check=False, env={**os.environ, **verilator.env})
            seconds[name] = time.monotonic() - start
            for stub in stubs:
                stub.unlink()
            if run.returncode != 0 or "%Warning" in run.stderr:
                raise LintError(f"verilator --lint-only -Wall on {name}:\n{run.stderr[:4000]}")
            if progress:
                progress(f"lint {name}: clean in {seconds[name]:.1f} s")
    return seconds
