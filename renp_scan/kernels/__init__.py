"""Numba kernels: pure functions of floats and arrays in eV.

Nothing here knows about atoms, files, units objects or dask; the physics
model in :mod:`renp_scan.model` wraps these kernels and owns units.
"""
