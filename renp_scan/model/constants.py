"""Physical constants, all taken from :mod:`scipy.constants` (CODATA).

Natural units: hbar = c = 1, energies in eV. The conversions below are the
only place where eV meets SI.
"""

from __future__ import annotations

from scipy import constants as _sc

_pc = _sc.physical_constants

#: Fine-structure constant alpha (dimensionless).
ALPHA = _sc.fine_structure
#: Electron rest energy m_e c^2 [eV].
M_E_EV = _pc["electron mass energy equivalent in MeV"][0] * 1e6
#: Rydberg energy R_inf h c = alpha^2 m_e c^2 / 2 [eV].
RYDBERG_EV = _pc["Rydberg constant times hc in eV"][0]
#: Hartree energy alpha^2 m_e c^2 [eV].
HARTREE_EV = _pc["Hartree energy in eV"][0]
#: Fermi constant G_F / (hbar c)^3 [eV^-2] (CODATA value, given in GeV^-2).
G_F_EV2 = _pc["Fermi coupling constant"][0] * 1e-18
#: Reduced Planck constant hbar [eV s]: a rate Gamma[eV] is Gamma/HBAR_EV_S in s^-1 (Hz).
HBAR_EV_S = _pc["reduced Planck constant in eV s"][0]
#: hbar c [eV cm]: a length L[cm] is L/HBAR_C_EV_CM in eV^-1.
HBAR_C_EV_CM = _pc["reduced Planck constant times c in MeV fm"][0] * 1e6 * 1e-13
#: Bohr radius [cm].
BOHR_RADIUS_CM = _pc["Bohr radius"][0] * 100.0


def rate_eV_to_Hz(rate_eV):
    """Convert a rate in natural units [eV] to s^-1 [Hz] (divide by hbar)."""
    return rate_eV / HBAR_EV_S


def rate_Hz_to_eV(rate_Hz):
    """Convert a rate in s^-1 [Hz] to natural units [eV] (multiply by hbar)."""
    return rate_Hz * HBAR_EV_S


def density_cm3_to_eV3(density_cm3):
    """Convert a number density [cm^-3] to natural units [eV^3]."""
    return density_cm3 * HBAR_C_EV_CM**3


def volume_cm3_to_eV3(volume_cm3):
    """Convert a volume [cm^3] to natural units [eV^-3]."""
    return volume_cm3 / HBAR_C_EV_CM**3
