"""The one place that owns the Numba JIT options for every kernel.

Every kernel in :mod:`renp_scan.kernels` is compiled with :data:`jit` (or
:func:`jit_position_invariant`, :func:`jit_reproducible`) so that caching, the GIL policy,
the error model and the floating-point policy are decided once:

* ``cache=True``: the first-call compile is paid once per machine, not per
  process (the test suite and dask workers reuse the on-disk cache). The cache
  lives in a per-user folder, never inside the installed package; see
  :class:`KernelCacheLocator`.
* ``nogil=True``: dask's threaded scheduler runs blocks concurrently; the
  kernels never touch Python objects.
* ``error_model="numpy"``: division by zero gives inf/nan instead of raising,
  which lets loops vectorise; every kernel guards its own domain explicitly,
  so no inf/nan escapes.
* ``fastmath``: only the safe subset. ``nnan``/``ninf`` are *not* enabled
  because threshold and domain tests must keep their meaning (plain
  ``fastmath=True`` compiles ``isnan`` away).
* grid loops whose bits must not depend on a point's position in the array use
  :func:`jit_position_invariant` (the safe subset without ``reassoc``).
* ``parallel=False``: parallelism lives in the sweep layer (dask threads over
  blocks). A serial kernel keeps dask threads x Numba threads from
  oversubscribing the cores.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from importlib import metadata
from pathlib import Path

import numba
from numba.core import caching
from numba.misc.appdirs import AppDirs

#: Environment variable naming the folder for the compiled kernels (a shared folder on a
#: cluster saves every worker the first-call compile). Default: the per-user cache folder.
CACHE_ENV = "RENP_SCAN_CACHE_DIR"

_KERNEL_DIR = Path(__file__).resolve().parent


def _cache_key() -> str:
    """``<renp_scan version>-<hash of every kernel source file>``.

    Numba keys a cache entry on the file that defines the function only, so a
    caller that inlined a callee from another file would keep the callee's old
    machine code after that file changed. Keying the whole folder on every kernel
    file makes any kernel edit (or another release) start from an empty folder.
    """
    try:
        release = metadata.version("renp_scan")
    except metadata.PackageNotFoundError:  # a source tree that was never installed
        release = "0+unknown"
    digest = hashlib.sha256()
    for path in sorted(_KERNEL_DIR.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return f"{release}-{digest.hexdigest()[:16]}"


_CACHE_KEY = _cache_key()


def cache_dir() -> Path:
    """Folder holding the compiled kernels of this renp_scan (version and sources).

    ``$RENP_SCAN_CACHE_DIR/<key>`` if the variable is set, else the platform's
    per-user cache folder (``$XDG_CACHE_HOME/renp_scan/<key>`` or
    ``~/.cache/renp_scan/<key>`` on Linux), where ``<key>`` is
    ``<version>-<hash of every kernel source file>``.
    """
    root = os.environ.get(CACHE_ENV) or AppDirs("renp_scan", appauthor=False).user_cache_dir
    return Path(root).expanduser() / _CACHE_KEY


class KernelCacheLocator(caching._SourceFileBackedLocatorMixin, caching._CacheLocator):
    """Numba cache locator for the files of :mod:`renp_scan.kernels` only.

    Registered ahead of Numba's own locators so that a kernel's cache never goes
    to ``__pycache__`` inside the installed package (where a later reinstall would
    leave it behind) and so that ``NUMBA_CACHE_DIR`` set for other packages does not
    mix renp_scan's kernels in. Functions of any other file are left to Numba.
    """

    def __init__(self, py_func, py_file, path):
        self._py_file = py_file
        self._lineno = py_func.__code__.co_firstlineno
        self._cache_path = str(path)

    def get_cache_path(self):
        return self._cache_path

    def get_source_stamp(self):
        # the key of every kernel file, not just this one (see _cache_key)
        return _CACHE_KEY

    @classmethod
    def from_function(cls, py_func, py_file):
        if Path(py_file).resolve().parent != _KERNEL_DIR:
            return None
        # an unwritable cache folder (read-only home on a compute node) falls back to the
        # temporary folder rather than to Numba's in-package __pycache__
        user = os.getuid() if hasattr(os, "getuid") else os.environ.get("USERNAME", "")
        fallback = Path(tempfile.gettempdir()) / f"renp_scan-{user}" / _CACHE_KEY
        for path in (cache_dir(), fallback):
            self = cls(py_func, py_file, path)
            try:
                self.ensure_cache_path()
            except OSError:
                continue
            return self
        return None


def _register_locator() -> None:
    impl = getattr(caching, "CacheImpl", None) or caching._CacheImpl
    if not any(c.__name__ == KernelCacheLocator.__name__ for c in impl._locator_classes):
        impl._locator_classes.insert(0, KernelCacheLocator)


_register_locator()

#: Safe fastmath subset: reassociation, contraction (FMA), reciprocal and
#: no-signed-zeros. NaN/inf semantics are kept.
SAFE_FASTMATH = frozenset({"reassoc", "contract", "arcp", "nsz"})


#: The safe subset without ``reassoc`` and ``contract``, for vectorised grid loops whose
#: results must not depend on a point's position in the array or on the loop that computed
#: it. With ``reassoc``, LLVM orders the vectorised loop body and its scalar remainder
#: differently; with ``contract``, whether a multiply and an add fuse into one FMA depends
#: on the code around them (a select between them, inlining), so the sorted and the masked
#: loops of the rate kernel disagreed in the last bit. Without both, every point goes
#: through the same IEEE operations wherever it lands (tests/test_rate_grid.py checks it
#: bit for bit). The loops are bound by the divider, so the unfused multiply-adds are free.
NO_REASSOC = frozenset(SAFE_FASTMATH - {"reassoc", "contract"})

JIT_OPTIONS = dict(cache=True, nogil=True, error_model="numpy", fastmath=SAFE_FASTMATH)



def jit(func=None, **overrides):
    """Compile ``func`` with the project's JIT options.

    Usable bare (``@jit``) or with overrides (``@jit(fastmath=False)``); an
    override must carry a comment at the call site saying why.
    """
    opts = dict(JIT_OPTIONS)
    opts.update(overrides)
    if isinstance(opts["fastmath"], frozenset):
        # numba accepts only bool, dict or a mutable set here
        opts["fastmath"] = set(opts["fastmath"])
    if func is None:
        return lambda f: numba.njit(**opts)(f)
    return numba.njit(**opts)(func)


def jit_position_invariant(func=None, **overrides):
    """Compile with :data:`NO_REASSOC`: each point's bits do not depend on its array position.

    For grid loops (the rate kernel and its helpers): a grid and any slice of it, or a
    resumed block and the block computed in one go, give bit-identical values because
    the vectorised loop body and its scalar remainder perform the same operations.
    """
    overrides.setdefault("fastmath", NO_REASSOC)
    return jit(func, **overrides)


def jit_reproducible(func=None, **overrides):
    """Compile with the project's options but strict IEEE arithmetic (no fastmath).

    For run-once solvers and quadratures (Thomas-Fermi, Coulomb integrals, radial
    Schroedinger equation) whose results feed every rate: with ``reassoc``/``contract``
    LLVM may order or fuse operations differently when a function is compiled in-process
    (callees inlined) than when it is loaded from the on-disk cache, which moved J_N by
    ~3e-16 between processes and broke bit-for-bit equality of cubes computed in another
    process. Speed is irrelevant here (a solve takes ~1 ms).
    """
    overrides.setdefault("fastmath", False)
    return jit(func, **overrides)
