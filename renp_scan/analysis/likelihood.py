"""Poisson likelihood of a RENP counting experiment.

With macro-coherence the photon energy omega is fixed by the trigger laser
(Yoshimura & Sasao, arXiv:1310.6472, sec. III), so an experiment measures the
rate Gamma(omega_k) (eqs. 18-23) at chosen laser frequencies omega_k, each for a
time t_k. The counts are Poisson with mean

    mu_k = (efficiency * Gamma(omega_k) + background) * t_k.

The test statistic is the Poisson deviance (twice the negative log-likelihood
ratio against the saturated model),

    D(n; mu) = 2 sum_k [mu_k - n_k + n_k ln(n_k / mu_k)],

and for Asimov data (n = mu_true) the separation of two hypotheses is
Delta chi^2 = D(mu_true; mu_alt).
"""

from __future__ import annotations

import numpy as np


def expected_counts(rate_Hz, time_s, efficiency, background_Hz):
    """Mean counts mu = (efficiency * Gamma + background) * t.

    Parameters
    ----------
    rate_Hz : array_like
        Signal rate Gamma(omega_k) [Hz]; any leading shape, points on the last axis.
    time_s : array_like
        Measuring time per point t_k [s], broadcast against ``rate_Hz``.
    efficiency : float
        Detection efficiency (dimensionless, in (0, 1]).
    background_Hz : float
        Background rate [Hz], >= 0.

    Returns
    -------
    ndarray
        Expected counts (dimensionless).
    """
    rate = np.asarray(rate_Hz, dtype=float)
    return (efficiency * rate + background_Hz) * np.asarray(time_s, dtype=float)


def deviance_terms(counts, mu):
    """Per-point Poisson deviance 2 [mu - n + n ln(n / mu)] (dimensionless).

    ``n = 0`` contributes ``2 mu`` (the limit n ln n -> 0); ``mu = 0`` with
    ``n > 0`` contributes ``+inf`` (the alternative forbids an observed count).
    """
    n = np.asarray(counts, dtype=float)
    m = np.asarray(mu, dtype=float)
    n, m = np.broadcast_arrays(n, m)
    out = np.empty(n.shape, dtype=float)
    positive = n > 0.0
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        # n * log(n / mu) written with a ratio so that n ~ mu loses no digits.
        log_ratio = np.log(np.where(positive, n, 1.0) / m)
        out[...] = 2.0 * (m - n + np.where(positive, n * log_ratio, 0.0))
    out[positive & (m <= 0.0)] = np.inf
    return out


def poisson_deviance(counts, mu):
    """Poisson deviance D(n; mu) summed over the last axis (dimensionless).

    Parameters
    ----------
    counts : array_like
        Observed (or Asimov) counts n_k >= 0; non-integer values are allowed
        (Asimov data).
    mu : array_like
        Expected counts mu_k >= 0 of the hypothesis tested, broadcast against
        ``counts``; points on the last axis.

    Returns
    -------
    ndarray or float
        Sum over the last axis of :func:`deviance_terms`.
    """
    return deviance_terms(counts, mu).sum(axis=-1)


def best_normalization(counts, signal, background, iterations=64):
    """Free signal normalisation a >= 0 that minimises D(n; a s + b), vectorised.

    The score g(a) = sum_k s_k (1 - n_k / (a s_k + b_k)) is increasing in a, so
    the minimum is a = 0 if g(0) >= 0 and otherwise the root of g, found by
    bisection on a bracket that always contains it. Without background the root
    is sum(n) / sum(s) in closed form, used directly.

    Parameters
    ----------
    counts : ndarray, shape (K,)
        Observed counts n_k.
    signal : ndarray, shape (..., K)
        Expected signal counts s_k at normalisation 1 (efficiency * Gamma * t).
    background : ndarray, shape (K,)
        Expected background counts b_k (background rate * t).
    iterations : int
        Bisection steps when there is background (each halves the bracket).

    Returns
    -------
    ndarray, shape (...)
        The minimising normalisation a (dimensionless).
    """
    n = np.asarray(counts, dtype=float)
    s = np.asarray(signal, dtype=float)
    b = np.asarray(background, dtype=float)
    s_total = s.sum(axis=-1)
    n_total = float(n.sum())
    with np.errstate(divide="ignore", invalid="ignore"):
        closed_form = np.where(s_total > 0.0, n_total / s_total, 0.0)
    if not np.any(b > 0.0):
        return closed_form

    def score(a):
        mean = a[..., None] * s + b
        # A point with neither signal nor background (zero time) carries no information.
        ratio = np.divide(n, mean, out=np.zeros(np.broadcast(n, mean).shape), where=mean > 0.0)
        return np.sum(np.where(s > 0.0, s * (1.0 - ratio), 0.0), axis=-1)

    # Denormal backgrounds overflow n / b to inf, which is the right limit.
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        n_over_b = np.where(b > 0.0, n / np.where(b > 0.0, b, 1.0), np.where(n > 0.0, np.inf, 0.0))
        at_zero = np.sum(np.where(s > 0.0, s * (1.0 - n_over_b), 0.0), axis=-1)
        # With background the root lies below the background-free value: at that
        # a, every (a s + b) exceeds a s, so g(a) >= 0.
        lo = np.zeros_like(s_total)
        hi = np.maximum(closed_form, 0.0)
        for _ in range(iterations):
            mid = 0.5 * (lo + hi)
            above = score(mid) > 0.0
            hi = np.where(above, mid, hi)
            lo = np.where(above, lo, mid)
    return np.where(at_zero >= 0.0, 0.0, 0.5 * (lo + hi))
