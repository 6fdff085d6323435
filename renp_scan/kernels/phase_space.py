r"""Neutrino-pair phase space I_ij(omega) and Delta_ij(omega) (paper eqs. 20, 21, 39–42).

All energies and masses in eV; results in eV^2 (I_ij) or dimensionless (Delta_ij).

Definition followed (eq. 39, with the normalisation of eq. 42):

.. math::

    I_{ij}(\omega) = \frac{2}{\omega\,\Delta_{ij}} \int_{E_-}^{E_+} dE_1\,
        \tfrac12\left(E_1E_2 + \vec p_1\cdot\vec p_2 + \delta_M m_i m_j\right),
    \qquad E_2 = \epsilon_{eg} - \omega - E_1 ,

where momentum conservation fixes
:math:`\vec p_1\cdot\vec p_2 = \tfrac12(\omega^2 + m_i^2 + m_j^2 - E_1^2 - E_2^2)`, so the
integrand is the quadratic :math:`\tfrac14[\omega^2 + m_i^2 + m_j^2 + 2\delta_M m_im_j
- (E_1-E_2)^2]`. Integrating over :math:`E_1 - E_2 \in [c - \omega\Delta, c + \omega\Delta]`
with :math:`c = (\epsilon-\omega)(m_i^2-m_j^2)/D`, :math:`D = \epsilon(\epsilon - 2\omega)`:

.. math::

    I_{ij} = \frac{\omega^2}{3} + \frac{m_i^2+m_j^2}{2}
      + \frac{\omega^2 (m_i^2+m_j^2)}{3D} + \delta_M m_i m_j
      - \frac{(m_i^2-m_j^2)^2}{2D^2}\left[(\epsilon-\omega)^2 + \frac{\omega^2}{3}\right].

The factor 2 in front of the integral reproduces the normalisation of eq. 42 (and of eq. 21
at i = j). The last term differs from the printed eq. 42, which has
:math:`-\tfrac34(\epsilon-\omega)^2(m_i^2-m_j^2)^2/D^2`; the two agree only for equal
masses. ``docs/paper_check.md`` quantifies the difference.

The rate kernel restates this closed form as per-pair constants
(:func:`renp_scan.kernels.rate.active_pairs`), so that its grid loop does no per-pair
division: a change to :func:`pair_phase_space` or :func:`pair_delta` must be made there
too (``tests/test_rate_grid.py`` checks that the two agree).
"""

from __future__ import annotations

import math

import numpy as np

from ._fma import fma
from ._jit import jit


@jit
def pair_delta(omega, eps_eg, m_i, m_j):
    """Delta_ij(omega) of eq. 41 (dimensionless); 0 where the pair is closed.

    Parameters
    ----------
    omega, eps_eg, m_i, m_j : float
        Photon energy, level spacing epsilon_eg and neutrino masses [eV].
    """
    d = eps_eg * (eps_eg - 2.0 * omega)
    msum2 = (m_i + m_j) * (m_i + m_j)
    mdiff2 = (m_i - m_j) * (m_i - m_j)
    r = 1.0 / d
    # 1 - m^2/D cancels near the threshold: one rounding each (explicit FMA), the same
    # operations as the grid kernel of rate.py, so the two agree there too
    value = math.sqrt(fma(-msum2, r, 1.0) * fma(-mdiff2, r, 1.0))
    # A select, not a branch (the value is computed either way and discarded when
    # closed): grid loops over this function then vectorise.
    return value if (omega > 0.0) & (d > msum2) else 0.0


