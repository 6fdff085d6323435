"""The one place that owns the Numba JIT options for every kernel.

Every kernel in :mod:`renp_scan.kernels` is compiled with :data:`jit` (or
:func:`jit_position_invariant`, :func:`jit_reproducible`) so that caching, the GIL policy,
the error model and the floating-point policy are decided once:

* ``cache=True``: the first-call compile is paid once per machine, not per
  process (the test suite and dask workers reuse the on-disk cache).
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

import numba

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
