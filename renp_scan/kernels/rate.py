r"""RENP spectral rate on an omega grid (paper eqs. 18–23), unit-free.

The model layer reduces every channel and target scheme to

.. math::

    \Gamma(\omega) = \frac{A}{[(a + \omega)(\epsilon_{eg} - \omega)]^2}
        \sum_{i,j} \Delta_{ij}(\omega)\left[W_{ij}\, I^{D}_{ij}(\omega)
        + V_{ij}\, m_i m_j\right]\theta(\omega_{ij} - \omega),

where :math:`I^D_{ij}` is the Dirac part of I_ij (eq. 39 with delta_M = 0), the
amplitude A [rate x eV^2] collects Gamma_0 eta and the omega-independent part of F^2
(eqs. 18, 19, 23), a = eps_u - eps_e [eV] is the energy denominator of the
intermediate level, and the couplings are

* nucleus channel (eq. 20): W = 1, V = delta_M on the diagonal, 0 elsewhere;
* core-electron channel: W_ij = |b_ij|^2, V_ij = delta_M Re(b_ij^2) (eq. 6; ref. [14]).

W and V must be symmetric (|b_ij| = |b_ji|, Re b_ij^2 = Re b_ji^2 since b is
Hermitian); the kernel sums i <= j and doubles the off-diagonal terms.
"""

from __future__ import annotations

from ._jit import jit
from .phase_space import pair_delta, pair_phase_space


@jit
def coupled_phase_space(omega, eps_eg, masses, w_kin, w_maj):
    """Sum_ij Delta_ij [W_ij I^D_ij + V_ij m_i m_j] at one omega [eV^2]; 0 where all closed.

    Parameters
    ----------
    omega, eps_eg : float
        Photon energy and level spacing [eV].
    masses : ndarray, shape (3,)
        Neutrino masses [eV].
    w_kin, w_maj : ndarray, shape (3, 3)
        Symmetric couplings W_ij (multiplying I^D_ij) and V_ij (multiplying m_i m_j).
    """
    total = 0.0
    for i in range(3):
        for j in range(i, 3):
            wk = w_kin[i, j]
            wm = w_maj[i, j]
            if wk == 0.0 and wm == 0.0:
                continue
            delta = pair_delta(omega, eps_eg, masses[i], masses[j])
            if delta == 0.0:
                continue
            mult = 1.0 if i == j else 2.0
            kin = pair_phase_space(omega, eps_eg, masses[i], masses[j], 0.0)
            total += mult * delta * (wk * kin + wm * masses[i] * masses[j])
    return total


@jit
def rate_point(omega, eps_eg, a_eV, amplitude, masses, w_kin, w_maj):
    """Gamma(omega) at one photon energy, in the units of ``amplitude`` / eV^2.

    Parameters
    ----------
    omega, eps_eg : float
        Photon energy and level spacing [eV]; requires 0 < omega < eps_eg.
    a_eV : float
        eps_u - eps_e [eV] (first factor of the energy denominator of eqs. 19, 23).
    amplitude : float
        Gamma_0 eta x (omega-independent part of F^2), in rate units x eV^2.
    masses, w_kin, w_maj
        See :func:`coupled_phase_space`.
    """
    s = coupled_phase_space(omega, eps_eg, masses, w_kin, w_maj)
    if s == 0.0:
        return 0.0
    den = (a_eV + omega) * (eps_eg - omega)
    return amplitude * s / (den * den)


@jit
def rate_grid(omega, eps_eg, a_eV, amplitude, masses, w_kin, w_maj, out):
    """Fill ``out[k] = Gamma(omega[k])`` (see :func:`rate_point`); any grid order.

    Parameters
    ----------
    omega : ndarray, shape (n,)
        Photon energies [eV], each in (0, eps_eg).
    out : ndarray, shape (n,)
        Receives the rate (caller allocates; a sweep passes a slice of its block).
    """
    for k in range(omega.shape[0]):
        out[k] = rate_point(omega[k], eps_eg, a_eV, amplitude, masses, w_kin, w_maj)