@jit
def pair_phase_space(omega, eps_eg, m_i, m_j, delta_m):
    """I_ij(omega) [eV^2] from eq. 39 with eq. 42's normalisation; 0 where closed.

    The pair is open only for 0 < omega < omega_ij = eps/2 - (m_i+m_j)^2/(2 eps),
    i.e. for D = eps (eps - 2 omega) > (m_i + m_j)^2. At and above the threshold the
    function returns exactly 0.

    Parameters
    ----------
    omega, eps_eg, m_i, m_j : float
        Photon energy, level spacing and neutrino masses [eV].
    delta_m : float
        1.0 for Majorana, 0.0 for Dirac neutrinos (delta_M of eq. 36).
    """
    d = eps_eg * (eps_eg - 2.0 * omega)
    msum2 = (m_i + m_j) * (m_i + m_j)
    w2 = omega * omega
    s2 = m_i * m_i + m_j * m_j
    dm2 = m_i * m_i - m_j * m_j
    e_minus_w = eps_eg - omega
    value = (
        w2 / 3.0
        + 0.5 * s2
        + w2 * s2 / (3.0 * d)
        + delta_m * m_i * m_j
        - dm2 * dm2 * (e_minus_w * e_minus_w + w2 / 3.0) / (2.0 * d * d)
    )
    # select, not branch: see pair_delta
    return value if (omega > 0.0) & (d > msum2) else 0.0


@jit
def pair_threshold(eps_eg, m_i, m_j):
    """Threshold omega_ij = eps/2 - (m_i + m_j)^2 / (2 eps) [eV] (eqs. 20, 41)."""
    return 0.5 * eps_eg - (m_i + m_j) * (m_i + m_j) / (2.0 * eps_eg)


@jit
def phase_space_grid(omega, eps_eg, m_i, m_j, delta_m, out_I, out_delta):
    """Fill I_ij and Delta_ij on an omega grid (any order).

    Parameters
    ----------
    omega : ndarray, shape (n,)
        Photon energies [eV].
    eps_eg, m_i, m_j : float
        Level spacing and neutrino masses [eV].
    delta_m : float
        1.0 Majorana, 0.0 Dirac.
    out_I : ndarray, shape (n,)
        Receives I_ij [eV^2].
    out_delta : ndarray, shape (n,)
        Receives Delta_ij (dimensionless).
    """
    for k in range(omega.shape[0]):
        out_I[k] = pair_phase_space(omega[k], eps_eg, m_i, m_j, delta_m)
        out_delta[k] = pair_delta(omega[k], eps_eg, m_i, m_j)


@jit
def all_pairs_grid(omega, eps_eg, masses, delta_m, out_I, out_delta):
    """Fill I_ij and Delta_ij for all nine ordered pairs on an omega grid.

    Parameters
    ----------
    omega : ndarray, shape (n,)
        Photon energies [eV].
    eps_eg : float
        Level spacing [eV].
    masses : ndarray, shape (3,)
        Neutrino masses m_1, m_2, m_3 [eV].
    delta_m : float
        1.0 Majorana, 0.0 Dirac.
    out_I, out_delta : ndarray, shape (3, 3, n)
        Receive I_ij [eV^2] and Delta_ij.
    """
    # I_ij and Delta_ij are symmetric in (i, j) (exactly, in floating point too: the
    # formulas use m_i + m_j, (m_i - m_j)^2, m_i^2 + m_j^2, m_i m_j), so each of the six
    # distinct pairs is computed once and written to both (i, j) and (j, i).
    for i in range(3):
        phase_space_grid(omega, eps_eg, masses[i], masses[i], delta_m, out_I[i, i], out_delta[i, i])
        for j in range(i + 1, 3):
            _pair_rows(omega, eps_eg, masses[i], masses[j], delta_m,
                       out_I[i, j], out_delta[i, j], out_I[j, i], out_delta[j, i])


@jit
def _pair_rows(omega, eps_eg, m_i, m_j, delta_m, out_I, out_delta, out_I_t, out_delta_t):
    """One pair's I and Delta on the grid, written to (i, j) and (j, i) rows (i != j).

    The diagonal goes through :func:`phase_space_grid`: with the same row passed twice
    the rows would alias and the loop would not vectorise.
    """
    for k in range(omega.shape[0]):
        value = pair_phase_space(omega[k], eps_eg, m_i, m_j, delta_m)
        delta = pair_delta(omega[k], eps_eg, m_i, m_j)
        out_I[k] = value
        out_delta[k] = delta
        out_I_t[k] = value
        out_delta_t[k] = delta


def empty_pairs(n):
    """Allocate the (3, 3, n) output arrays expected by :func:`all_pairs_grid`."""
    return np.empty((3, 3, n)), np.empty((3, 3, n))
