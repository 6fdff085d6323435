"""Packaging: metadata, extras, install hints, and install -> run -> reinstall both ways.

The reinstall test is the failure a new user met: a regular install whose first run left
Numba's cache inside ``site-packages/renp_scan``, then an editable reinstall that removed
the package files but not that folder, which Python then imported as an empty namespace
package. It builds throw-away environments that see this environment's dependencies
(a ``.pth`` line) and install only renp_scan itself, from a wheel or editable.
"""

from __future__ import annotations

import ast
import importlib.metadata as md
import os
import re
import shutil
import site
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import fraction_grid, scan_text

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the tomli dependency
    import tomli as tomllib

import renp_scan

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
PROJECT = PYPROJECT["project"]
EXTRAS = PROJECT["optional-dependencies"]
#: Extras that are user features ([all] must hold every one); [test]/[bench] are for developers.
DEVELOPER_EXTRAS = {"all", "test", "bench"}


def _name(requirement: str) -> str:
    """Normalised distribution name of a requirement string (PEP 503)."""
    name = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement).group(1)
    return re.sub(r"[-_.]+", "-", name).lower()


def _self_extras(requirement: str) -> set[str]:
    m = re.fullmatch(r"\s*renp_scan\[([^\]]*)\]\s*", requirement)
    return {e.strip() for e in m.group(1).split(",")} if m else set()


def _declared(extra: str) -> set[str]:
    """Distribution names an extra installs directly (self-references expanded)."""
    names = set()
    for req in EXTRAS[extra]:
        inner = _self_extras(req)
        if inner:
            for e in inner:
                names |= _declared(e)
        else:
            names.add(_name(req))
    return names


# ------------------------------------------------------------------------- metadata


def test_version_lives_in_pyproject_only():
    assert renp_scan.__version__ == PROJECT["version"] == md.version("renp_scan")
    for module in ("__init__.py", "_version.py"):
        text = (ROOT / "renp_scan" / module).read_text(encoding="utf-8")
        assert not re.search(r"__version__\s*=\s*['\"]\d+\.\d", text), module


def test_license_file_matches_the_spdx_metadata():
    assert PROJECT["license"] == "MIT"
    assert PROJECT["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License\n")
    assert "Permission is hereby granted, free of charge" in text
    # license = "<SPDX>" and license-files need setuptools 77
    build_requires = PYPROJECT["build-system"]["requires"]
    assert any(re.fullmatch(r"setuptools>=(\d+).*", r) and int(
        re.fullmatch(r"setuptools>=(\d+).*", r).group(1)) >= 77 for r in build_requires)


def test_citation_cites_this_software_and_the_paper():
    cff = (ROOT / "CITATION.cff").read_text(encoding="utf-8")
    assert re.search(r"^cff-version: 1\.2\.0$", cff, re.M)
    assert re.search(r"^type: software$", cff, re.M)
    assert re.search(rf"^version: {re.escape(PROJECT['version'])}$", cff, re.M)
    assert re.search(r"^license: MIT$", cff, re.M)
    # Yoshimura & Sasao, arXiv:1310.6472 = Phys. Rev. D 89, 073015 (2014)
    assert "arXiv:1310.6472" in cff and "10.1103/PhysRevD.89.073015" in cff
    assert "family-names: Yoshimura" in cff and "family-names: Sasao" in cff
    assert re.search(r"^\s+volume: 89$", cff, re.M) and re.search(r'start: "073015"', cff)


def test_all_is_every_feature_extra():
    features = set(EXTRAS) - DEVELOPER_EXTRAS
    assert {"plot", "distributed", "cluster", "compression", "atomic"} <= features
    (req,) = EXTRAS["all"]
    assert _self_extras(req) == features


