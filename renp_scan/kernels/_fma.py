"""Fused multiply-add as an explicit operation inside Numba kernels.

``fma(x, y, z)`` = x*y + z with one rounding (LLVM's ``llvm.fma``, vectorised to
``vfmadd`` like any other operation). Unlike fastmath's ``contract``, which lets the
compiler decide per call site whether to fuse, an explicit FMA rounds the same way in
every loop, vectorised or not: the kernels that must give identical bits on every path
(:mod:`renp_scan.kernels.rate`) spell out the fusions they rely on.
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic


@intrinsic
def fma(typingctx, x, y, z):
    """Return x * y + z in float64 with a single rounding (all three arguments real numbers)."""
    if not all(isinstance(a, (types.Float, types.Integer)) for a in (x, y, z)):
        return None
    sig = types.float64(x, y, z)

    def codegen(context, builder, signature, args):
        vals = [
            context.cast(builder, v, t, types.float64)
            for v, t in zip(args, signature.args, strict=True)
        ]
        dbl = ir.DoubleType()
        fnty = ir.FunctionType(dbl, [dbl, dbl, dbl])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.fma.f64")
        return builder.call(fn, vals)

    return sig, codegen
