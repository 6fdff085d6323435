"""How many kernel compilations this process paid for (a cold Numba cache)."""

from __future__ import annotations

import importlib
import pkgutil

from numba.core.dispatcher import Dispatcher

__all__ = ["kernel_compiles"]


def kernel_compiles() -> int:
    """Count the kernel compilations of this process that Numba's on-disk cache did not spare.

    The sum of ``stats.cache_misses`` over the jitted functions of
    :mod:`renp_scan.kernels`: a call that loads a kernel from the cache (or finds it
    compiled in memory) adds nothing; a cold cache adds one per kernel signature.
    """
    package = importlib.import_module(__package__)
    seen, count = set(), 0
    for info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        for value in vars(module).values():
            if isinstance(value, Dispatcher) and id(value) not in seen:
                seen.add(id(value))
                count += sum(value.stats.cache_misses.values())
    return count