def test_test_extra_installs_every_package_the_tests_import():
    """Every third-party module imported (or importorskip'ed) by tests/ and benchmarks/."""
    modules = set()
    for path in [*ROOT.glob("tests/*.py"), *ROOT.glob("benchmarks/*.py")]:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        # an import in an `except ImportError` arm is a fallback for another Python version
        fallbacks = {id(n) for h in ast.walk(tree) if isinstance(h, ast.ExceptHandler)
                     for n in ast.walk(h)}
        for node in ast.walk(tree):
            if id(node) in fallbacks:
                continue
            if isinstance(node, ast.Import):
                modules |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules.add(node.module.split(".")[0])
            elif (isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "importorskip"
                  and node.args and isinstance(node.args[0], ast.Constant)):
                modules.add(node.args[0].value.split(".")[0])
    # the repository's own modules (tests load scripts/ and benchmarks/ by path)
    local = {"renp_scan", "benchmarks", "scripts"} | {
        p.stem for p in [*ROOT.glob("tests/*.py"), *ROOT.glob("benchmarks/*.py"),
                         *ROOT.glob("scripts/*.py")]}
    third_party = modules - set(sys.stdlib_module_names) - local
    owners = md.packages_distributions()
    missing = {m for m in third_party if m not in owners}
    assert not missing, f"imported by the tests but not installed: {missing}"
    needed = {_name(d) for m in third_party for d in owners[m]}
    have = _declared("test") | {_name(r) for r in PROJECT["dependencies"]}
    # a package that a declared one always installs (llvmlite with numba) counts as declared
    for dist in list(have):
        try:
            have |= {_name(r) for r in md.requires(dist) or [] if "extra ==" not in r}
        except md.PackageNotFoundError:
            pass
    assert needed <= have, f"not in [test] or the dependencies: {sorted(needed - have)}"


#: A hint telling the user to fetch renp_scan itself from an index, which has no copy.
INDEX_INSTALL = re.compile(r"pip install\s+['\"]?renp[_-]scan(\[|['\"\s]|$)", re.M)


def test_install_hints_name_only_what_works_from_this_repository():
    files = [ROOT / "README.md", *ROOT.glob("docs/*.md"), *ROOT.glob("renp_scan/**/*.py"),
             *ROOT.glob("renp_scan/**/*.md"), *ROOT.glob("scripts/*")]
    offending = [f"{p.relative_to(ROOT)}: {m.group(0)}" for p in files if p.is_file()
                 for m in INDEX_INSTALL.finditer(p.read_text(encoding="utf-8", errors="replace"))]
    assert not offending
    assert INDEX_INSTALL.search("pip install 'renp_scan[distributed]'")  # the pattern bites
    cluster = (ROOT / "docs" / "cluster.md").read_text(encoding="utf-8")
    assert "python -m build" in cluster and "python=" in cluster


# -------------------------------------------------------------- build and reinstall


def _source_copy(dest: Path) -> Path:
    """The files a build reads, copied (a build writes egg-info next to its sources)."""
    dest.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, dest / name)
    shutil.copytree(ROOT / "renp_scan", dest / "renp_scan",
                    ignore=shutil.ignore_patterns("__pycache__", "*.nbi", "*.nbc"))
    shutil.copytree(ROOT / "tests", dest / "tests",
                    ignore=shutil.ignore_patterns("__pycache__"))
    return dest


def _child_env() -> dict:
    # the throw-away environment must import its own renp_scan, never this checkout's
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}


def _check(args, cwd: Path, timeout=600) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(a) for a in args], cwd=cwd, env=_child_env(),
                          capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{args}\n{proc.stdout}\n{proc.stderr}"
    return proc


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A wheel built from a copy of the checkout, and the build's output."""
    base = tmp_path_factory.mktemp("build")
    src = _source_copy(base / "src")
    proc = _check([sys.executable, "-m", "build", "--wheel", "--outdir", base / "dist", src],
                  cwd=base)
    (wheel,) = (base / "dist").glob("renp_scan-*.whl")
    return src, wheel, proc.stdout + proc.stderr


