"""renp_scan: Numba-accelerated parameter scans of RENP spectra (arXiv:1310.6472)."""

__version__ = "0.1.0"
