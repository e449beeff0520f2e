"""Emit repeated blocks once and instantiate them.

Amaranth writes one Verilog module per instance, so a 16 x 16 array of clusters of 64
multipliers written flat is enormous. A :class:`SharedModule` stands for a block in the design:
in a flat build (``library=None``) it is the block itself, which Amaranth's simulator can see
into; in a hierarchical build it is an ``Instance`` of a module that a :class:`ModuleLibrary`
emits once, however many times it is instantiated.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Callable

from amaranth.back import verilog
from amaranth.hdl import ClockSignal, Instance, Module, ResetSignal, Value
from amaranth.lib import wiring
from amaranth.lib.wiring import In

__all__ = ["ModuleLibrary", "SharedModule", "module_header", "module_ports"]


def module_header(verilog_text: str, name: str) -> re.Match:
    """The ``module name(ports);`` header of module ``name`` in Amaranth-style Verilog; its
    group 1 is the port list."""
    header = re.search(rf"^module {re.escape(name)}\((.*?)\);\n", verilog_text,
                       re.MULTILINE | re.DOTALL)
    if header is None:
        raise ValueError(f"no module {name} in the Verilog")
    return header


def module_ports(verilog_text: str, name: str) -> set[str]:
    """The port names of module ``name``."""
    return {p.strip() for p in module_header(verilog_text, name)[1].split(",")}


class ModuleLibrary:
    """The distinct modules of a hierarchical build, each converted to Verilog once.

    Parameters
    ----------
    progress : callable, optional
        Called with a line of text as each module is converted.

    Modules are registered by name as the design elaborates; :meth:`text` gives their Verilog
    and :meth:`write` writes it. Registering one name with two different designs is an error, since the name is what
    every instance refers to.
    """

    def __init__(self, progress: Callable[[str], None] | None = None):
        self._progress = progress
        self._text: dict[str, str] = {}
        self._clocked: dict[str, bool] = {}
        self._order: list[str] = []

    def register(self, name: str, block: wiring.Component) -> bool:
        """Convert ``block`` to module ``name`` unless already done; return whether it is clocked."""
        if name in self._text:
            block._MustUse__silence = True  # an equal block was converted already
        else:
            self._add(name, verilog.convert(block, name=name, emit_src=False))
        return self._clocked[name]

    def register_verilog(self, name: str, text: str) -> None:
        """Add module ``name`` written directly in Verilog (once; later calls must agree)."""
        if name in self._text:
            assert self._text[name] == text, f"two designs named {name}"
        else:
            self._add(name, text)

    def _add(self, name: str, text: str) -> None:
        self._text[name] = text
        self._clocked[name] = "clk" in module_ports(text, name)
        self._order.append(name)
        if self._progress is not None:
            self._progress(f"module {name}: {len(text) / 1e3:.0f} kB")

    def write(self, out_dir, transform: Callable[[str], str] | None = None) -> list[Path]:
        """Write every module to ``<out_dir>/<name>.v`` (its text through ``transform``, if
        given); return the files, leaves first."""
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        files = []
        for name in self._order:
            files.append(out_dir / f"{name}.v")
            files[-1].write_text(transform(self._text[name]) if transform else self._text[name])
        return files

    @property
    def names(self) -> list[str]:
        """Registered module names, in registration order (leaves first)."""
        return list(self._order)

    def text(self, name: str) -> str:
        """Verilog of the module ``name`` (with the modules Amaranth nested inside it)."""
        return self._text[name]

    def digest(self, name: str) -> str:
        """SHA-256 of the module's Verilog."""
        return hashlib.sha256(self._text[name].encode()).hexdigest()


class SharedModule(wiring.Component):
    """A block built by ``make``, flat or as an instance of a once-emitted module.

    Parameters
    ----------
    module_name : str
        Verilog module name; must identify ``make``'s design uniquely (encode its parameters).
    make : callable
        Returns a fresh ``wiring.Component``; its ports may be nested interfaces.
    library : ModuleLibrary or None
        ``None`` for a flat build; otherwise the library the module is emitted into.
    """

    def __init__(self, module_name: str, make: Callable[[], wiring.Component],
                 library: ModuleLibrary | None = None):
        self._module_name = module_name
        self._block = make()
        self._library = library
        self.latency = getattr(self._block, "latency", 0)
        super().__init__(dict(self._block.signature.members))

    def elaborate(self, platform):
        ours = list(self.signature.flatten(self))
        if self._library is None:
            m = Module()
            m.submodules.block = block = self._block
            for (path, member, mine), (_, _, theirs) in zip(ours, block.signature.flatten(block)):
                m.d.comb += (theirs.eq(mine) if member.flow == In else mine.eq(theirs))
            return m
        # Amaranth names the Verilog port of a nested member by joining its path with "__".
        ports = {f"{'i' if member.flow == In else 'o'}_{'__'.join(map(str, path))}":
                 Value.cast(value) for path, member, value in ours}
        if self._library.register(self._module_name, self._block):
            ports.update(i_clk=ClockSignal(), i_rst=ResetSignal())
        # The instance itself stands here, so no wrapper module is written around it.
        return Instance(self._module_name, **ports)
