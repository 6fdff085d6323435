"""Where Numba's on-disk cache of the kernels lives, and that it never serves stale code.

The cache folder is ``$RENP_SCAN_CACHE_DIR/<version>-<hash of every kernel file>`` (default:
the per-user cache folder), never the installed package: a cache left inside
``site-packages/renp_scan`` survives a reinstall and shadows the package. Keying on every
kernel file matters because Numba keys an entry on its defining file only, so a caller that
inlined a callee from another file would keep the callee's old machine code.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import renp_scan
from renp_scan.kernels import _jit

PACKAGE = Path(renp_scan.__file__).resolve().parent

CALLEE = '''\
from ._jit import jit


@jit
def probe_offset(x):
    return x + {offset}
'''

CALLER = '''\
from ._jit import jit
from ._probe_callee import probe_offset


@jit
def probe_shifted(x):
    return 2.0 * probe_offset(x)
'''

PROBE = r"""\
from renp_scan.kernels._probe_caller import probe_shifted
value = probe_shifted(1.0)
stats = probe_shifted.stats
print(value, sum(stats.cache_hits.values()), stats.cache_path, sep="\n")
"""


def _cache_files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.suffix in (".nbi", ".nbc")]


def _run(code: str, *, cwd: Path, env: dict, pythonpath: Path | None = None):
    env = {k: v for k, v in os.environ.items()
           if k not in ("NUMBA_CACHE_DIR", "NUMBA_CACHE_LOCATOR_CLASSES", _jit.CACHE_ENV)} | env
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    proc = subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.splitlines()


@pytest.fixture
def package_copy(tmp_path):
    """A copy of the renp_scan package with a two-file kernel pair: caller inlines callee."""
    src = tmp_path / "src"
    shutil.copytree(PACKAGE, src / "renp_scan",
                    ignore=shutil.ignore_patterns("__pycache__", "*.nbi", "*.nbc"))
    kernels = src / "renp_scan" / "kernels"
    (kernels / "_probe_callee.py").write_text(CALLEE.format(offset="1.0"))
    (kernels / "_probe_caller.py").write_text(CALLER)
    return src


def _probe(src: Path, cache: Path, extra_env=None):
    value, hits, path = _run(PROBE, cwd=src.parent, pythonpath=src,
                             env={_jit.CACHE_ENV: str(cache), **(extra_env or {})})
    return float(value), int(hits), Path(path)


def test_editing_a_callee_recompiles_its_caller(package_copy, tmp_path):
    cache = tmp_path / "cache"
    value, hits, path = _probe(package_copy, cache)
    assert value == 2.0 * (1.0 + 1.0) and hits == 0
    assert path.parent == cache and path.name.startswith(f"{renp_scan.__version__}-")
    value, hits, _ = _probe(package_copy, cache)
    assert value == 4.0 and hits == 1, "the second process must load the caller from the cache"

    (package_copy / "renp_scan" / "kernels" / "_probe_callee.py").write_text(
        CALLEE.format(offset="2.0"))
    value, hits, new_path = _probe(package_copy, cache)
    assert value == 2.0 * (1.0 + 2.0), "stale machine code of the inlined callee survived"
    assert hits == 0 and new_path != path
    assert not _cache_files(package_copy), "kernel cache written inside the package"


def test_numbas_own_locator_would_serve_the_stale_caller(package_copy, tmp_path):
    # The failure the key prevents, shown with Numba's in-package locator: the caller's
    # file did not change, so its cached code (with the old callee inlined) is loaded.
    in_tree = {"NUMBA_CACHE_LOCATOR_CLASSES": "InTreeCacheLocator"}
    assert _probe(package_copy, tmp_path / "unused", in_tree)[0] == 4.0
    (package_copy / "renp_scan" / "kernels" / "_probe_callee.py").write_text(
        CALLEE.format(offset="2.0"))
    assert _probe(package_copy, tmp_path / "unused", in_tree)[0] == 4.0
    assert _cache_files(package_copy / "renp_scan" / "kernels" / "__pycache__")


SPECTRUM = ("import numpy as np, renp_scan\n"
            "from renp_scan.kernels import _jit\n"
            "renp_scan.spectrum('Cs', np.linspace(0.1, 0.6, 5), m0_eV=0.05, hierarchy='NH',"
            " majorana=True, channel='nucleus')\n"
            "print(_jit.cache_dir())\n")


def test_env_variable_moves_the_cache_and_nothing_lands_in_the_package(tmp_path):
    before = set(_cache_files(PACKAGE))
    cache = tmp_path / "shared cache"
    (folder,) = _run(SPECTRUM, cwd=tmp_path, env={_jit.CACHE_ENV: str(cache)})
    folder = Path(folder)
    assert folder.parent == cache
    assert folder.name == _jit._CACHE_KEY
    # the rate kernels of the spectrum call were compiled into it
    assert {p.name.split(".")[0] for p in _cache_files(folder)} >= {"rate", "thomas_fermi"}
    assert set(_cache_files(PACKAGE)) == before


@pytest.mark.skipif(not sys.platform.startswith("linux"),
                    reason="the XDG cache folder is the Linux default; other platforms use theirs")
def test_default_cache_is_the_per_user_xdg_folder(tmp_path):
    (folder,) = _run("from renp_scan.kernels import _jit; print(_jit.cache_dir())", cwd=tmp_path,
                     env={"XDG_CACHE_HOME": str(tmp_path / "xdg")})
    assert Path(folder).parent == tmp_path / "xdg" / "renp_scan"


def test_cache_key_covers_version_and_every_kernel_file():
    version, digest = _jit._CACHE_KEY.rsplit("-", 1)
    assert version == renp_scan.__version__
    assert len(digest) == 16 and int(digest, 16) >= 0
    assert {p.name for p in _jit._KERNEL_DIR.glob("*.py")} >= {"rate.py", "phase_space.py",
                                                               "thomas_fermi.py", "_jit.py"}


def test_unwritable_cache_folder_falls_back_to_the_temporary_folder(tmp_path):
    # a file where the folder should be: no one, root included, can create the folder
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("")
    (tmp_dir := tmp_path / "tmp").mkdir()
    code = ("import renp_scan; renp_scan.tf_slope()\n"
            "from renp_scan.kernels.thomas_fermi import tf_asymptotic\n"
            "print(tf_asymptotic.stats.cache_path)\n")
    (path,) = _run(code, cwd=tmp_path, env={_jit.CACHE_ENV: str(blocked), "TMPDIR": str(tmp_dir)})
    assert Path(path).parent.parent == tmp_dir and Path(path).name == _jit._CACHE_KEY
    assert _cache_files(Path(path))
