"""Neutrino mass spectra, the PMNS first row and the couplings b_ij (paper eqs. 5, 6).

Masses in eV. Oscillation parameters come from the data file
``renp_scan/data/oscillations.toml`` (NuFIT 6.0 by default) through
:func:`renp_scan.model.oscillations.load_oscillation_data`; a user may pass their own
:class:`~renp_scan.model.oscillations.OscillationData`.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import InputError
from ..kernels.phase_space import pair_threshold
from .oscillations import OscillationData, load_oscillation_data

HIERARCHIES = ("NH", "IH")
#: Largest smallest-mass m0 [eV] an input file may give. Laboratory and
#: cosmological bounds put m0 below ~1 eV; larger values are almost always meV
#: written as eV.
M0_MAX_EV = 10.0


def normalize_hierarchy(hierarchy) -> str:
    """Return ``"NH"`` or ``"IH"`` (case-insensitive; NO/IO accepted), else InputError."""
    if isinstance(hierarchy, str):
        key = hierarchy.strip().upper()
        key = {"NO": "NH", "IO": "IH", "NORMAL": "NH", "INVERTED": "IH"}.get(key, key)
        if key in HIERARCHIES:
            return key
    raise InputError("hierarchy", f"unknown hierarchy {hierarchy!r}; allowed: 'NH', 'IH'")


def check_m0(m0_eV) -> float:
    """Validate the smallest neutrino mass [eV]: a finite real number >= 0."""
    try:
        value = float(m0_eV)
    except (TypeError, ValueError):
        raise InputError("m0_eV", f"must be a real number in eV, got {m0_eV!r}") from None
    if not math.isfinite(value) or value < 0.0:
        raise InputError("m0_eV", f"must be finite and >= 0 eV, got {m0_eV!r}")
    return value


def neutrino_masses(m0_eV, hierarchy="NH", oscillation_data: OscillationData | None = None):
    """Neutrino masses (m1, m2, m3) [eV] from the smallest mass and oscillation data.

    Normal hierarchy: m1 = m0, m2 = sqrt(m0^2 + dm21^2), m3 = sqrt(m0^2 + dm31^2).
    Inverted hierarchy (NuFIT's dm3l^2 = dm32^2 < 0): m3 = m0,
    m2 = sqrt(m0^2 + |dm32^2|), m1 = sqrt(m0^2 + |dm32^2| - dm21^2).

    Parameters
    ----------
    m0_eV : float
        Smallest neutrino mass [eV], >= 0.
    hierarchy : {"NH", "IH"}
        Mass ordering.
    oscillation_data : OscillationData, optional
        Defaults to the package data file (NuFIT 6.0).

    Returns
    -------
    tuple of float
        (m1, m2, m3) [eV].
    """
    m0 = check_m0(m0_eV)
    key = normalize_hierarchy(hierarchy)
    data = oscillation_data if oscillation_data is not None else load_oscillation_data()
    p = data.ordering(key)
    m0sq = m0 * m0
    if key == "NH":
        return (m0, math.sqrt(m0sq + p.dm21_sq_eV2), math.sqrt(m0sq + p.dm3l_sq_eV2))
    dm32_abs = abs(p.dm3l_sq_eV2)
    return (math.sqrt(m0sq + dm32_abs - p.dm21_sq_eV2), math.sqrt(m0sq + dm32_abs), m0)


def thresholds_eV(eps_eg_eV, masses_eV) -> np.ndarray:
    """Thresholds omega_ij = eps/2 - (m_i + m_j)^2 / (2 eps) [eV] as a 3x3 array (eq. 20).

    Parameters
    ----------
    eps_eg_eV : float
        Level spacing eps_e - eps_g [eV].
    masses_eV : sequence of float
        (m1, m2, m3) [eV].
    """
    m = np.asarray(masses_eV, dtype=float)
    return np.array([[pair_threshold(float(eps_eg_eV), m[i], m[j]) for j in range(3)]
                     for i in range(3)])


def pair_thresholds_eV(eps_eg_eV, m0_eV, hierarchies=HIERARCHIES,
                       oscillation_data: OscillationData | None = None) -> np.ndarray:
    """Thresholds omega_ij [eV] (eq. 20) for every hierarchy and smallest mass m0.

    Parameters
    ----------
    eps_eg_eV : float
        Level spacing eps_e - eps_g [eV].
    m0_eV : float or array_like
        Smallest neutrino masses [eV].
    hierarchies : sequence of str
        ``"NH"`` and/or ``"IH"``.
    oscillation_data : OscillationData, optional
        Mass splittings (default: the package's table).

    Returns
    -------
    ndarray, shape (len(hierarchies), len(m0_eV), 3, 3)
        omega_ij; values <= 0 are closed thresholds (2 m >~ eps_eg).
    """
    m0 = np.asarray(m0_eV, dtype=np.float64).ravel()
    out = np.empty((len(hierarchies), m0.size, 3, 3))
    for h, hierarchy in enumerate(hierarchies):
        for k, m in enumerate(m0):
            out[h, k] = thresholds_eV(eps_eg_eV, neutrino_masses(float(m), hierarchy,
                                                                 oscillation_data))
    return out


def pmns_first_row(mixing, majorana_phases_rad=(0.0, 0.0)) -> np.ndarray:
    """First row U_ei of the PMNS matrix, PDG convention with Majorana phases.

    U_e1 = c12 c13, U_e2 = s12 c13 e^{i alpha21/2}, U_e3 = s13 e^{-i delta} e^{i alpha31/2}.

    Parameters
    ----------
    mixing : MixingParams
        One ordering's oscillation parameters (delta_CP in degrees).
    majorana_phases_rad : (float, float)
        (alpha21, alpha31) [rad]; irrelevant for Dirac neutrinos.
    """
    alpha21, alpha31 = check_phases(majorana_phases_rad)
    s12 = math.sqrt(mixing.sin2_theta12)
    s13 = math.sqrt(mixing.sin2_theta13)
    c12 = math.sqrt(1.0 - mixing.sin2_theta12)
    c13 = math.sqrt(1.0 - mixing.sin2_theta13)
    delta = math.radians(mixing.delta_cp_deg)
    return np.array(
        [
            c12 * c13 + 0j,
            s12 * c13 * np.exp(0.5j * alpha21),
            s13 * np.exp(-1j * delta) * np.exp(0.5j * alpha31),
        ]
    )


def coupling_matrix(u_e: np.ndarray, sin2_theta_W: float) -> np.ndarray:
    """b_ij = U_ei U_ej^* - (1/2) delta_ij (1 - 4 sin^2 theta_W) (eq. 6); complex 3x3, Hermitian."""
    return np.outer(u_e, np.conj(u_e)) - 0.5 * (1.0 - 4.0 * sin2_theta_W) * np.eye(3)


def check_phases(phases) -> tuple[float, float]:
    """Validate Majorana phases: two finite reals (alpha21, alpha31) [rad]."""
    try:
        a21, a31 = (float(x) for x in phases)
    except (TypeError, ValueError):
        raise InputError(
            "majorana_phases_rad", f"must be two real numbers (alpha21, alpha31) in rad, got {phases!r}"
        ) from None
    if not (math.isfinite(a21) and math.isfinite(a31)):
        raise InputError("majorana_phases_rad", f"must be finite, got {phases!r}")
    return a21, a31
