"""Validated public wrapper of the phase-space kernel I_ij(omega) (eqs. 20–21, 39–42)."""

from __future__ import annotations

import math

import numpy as np

from ..errors import InputError
from ..kernels.phase_space import phase_space_grid
from .channels import normalize_majorana


def _mass(name, value):
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InputError(name, f"must be a real number in eV, got {value!r}") from None
    if not math.isfinite(v) or v < 0.0:
        raise InputError(name, f"must be finite and >= 0 eV, got {value!r}")
    return v


def phase_space(omega_eV, eps_eg_eV, m_i_eV, m_j_eV, majorana=True) -> np.ndarray:
    """Neutrino-pair phase-space function I_ij(omega) [eV^2].

    Defined by eq. 39 with the normalisation of eq. 42 (equal to eq. 21 for i = j); the
    closed form is in :mod:`renp_scan.kernels.phase_space`. Returns exactly 0 at and
    above the threshold omega_ij = eps/2 - (m_i + m_j)^2/(2 eps), never NaN.

    Parameters
    ----------
    omega_eV : float or array_like
        Photon energies [eV], finite and > 0.
    eps_eg_eV : float
        Level spacing eps_eg [eV], > 0.
    m_i_eV, m_j_eV : float
        Neutrino masses [eV], >= 0.
    majorana : bool or {"majorana", "dirac"}
        delta_M = 1 (Majorana) or 0 (Dirac).

    Returns
    -------
    ndarray
        I_ij with omega's shape [eV^2].

    Notes
    -----
    The full spectrum weights I_ij with Delta_ij (eq. 41); see
    :func:`renp_scan.kernels.phase_space.pair_delta`.
    """
    eps = _mass("eps_eg_eV", eps_eg_eV)
    if eps == 0.0:
        raise InputError("eps_eg_eV", "must be > 0 eV")
    m_i = _mass("m_i_eV", m_i_eV)
    m_j = _mass("m_j_eV", m_j_eV)
    delta_m = 1.0 if normalize_majorana(majorana) else 0.0
    try:
        omega = np.asarray(omega_eV, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError("omega_eV", f"must be real numbers in eV, got {omega_eV!r}") from None
    if omega.size and (not np.all(np.isfinite(omega)) or omega.min() <= 0.0):
        raise InputError("omega_eV", "must be finite and > 0 eV")
    flat = np.ascontiguousarray(omega).reshape(-1)
    out_i = np.empty_like(flat)
    out_delta = np.empty_like(flat)
    phase_space_grid(flat, eps, m_i, m_j, delta_m, out_i, out_delta)
    return out_i.reshape(omega.shape)