def test_wheel_builds_without_deprecation_warnings_and_carries_the_license(built):
    _, wheel, log = built
    assert "Successfully built" in log
    assert "deprecat" not in log.lower(), [ln for ln in log.splitlines() if "eprecat" in ln]
    assert wheel.name == f"renp_scan-{PROJECT['version']}-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as zf:
        info = f"renp_scan-{PROJECT['version']}.dist-info"
        meta = zf.read(f"{info}/METADATA").decode()
        assert zf.read(f"{info}/licenses/LICENSE") == (ROOT / "LICENSE").read_bytes()
        assert not [n for n in zf.namelist() if n.endswith((".nbi", ".nbc"))]
    assert re.search(r"^License-Expression: MIT$", meta, re.M)
    assert re.search(r"^License-File: LICENSE$", meta, re.M)
    assert re.search(rf"^Version: {re.escape(PROJECT['version'])}$", meta, re.M)


class Env:
    """A virtual environment with this one's dependencies and its own renp_scan."""

    def __init__(self, path: Path):
        self.path = path
        _check([sys.executable, "-m", "venv", "--without-pip", path], cwd=path.parent)
        self.python = path / "bin" / "python"
        purelib = _check([self.python, "-c", "import sysconfig; print(sysconfig.get_paths()"
                          "['purelib'])"], cwd=path).stdout.strip()
        self.site = Path(purelib)
        # the dependencies come from this environment; renp_scan does not (see module doc)
        (self.site / "_renp_scan_test_deps.pth").write_text(
            "\n".join(site.getsitepackages()) + "\n")

    def pip_install(self, *args):
        _check([sys.executable, "-m", "pip", "--python", self.python, "install",
                "--no-deps", "--no-input", *args], cwd=self.path)

    def scan(self, work: Path, name: str):
        """A tiny scan through this environment's entry point; returns the cube."""
        out = work / f"{name}.h5"
        _check([self.path / "bin" / "renp-scan", "run", work / "tiny.toml", "-o", out,
                "--quiet", "--workers", "1"], cwd=work)
        assert out.is_file()
        cache = [p for p in self.site.rglob("*") if p.suffix in (".nbi", ".nbc")]
        assert not cache, f"Numba cache inside the installed package: {cache[:3]}"
        return out

    def imported(self, work: Path) -> tuple[str, Path]:
        out = _check([self.python, "-c", "import renp_scan; print(renp_scan.__version__); "
                      "print(renp_scan.__file__)"], cwd=work).stdout.split("\n")
        return out[0], Path(out[1]).resolve()

    def tests(self, src: Path, work: Path):
        # run from `work`: `python -m` puts the current folder first on sys.path, and src/
        # holds a renp_scan folder that would hide the installed package
        _check([self.python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", src,
                src / "tests" / "test_api.py", src / "tests" / "test_neutrinos.py"], cwd=work)


TINY = scan_text("tiny", m0={"values_eV": [0.05]}, omega=fraction_grid(16, 0.1))


@pytest.mark.slow
@pytest.mark.parametrize("first", ["regular", "editable"])
def test_install_run_reinstall_the_other_way_then_tests_pass(built, tmp_path, first):
    src, wheel, _ = built
    work = tmp_path / "work"
    work.mkdir()
    (work / "tiny.toml").write_text(TINY)
    env = Env(tmp_path / "venv")
    steps = {"regular": [str(wheel)], "editable": ["-e", str(src)]}
    second = "editable" if first == "regular" else "regular"

    env.pip_install(*steps[first])
    env.scan(work, "first")
    env.pip_install("--force-reinstall", *steps[second])

    version, location = env.imported(work)
    assert version == PROJECT["version"]
    expected_home = src if second == "editable" else env.site
    assert location == (expected_home / "renp_scan" / "__init__.py").resolve()
    env.scan(work, "second")
    env.tests(src, work)

