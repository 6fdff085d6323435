"""The layers of STYLE.md hold: imports only point down, h5py/dask/numba stay in their layers.

kernels  <- model  <- (sweep, cube)  <- analysis  <- cli

The rules are import-linter contracts in ``pyproject.toml`` ([tool.importlinter]);
this test runs them. Imports through the package root (``from renp_scan import X``
or ``from .. import X`` inside the package), which import-linter cannot tell from
imports of a subpackage, are checked here on every module's import statements.
"""

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "renp_scan"


def test_import_contracts_hold():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-c", "import sys; from importlinter.cli import lint_imports; "
         "sys.exit(lint_imports(no_cache=True, no_logo=True))"],
        cwd=ROOT, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # Every contract ran (a renamed section or a typo would silently check nothing).
    for contract in ("Layers:", "does not import the sweep layer", "touches h5py",
                     "touches dask", "touch numba"):
        assert contract in proc.stdout, proc.stdout
    assert "0 broken" in proc.stdout


def module_files():
    return sorted(p for p in PKG.rglob("*.py") if "__pycache__" not in p.parts)


def root_imports(source: str, depth: int):
    """Names one module imports from the package root itself.

    ``depth`` is the module's depth below ``renp_scan/`` (1 for ``renp_scan/x.py``,
    2 for ``renp_scan/a/x.py``): ``from .. import X`` reaches the root at depth 2.
    """
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names if a.name == "renp_scan")
        elif isinstance(node, ast.ImportFrom):
            absolute_root = node.level == 0 and node.module == "renp_scan"
            relative_root = node.level == depth and node.module is None
            if absolute_root or relative_root:
                # Importing a submodule by name (from . import errors) is not going
                # through the root's namespace; anything else is.
                yield from (f"renp_scan.{a.name}" for a in node.names
                            if not (PKG / a.name).is_dir() and not (PKG / f"{a.name}.py").is_file())


@pytest.mark.parametrize("path", [p for p in module_files() if p.name != "__main__.py"],
                         ids=lambda p: str(p.relative_to(PKG)))
def test_no_imports_through_the_package_root(path):
    # The root re-exports the public API; a module importing it runs the whole package's
    # import and hides which layer it really depends on.
    if path == PKG / "__init__.py":
        return
    assert list(root_imports(path.read_text(), len(path.relative_to(PKG).parts))) == []


def test_root_import_check_sees_every_spelling():
    # Guards root_imports: it must flag the forms once found in the package.
    source = ("from .. import __version__\nimport renp_scan\nfrom renp_scan import spectrum\n"
              "from ..model import spectrum\nfrom . import layout\n")
    assert sorted(root_imports(source, 2)) == ["renp_scan", "renp_scan.__version__",
                                               "renp_scan.spectrum"]
    assert list(root_imports("from . import errors\nfrom . import open_cube\n", 1)) == [
        "renp_scan.open_cube"]
