"""Versions of the compiler stack the kernels are built with (recorded as provenance)."""

from __future__ import annotations

import llvmlite
import numba

#: Version of Numba, which compiles every kernel.
NUMBA_VERSION: str = numba.__version__
#: Version of llvmlite, Numba's binding to the LLVM code generator.
LLVMLITE_VERSION: str = llvmlite.__version__
