r"""Thomas-Fermi model of the atom: chi(x), length scale b and Coulomb integrals.

Physics wrapper around :mod:`renp_scan.kernels.thomas_fermi` and
:mod:`renp_scan.kernels.coulomb` (paper appendix VII, eqs. 10, 15, 26-35):

* :func:`tf_solution`, :func:`tf_slope`, :func:`tf_chi` -- the universal function
  chi(x) of eq. 28 (x = r/b dimensionless);
* :func:`tf_length_scale_cm` -- b of eq. 27 [cm];
* :func:`coulomb_integrals` -- the dimensionless integrals of eqs. 15 and 32 and their
  values in eV for a given nuclear charge Z (eqs. 10/31 and 15/35).

The solution is computed once per process (cached); the kernels are compiled once
per machine (Numba on-disk cache).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from renp_scan.errors import InputError
from renp_scan.kernels.coulomb import I_JC, I_JN, N_INTEGRALS, coulomb_integrals_taylor
from renp_scan.kernels.thomas_fermi import RTOL, solve_tf, tf_chi_grid
from renp_scan.model.constants import ALPHA, HARTREE_EV, HBAR_C_EV_CM, M_E_EV, RYDBERG_EV

#: (3 pi)^{2/3} / 2^{7/3}: b = this * Z^{-1/3} / (alpha m_e) (eq. 27), about 0.8853.
TF_LENGTH_FACTOR = (3.0 * math.pi) ** (2.0 / 3.0) / 2.0 ** (7.0 / 3.0)
#: 2^{7/3} / (3 pi)^{2/3}: prefactor of J_N in units of Z^{4/3} alpha^2 m_e (eq. 15).
J_N_PREFACTOR = 2.0 ** (7.0 / 3.0) / (3.0 * math.pi) ** (2.0 / 3.0)
#: 2^{10/3} / (3 pi)^{2/3} = (4 pi)^2 / (6 pi^4)^{2/3}: prefactor of J_C in units of
#: Z^{4/3} alpha^2 m_e / 2 (eqs. 10 and 31).
J_C_PREFACTOR = 2.0 ** (10.0 / 3.0) / (3.0 * math.pi) ** (2.0 / 3.0)


@dataclass(frozen=True)
class TFSolution:
    """How the Thomas-Fermi boundary-value problem (eq. 28) was solved.

    Attributes
    ----------
    slope : float
        chi'(0), dimensionless (about -1.588).
    F : float
        Amplitude of the large-x series chi = 144 x^-3 (1 + F x^-gamma + ...).
    iterations : int
        Newton iterations of the two-sided shooting.
    residual : float
        Relative mismatch of chi and chi' at the matching point.
    converged : bool
        Whether Newton converged to rounding level.
    """

    slope: float
    F: float
    iterations: int
    residual: float
    converged: bool


@functools.lru_cache(maxsize=1)
def tf_solution() -> TFSolution:
    """Solve eq. 28 once (cached) and return the solution with its diagnostics.

    Returns
    -------
    TFSolution
        Slope chi'(0), asymptotic amplitude F and how the solver got there.
    """
    slope, F, iterations, residual, converged = solve_tf(RTOL)
    return TFSolution(float(slope), float(F), int(iterations), float(residual), bool(converged))


def _converged_solution() -> TFSolution:
    sol = tf_solution()
    if not sol.converged:
        raise RuntimeError(
            f"Thomas-Fermi shooting did not converge ({sol.iterations} iterations, "
            f"residual {sol.residual:.3e})"
        )
    return sol


def tf_slope() -> float:
    """chi'(0) of the Thomas-Fermi function (eq. 28), dimensionless, about -1.588."""
    return _converged_solution().slope


