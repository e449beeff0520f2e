"""Project folders that dcom reads at run time, found alike in an installed package and a
source checkout, and the fingerprint of dcom's sources.

``dcom generate`` copies ``docs/isa.md`` next to the Verilog it writes, and ``dcom regress``
runs the test suite in ``tests/``. pyproject.toml ships both folders inside the package, as
``dcom/docs`` and ``dcom/tests`` (its ``dcom.docs`` and ``dcom.tests`` packages and their
package-data); a source checkout, editable installs included, keeps them next to ``dcom/``.
"""

from __future__ import annotations

import functools
import hashlib
from importlib import resources
from pathlib import Path

__all__ = ["SHIPPED", "shipped_path", "source_fingerprint"]

#: Each shipped folder, with globs (relative to it) of the files dcom reads from it at run time.
SHIPPED = {"docs": ("isa.md",), "tests": ("*.py",)}


def shipped_path(folder: str) -> Path:
    """Where ``folder`` is: inside the installed package if it is there, else beside the
    package in the source tree.

    Parameters
    ----------
    folder : str
        A key of :data:`SHIPPED`.

    Raises
    ------
    ValueError
        If ``folder`` is not a key of :data:`SHIPPED`.
    """
    if folder not in SHIPPED:
        raise ValueError(f"folder={folder!r}; allowed values: "
                         f"{', '.join(repr(name) for name in SHIPPED)}")
    package = Path(str(resources.files("dcom")))
    installed = package / folder
    return installed if installed.is_dir() else package.parent / folder


@functools.cache
def source_fingerprint() -> str:
    """Hash of every Python source of dcom's packages and of Amaranth's version: what a result
    computed by dcom depends on besides its inputs (a cached Verilog conversion, a sweep point),
    so that a changed dcom computes it again."""
    import amaranth

    import dcom
    from dcom import hw, sw, synth, tb

    digest = hashlib.sha256(amaranth.__version__.encode())
    for package in (dcom, hw, sw, synth, tb):
        for source in sorted(Path(package.__file__).parent.glob("*.py")):
            digest.update(source.name.encode())
            digest.update(source.read_bytes())
    return digest.hexdigest()
