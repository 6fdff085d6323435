"""Cube layer: the HDF5 cube format, its one writer, and its readers.

The only layer that touches h5py. Layout and format: :mod:`renp_scan.cube.layout`
and ``docs/cube_format.md``.
"""

from .reader import check_cube, describe_cube, open_cube, verify_cube

__all__ = ["check_cube", "describe_cube", "open_cube", "verify_cube"]
