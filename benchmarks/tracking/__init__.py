"""Benchmarks for airspeed velocity (``asv``): same-run ratios tracked per commit and machine.

Run them with ``python benchmarks/track.py`` (see ``benchmarks/README.md``).
"""