def tf_chi(x) -> tuple[np.ndarray, np.ndarray]:
    """Thomas-Fermi function chi(x) and its derivative on any grid (eq. 28).

    Parameters
    ----------
    x : array_like of float
        Dimensionless radii r/b >= 0 (b from :func:`tf_length_scale_cm`), any order.

    Returns
    -------
    chi, dchi : ndarray of float
        chi(x) and d chi/dx (dimensionless), with the shape of ``x``.

    Raises
    ------
    InputError
        If any x is negative or not finite.
    """
    x_arr = np.asarray(x, dtype=float)
    if not np.all(np.isfinite(x_arr)):
        raise InputError("x", "must be finite")
    if np.any(x_arr < 0.0):
        raise InputError("x", "must be >= 0 (x = r/b is a radius)")
    sol = _converged_solution()
    flat = np.ascontiguousarray(x_arr.ravel())
    chi = np.empty_like(flat)
    dchi = np.empty_like(flat)
    if not tf_chi_grid(flat, sol.slope, sol.F, chi, dchi):
        raise RuntimeError("Thomas-Fermi integration failed on the requested grid")
    return chi.reshape(x_arr.shape), dchi.reshape(x_arr.shape)


def _check_Z(Z) -> np.ndarray:
    Z_arr = np.asarray(Z, dtype=float)
    if not np.all(np.isfinite(Z_arr)) or np.any(Z_arr <= 0.0):
        raise InputError("Z", "nuclear charge must be finite and > 0")
    return Z_arr


def _as_result(value: np.ndarray):
    return float(value) if value.ndim == 0 else value


def tf_length_scale_cm(Z):
    """Thomas-Fermi length b = (3 pi)^{2/3} / 2^{7/3} Z^{-1/3} / (alpha m_e) (eq. 27).

    Parameters
    ----------
    Z : float or array_like
        Nuclear charge (> 0).

    Returns
    -------
    float or ndarray
        b in cm (about 0.8853 Z^{-1/3} a_B).
    """
    Z_arr = _check_Z(Z)
    return _as_result(TF_LENGTH_FACTOR * Z_arr ** (-1.0 / 3.0) * HBAR_C_EV_CM / (ALPHA * M_E_EV))


def _scaled_eV(prefactor, unit_eV, integral, Z):
    """Prefactor Z^{4/3} unit_eV integral: the TF scaling shared by eqs. 10 and 15 [eV]."""
    return _as_result(prefactor * _check_Z(Z) ** (4.0 / 3.0) * unit_eV * integral)


@dataclass(frozen=True)
class CoulombIntegrals:
    """Dimensionless Thomas-Fermi Coulomb integrals and their values in eV.

    Attributes
    ----------
    J_N : float
        int_0^inf chi^{3/2} x^{-1/2} dx (eq. 15), about 1.588.
    J_C : float
        Nested integral of eq. 32, about 0.2269.
    """

    J_N: float
    J_C: float

    def J_N_eV(self, Z):
        """Nuclear Coulomb integral J_N = 2^{7/3}/(3 pi)^{2/3} Z^{4/3} alpha^2 m_e J_N (eq. 15).

        Parameters
        ----------
        Z : float or array_like
            Nuclear charge (> 0).

        Returns
        -------
        float or ndarray
            J_N in eV (about 49 eV Z^{4/3}).
        """
        return _scaled_eV(J_N_PREFACTOR, HARTREE_EV, self.J_N, Z)

    def J_C_eV(self, Z):
        """Core-electron Coulomb integral J_C = 2^{10/3}/(3 pi)^{2/3} Z^{4/3} (alpha^2 m_e/2) J_C.

        Eq. 10 (= eq. 31: (4 pi)^2/(6 pi^4)^{2/3} equals 2^{10/3}/(3 pi)^{2/3}).

        Parameters
        ----------
        Z : float or array_like
            Nuclear charge (> 0).

        Returns
        -------
        float or ndarray
            J_C in eV (about 7 eV Z^{4/3}).
        """
        return _scaled_eV(J_C_PREFACTOR, RYDBERG_EV, self.J_C, Z)


@functools.lru_cache(maxsize=1)
def coulomb_integrals() -> CoulombIntegrals:
    """Return the Thomas-Fermi Coulomb integrals of eqs. 15 and 32 (cached).

    Computed by integrating the solved chi (running integrals along the ODE, closed
    with the asymptotic series); nothing is typed in.

    Returns
    -------
    CoulombIntegrals
        J_N, J_C (dimensionless) with methods giving them in eV for a charge Z.
    """
    sol = _converged_solution()
    out = np.empty(N_INTEGRALS)
    if not coulomb_integrals_taylor(sol.slope, sol.F, out):
        raise RuntimeError("Thomas-Fermi integration for the Coulomb integrals failed")
    return CoulombIntegrals(J_N=float(out[I_JN]), J_C=float(out[I_JC]))
