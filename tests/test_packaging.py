"""What a non-editable install (``pip install .``) ships: every file dcom reads at run time.

setuptools' own ``build_py``, configured from pyproject.toml, lists the wheel's files; nothing
is built or downloaded.
"""

import warnings
from pathlib import Path

import pytest

from dcom import shipped
from dcom.shipped import SHIPPED, shipped_path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("dcom", "hw", "sw", "tb", "synth")

#: Files read as package data with importlib.resources, as (source, path in the wheel).
PACKAGE_DATA = [("tb/fp_harness.cpp", "dcom/tb/fp_harness.cpp")]

needs_source_tree = pytest.mark.skipif(not (ROOT / "pyproject.toml").is_file(),
                                       reason="reads pyproject.toml from the source tree")


@pytest.fixture(scope="module")
def wheel_files():
    """Paths the wheel would hold, relative to site-packages."""
    pytest.importorskip("setuptools", reason="the build backend lists the wheel's files")
    from setuptools.config.pyprojecttoml import apply_configuration
    from setuptools.dist import Distribution

    with pytest.MonkeyPatch.context() as patch, warnings.catch_warnings():
        # pyproject's package-dir is relative to the project folder.
        patch.chdir(ROOT)
        # Older setuptools call [tool.setuptools] beta.
        warnings.simplefilter("ignore", UserWarning)
        dist = Distribution()
        dist.script_name = "setup.py"
        apply_configuration(dist, "pyproject.toml")
        build_py = dist.get_command_obj("build_py")
        build_py.build_lib = "wheel"
        build_py.ensure_finalized()
        outputs = build_py.get_outputs(include_bytecode=False)
    return {Path(p).relative_to("wheel").as_posix() for p in outputs}


def _runtime_files() -> list[tuple[str, str]]:
    """Every file dcom reads at run time, as (source, path in the wheel)."""
    files = list(PACKAGE_DATA)
    for folder, patterns in SHIPPED.items():
        for pattern in patterns:
            found = sorted((ROOT / folder).glob(pattern))
            assert found, f"{folder}/{pattern} matches no file"
            files += [(f"{folder}/{f.name}", f"dcom/{folder}/{f.name}") for f in found]
    return files


@needs_source_tree
def test_the_wheel_ships_every_file_read_at_run_time(wheel_files):
    runtime = _runtime_files()
    assert ("docs/isa.md", "dcom/docs/isa.md") in runtime
    assert ("tests/conftest.py", "dcom/tests/conftest.py") in runtime
    missing = [source for source, installed in runtime if installed not in wheel_files]
    assert not missing, f"not in the wheel (pyproject.toml package-data): {missing}"


@needs_source_tree
def test_no_module_reads_files_beside_the_package():
    """Files next to a module's own file are only where the source tree has them: modules
    find theirs through dcom.shipped or importlib.resources."""
    offenders = []
    for package in PACKAGES:
        for module in sorted((ROOT / package).glob("*.py")):
            for number, line in enumerate(module.read_text().splitlines(), start=1):
                if "Path(__file__)" in line:
                    offenders.append(f"{package}/{module.name}:{number}")
    assert not offenders


def test_shipped_folders_are_found_in_an_install_and_in_a_checkout(tmp_path, monkeypatch):
    package = tmp_path / "site-packages" / "dcom"
    (package / "docs").mkdir(parents=True)
    monkeypatch.setattr(shipped.resources, "files", lambda name: package)
    assert shipped_path("docs") == package / "docs"
    # A checkout has no dcom/tests: the folder next to the package.
    assert shipped_path("tests") == tmp_path / "site-packages" / "tests"
    with pytest.raises(ValueError, match=r"folder='scripts'; allowed values: 'docs', 'tests'"):
        shipped_path("scripts")
