"""Physics model: targets, neutrinos, channels and absolute rates in Hz.

This layer owns units: it takes user values with explicit units (eV, Hz,
cm^-3, cm^3), converts them to the kernels' natural units (eV, hbar = c = 1)
and converts results back.
"""
