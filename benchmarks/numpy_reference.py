r"""Plain NumPy, vectorised implementations of the spectrum formulas: the baseline.

Written from the paper's formulas, not from the Numba kernels: Delta_ij of eq. 41,
I_ij of eq. 39 in the closed form documented in :mod:`renp_scan.kernels.phase_space`
(eq. 42's normalisation), and the rate of eqs. 18-23 in the reduced form of
:mod:`renp_scan.kernels.rate`,

    Gamma(omega) = A / [(a + omega)(eps - omega)]^2
                   * sum_ij Delta_ij [W_ij I^D_ij + V_ij m_i m_j] theta(omega_ij - omega).

Every array operation is a whole-array NumPy call (masks via ``np.where``), which is
how one would write it without a compiler. ``chunk`` evaluates the grid in pieces so
that NumPy's temporaries stay in cache: the baseline is NumPy at its best, not NumPy
thrashing memory.
"""

from __future__ import annotations

import numpy as np

#: Points per NumPy call in the chunked baseline (temporaries of ~0.5 MB each fit L2).
CHUNK = 65536


def pair_terms(omega, eps_eg, m_i, m_j, delta_m):
    """(I_ij [eV^2], Delta_ij) on ``omega`` [eV]; both exactly 0 where the pair is closed."""
    d = eps_eg * (eps_eg - 2.0 * omega)
    msum2 = (m_i + m_j) ** 2
    mdiff2 = (m_i - m_j) ** 2
    is_open = (omega > 0.0) & (d > msum2)
    with np.errstate(divide="ignore", invalid="ignore"):
        delta = np.sqrt((1.0 - msum2 / d) * (1.0 - mdiff2 / d))
        w2 = omega * omega
        s2 = m_i * m_i + m_j * m_j
        dm2 = m_i * m_i - m_j * m_j
        value = (
            w2 / 3.0
            + 0.5 * s2
            + w2 * s2 / (3.0 * d)
            + delta_m * m_i * m_j
            - dm2 * dm2 * ((eps_eg - omega) ** 2 + w2 / 3.0) / (2.0 * d * d)
        )
    return np.where(is_open, value, 0.0), np.where(is_open, delta, 0.0)


def rate_numpy(omega, eps_eg, a_eV, amplitude, masses, w_kin, w_maj, out):
    """Gamma(omega) into ``out`` (units of ``amplitude`` / eV^2) with whole-array NumPy calls."""
    total = np.zeros_like(omega)
    for i in range(3):
        for j in range(i, 3):
            if w_kin[i, j] == 0.0 and w_maj[i, j] == 0.0:
                continue
            kin, delta = pair_terms(omega, eps_eg, masses[i], masses[j], 0.0)
            mult = 1.0 if i == j else 2.0
            total += mult * delta * (w_kin[i, j] * kin + w_maj[i, j] * masses[i] * masses[j])
    den = (a_eV + omega) * (eps_eg - omega)
    with np.errstate(divide="ignore", invalid="ignore"):
        np.copyto(out, np.where(total != 0.0, amplitude * total / (den * den), 0.0))
    return out


def all_pairs_numpy(omega, eps_eg, masses, delta_m, out_I, out_delta):
    """I_ij and Delta_ij for all nine ordered pairs, shape (3, 3, n), with NumPy."""
    for i in range(3):
        for j in range(3):
            out_I[i, j], out_delta[i, j] = pair_terms(omega, eps_eg, masses[i], masses[j], delta_m)


def chunked(func, omega, *args, out, chunk=CHUNK):
    """Apply ``func(omega_piece, *args, out_piece)`` over pieces of at most ``chunk`` points."""
    n = omega.shape[0]
    for start in range(0, n, chunk):
        stop = min(start + chunk, n)
        func(omega[start:stop], *args, out[..., start:stop])
    return out


def all_pairs_chunked(omega, eps_eg, masses, delta_m, out_I, out_delta, chunk=CHUNK):
    """:func:`all_pairs_numpy` over pieces of at most ``chunk`` points."""
    n = omega.shape[0]
    for start in range(0, n, chunk):
        stop = min(start + chunk, n)
        all_pairs_numpy(
            omega[start:stop],
            eps_eg,
            masses,
            delta_m,
            out_I[:, :, start:stop],
            out_delta[:, :, start:stop],
        )
