"""The layers of STYLE.md hold: imports only point down, dask/h5py stay in their layers.

kernels  <- model  <- (sweep, cube)  <- analysis  <- cli
Checked statically on every module's import statements (an import-linter contract in test form).
"""

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "renp_scan"

# layer -> package-internal layers it must not import
FORBIDDEN_INTERNAL = {
    "kernels": {"model", "sweep", "cube", "analysis", "cli", "plotting"},
    "model": {"sweep", "cube", "analysis", "cli", "plotting"},
    "cube": {"sweep", "analysis", "cli"},
    "sweep": {"analysis", "cli"},
}
# third-party packages confined to some layers
CONFINED = {"dask": {"sweep", "analysis"}, "distributed": {"sweep", "analysis"}, "h5py": {"cube", "analysis"}}


def module_files():
    return sorted(p for p in PKG.rglob("*.py") if "__pycache__" not in p.parts)


def layer_of(path: Path) -> str:
    rel = path.relative_to(PKG)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def imports_of(path: Path):
    tree = ast.parse(path.read_text())
    rel_pkg = path.relative_to(PKG).parent.parts
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                yield a.name
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                yield node.module or ""
            else:
                base = list(rel_pkg[: len(rel_pkg) - (node.level - 1)]) if node.level > 1 else list(rel_pkg)
                mod = ".".join(["renp_scan", *base] + ([node.module] if node.module else []))
                if node.module is None:
                    for a in node.names:
                        yield mod + "." + a.name
                else:
                    yield mod


@pytest.mark.parametrize("path", module_files(), ids=lambda p: str(p.relative_to(PKG)))
def test_imports_point_down(path):
    layer = layer_of(path)
    for name in imports_of(path):
        parts = name.split(".")
        if parts[0] == "renp_scan" and len(parts) > 1:
            assert parts[1] not in FORBIDDEN_INTERNAL.get(layer, set()), f"{layer} imports {name}"
            if layer == "kernels":
                assert parts[1] == "kernels", f"kernels import {name}"
        top = parts[0]
        if top in CONFINED:
            assert layer in CONFINED[top], f"{top} imported in layer {layer} ({path.name})"
