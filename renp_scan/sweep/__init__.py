"""Sweep layer: scan files, block planning and the dask run that fills a cube.

This is the only layer that touches dask. :mod:`renp_scan.sweep.scanfile`
turns a TOML scan file into a validated :class:`~renp_scan.sweep.scanfile.ScanSpec`.
"""
