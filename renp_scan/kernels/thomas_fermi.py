r"""Thomas-Fermi function chi(x) (paper eqs. 26-28, appendix VII).

Solves :math:`x^{1/2}\chi'' = \chi^{3/2}`, :math:`\chi(0) = 1`, :math:`\chi(\infty) = 0`
(eq. 28) by two-sided shooting with a high-order Taylor-series integrator:

* Outward from :math:`x = 0` in :math:`t = \sqrt{x}`, where the system
  :math:`dy/dt = 2tu,\ du/dt = 2y^{3/2}` (:math:`y = \chi`, :math:`u = d\chi/dx`) is
  regular; the unknown is the initial slope :math:`B = \chi'(0)`.
* Inward from :data:`X_RIGHT`, starting on the Coulson-March asymptotic series
  :math:`\chi = 144x^{-3}\sum_k a_k s^k`, :math:`s = F x^{-\gamma}`,
  :math:`\gamma = (\sqrt{73} - 7)/2`; the unknown is the amplitude :math:`F`.
  Integrating inward is the stable direction: outward, a perturbation grows like
  :math:`x^{4.77}` relative to :math:`\chi \sim 144/x^3`.
* Newton's method on :math:`(B, F)` matches :math:`\chi` and :math:`\chi'` at
  :data:`X_MATCH`; the Jacobian comes from the variational equations, integrated with
  the same Taylor series.

The Taylor coefficients of :math:`y^{3/2}` use J.C.P. Miller's power-of-series
recurrence, so every step costs O(order^2) flops and is accurate to ``rtol`` relative.
Dense output is exact for the integrator: a grid point inside a step is the step's own
Taylor polynomial evaluated there, i.e. what stepping exactly onto the point would give.

The variable x is the dimensionless radius r/b of eq. 26 (b of eq. 27); chi is
dimensionless. Nothing here carries units.
"""

from __future__ import annotations

import math

import numpy as np

from ._jit import jit_reproducible

#: Exponent gamma = (sqrt(73) - 7)/2 of the asymptotic series, the positive root of
#: (3 + gamma)(4 + gamma) = 18.
GAMMA = 0.5 * (math.sqrt(73.0) - 7.0)
#: Number of terms a_0 .. a_{N-1} kept in the asymptotic series.
N_SERIES = 40
#: Degree of the Taylor polynomial per integration step.
TAYLOR_ORDER = 30
#: Matching point x_m where the outward and inward solutions meet.
X_MATCH = 3.0
#: Start x_R of the inward integration; the series alone is used for x > X_RIGHT.
X_RIGHT = 1.0e3
#: Default relative tolerance of one Taylor step.
RTOL = 1.0e-16
#: Newton iterations before :func:`solve_tf` gives up.
MAX_NEWTON = 30
#: Integration steps before one leg gives up (a leg normally takes < 100).
MAX_STEPS = 100000
#: Starting guesses for the slope chi'(0) and the asymptotic amplitude F (rounded
#: textbook values; Newton converges from much further away).
SLOPE_GUESS = -1.6
F_GUESS = -13.0
#: Step safety factor applied to the step length that the last Taylor terms allow.
_SAFETY = 0.7


@jit_reproducible
def power_series(a, p, out):
    """Coefficients of (sum_k a_k z^k)**p by J.C.P. Miller's recurrence.

    Parameters
    ----------
    a : ndarray of float
        Coefficients of the base series; ``a[0] > 0``.
    p : float
        Exponent.
    out : ndarray of float
        Filled with the first ``out.size`` coefficients (``out.size <= a.size``).
    """
    a0 = a[0]
    out[0] = a0**p
    for k in range(1, out.size):
        acc = 0.0
        for j in range(1, k + 1):
            acc += ((p + 1.0) * j - k) * a[j] * out[k - j]
        out[k] = acc / (k * a0)


@jit_reproducible
def asymptotic_coefficients(out_a):
    """Coefficients a_k of the large-x series chi = 144 x^-3 sum_k a_k s^k.

    With D = s d/ds, eq. 28 becomes (3 + gamma D)(4 + gamma D) g = 12 g^{3/2}; the
    s^k coefficient gives a_k [(3 + k gamma)(4 + k gamma) - 18] = 12 R_k, where R_k is
    the s^k coefficient of g^{3/2} without its (3/2) a_k term. a_0 = 1 is fixed by
    the 144/x^3 limit, a_1 = 1 by the choice of F.

    Parameters
    ----------
    out_a : ndarray of float
        Filled with a_0 .. a_{n-1} (dimensionless).
    """
    n = out_a.size
    w = np.empty(n)  # running coefficients of g^{3/2}
    out_a[0] = 1.0
    w[0] = 1.0
    if n > 1:
        out_a[1] = 1.0
        w[1] = 1.5
    for k in range(2, n):
        rest = 0.0
        for j in range(1, k):
            rest += (2.5 * j - k) * out_a[j] * w[k - j]
        rest /= k
        kg = k * GAMMA
        out_a[k] = 12.0 * rest / ((3.0 + kg) * (4.0 + kg) - 18.0)
        w[k] = rest + 1.5 * out_a[k]


@jit_reproducible
def tf_asymptotic(x, F, a):
    """chi(x) and chi'(x) from the asymptotic series, and their F-derivatives.

    Parameters
    ----------
    x : float
        Dimensionless radius, large enough that |F x^-gamma| is small (x >~ 100).
    F : float
        Amplitude of the first correction (about -13.27).
    a : ndarray of float
        Series coefficients from :func:`asymptotic_coefficients`.

    Returns
    -------
    chi, dchi, dchi_dF, ddchi_dF : float
        chi, d chi/dx, d chi/dF and d^2 chi/(dx dF), all dimensionless.
    """
    xg = x**-GAMMA
    s = F * xg
    x3 = x**-3.0
    x4 = x3 / x
    g = 0.0
    dg = 0.0  # sum (-3 - k gamma) a_k s^k
    gF = 0.0  # d g / dF
    dgF = 0.0
    sk = 1.0  # s^k
    skm1 = 0.0  # s^(k-1)
    for k in range(a.size):
        c = -3.0 - k * GAMMA
        g += a[k] * sk
        dg += c * a[k] * sk
        if k > 0:
            gF += k * a[k] * skm1 * xg
            dgF += c * k * a[k] * skm1 * xg
        skm1 = sk
        sk *= s
    return 144.0 * x3 * g, 144.0 * x4 * dg, 144.0 * x3 * gF, 144.0 * x4 * dgF


@jit_reproducible
def tf_taylor_coefficients(t0, y0, u0, cy, cu, cw):
    """Taylor coefficients in h = t - t0 of y = chi, u = chi' and w = chi^{3/2}.

    The system is dy/dt = 2 t u, du/dt = 2 y^{3/2} with t = sqrt(x) (eq. 28 in t).

    Parameters
    ----------
    t0, y0, u0 : float
        Expansion point t0 = sqrt(x0) >= 0 and chi(x0), chi'(x0) there.
    cy, cu, cw : ndarray of float
        Same length n (order n - 1); filled with the coefficients of chi, chi' and
        chi^{3/2}. A non-positive y0 gives NaN (chi^{3/2} is undefined).
    """
    n = cy.size
    cy[0] = y0
    cu[0] = u0
    cw[0] = y0**1.5 if y0 > 0.0 else np.nan
    for k in range(n - 1):
        if k > 0:
            acc = 0.0
            for j in range(1, k + 1):
                acc += (2.5 * j - k) * cy[j] * cw[k - j]
            cw[k] = acc / (k * y0)
        prev = cu[k - 1] if k > 0 else 0.0
        cy[k + 1] = 2.0 * (t0 * cu[k] + prev) / (k + 1)
        cu[k + 1] = 2.0 * cw[k] / (k + 1)
    k = n - 1
    acc = 0.0
    for j in range(1, k + 1):
        acc += (2.5 * j - k) * cy[j] * cw[k - j]
    cw[k] = acc / (k * y0)


@jit_reproducible
def _variational_coefficients(t0, yv0, uv0, cy, cv, cyv, cuv):
    """Taylor coefficients of the linearised system dyv/dt = 2 t uv, duv/dt = 3 y^{1/2} yv."""
    n = cy.size
    power_series(cy, 0.5, cv)
    cyv[0] = yv0
    cuv[0] = uv0
    for k in range(n - 1):
        prev = cuv[k - 1] if k > 0 else 0.0
        cyv[k + 1] = 2.0 * (t0 * cuv[k] + prev) / (k + 1)
        acc = 0.0
        for j in range(k + 1):
            acc += cv[j] * cyv[k - j]
        cuv[k + 1] = 3.0 * acc / (k + 1)


@jit_reproducible
def horner(c, h):
    """Value of the polynomial sum_k c[k] h^k."""
    acc = 0.0
    for k in range(c.size - 1, -1, -1):
        acc = acc * h + c[k]
    return acc


@jit_reproducible
def _allowed_step(c, rtol, scale):
    """Step length for which the last two Taylor terms stay below rtol * scale."""
    n = c.size
    h = np.inf
    for k in (n - 1, n - 2):
        a = abs(c[k])
        if a > 0.0:
            h = min(h, (rtol * scale / a) ** (1.0 / k))
    return h


@jit_reproducible
def tf_step_length(cy, cu, rtol):
    """Taylor step |h| in t allowed by the coefficients of chi and chi' at rtol."""
    h_y = _allowed_step(cy, rtol, abs(cy[0]))
    h_u = _allowed_step(cu, rtol, abs(cu[0]))
    return _SAFETY * min(h_y, h_u)


@jit_reproducible
def taylor_step(t, t_end, y, u, rtol, direction, cy, cu, cw):
    """Fill the Taylor coefficients at t and choose the next step towards t_end.

    Shared by every leg integrator (this module and :mod:`.coulomb`).

    Returns
    -------
    h : float
        Signed step in t (ends exactly on t_end when ``last``).
    last : bool
        The step reaches t_end.
    ok : bool
        False if no positive step is allowed (the leg has failed).
    """
    tf_taylor_coefficients(t, y, u, cy, cu, cw)
    h_abs = tf_step_length(cy, cu, rtol)
    remaining = abs(t_end - t)
    last = h_abs >= remaining
    if last:
        h_abs = remaining
    ok = h_abs > 0.0 or last
    return direction * h_abs, last, ok


@jit_reproducible
def _integrate_leg(t_start, t_end, y, u, yv, uv, rtol, with_var, pts_t, pts_idx, out_chi, out_dchi):
    """Integrate the t-system from t_start to t_end (either direction).

    Grid points ``pts_t`` (ordered in the direction of integration, all between
    t_start and t_end) are filled into ``out_chi[pts_idx]``, ``out_dchi[pts_idx]``.

    Returns
    -------
    y, u, yv, uv : float
        State and variational state at t_end.
    n_steps : int
        Steps taken; -1 if the leg failed (non-finite state or too many steps).
    """
    n = TAYLOR_ORDER + 1
    cy = np.empty(n)
    cu = np.empty(n)
    cw = np.empty(n)
    cv = np.empty(n)
    cyv = np.empty(n)
    cuv = np.empty(n)
    direction = 1.0 if t_end >= t_start else -1.0
    t = t_start
    j = 0
    n_pts = pts_t.size
    for step in range(MAX_STEPS):
        h, last, ok = taylor_step(t, t_end, y, u, rtol, direction, cy, cu, cw)
        if not ok:
            return y, u, yv, uv, -1
        h_abs = abs(h)
        while j < n_pts and direction * (pts_t[j] - t) <= h_abs:
            dh = pts_t[j] - t
            out_chi[pts_idx[j]] = horner(cy, dh)
            out_dchi[pts_idx[j]] = horner(cu, dh)
            j += 1
        if with_var:
            _variational_coefficients(t, yv, uv, cy, cv, cyv, cuv)
            yv = horner(cyv, h)
            uv = horner(cuv, h)
        y = horner(cy, h)
        u = horner(cu, h)
        if not (math.isfinite(y) and math.isfinite(u)):
            return y, u, yv, uv, -1
        if last:
            return y, u, yv, uv, step + 1
        t = t + h
    return y, u, yv, uv, -1


@jit_reproducible
def _shoot(slope, F, a, rtol, with_var, pts_out_t, idx_out, pts_in_t, idx_in, out_chi, out_dchi):
    """Both legs: outward 0 -> x_m with slope, inward x_R -> x_m with F."""
    t_m = math.sqrt(X_MATCH)
    yo, uo, yoB, uoB, n_out = _integrate_leg(
        0.0, t_m, 1.0, slope, 0.0, 1.0, rtol, with_var, pts_out_t, idx_out, out_chi, out_dchi
    )
    yR, uR, yRF, uRF = tf_asymptotic(X_RIGHT, F, a)
    t_R = math.sqrt(X_RIGHT)
    yi, ui, yiF, uiF, n_in = _integrate_leg(
        t_R, t_m, yR, uR, yRF, uRF, rtol, with_var, pts_in_t, idx_in, out_chi, out_dchi
    )
    ok = n_out > 0 and n_in > 0
    return yo, uo, yoB, uoB, yi, ui, yiF, uiF, ok


@jit_reproducible
def solve_tf(rtol):
    """Solve eq. 28 for the slope chi'(0) and the asymptotic amplitude F.

    Newton's method on (B, F) = (chi'(0), F) with the matching conditions
    chi_out(x_m) = chi_in(x_m), chi_out'(x_m) = chi_in'(x_m) at x_m = :data:`X_MATCH`.

    Parameters
    ----------
    rtol : float
        Relative tolerance of one Taylor step (> 0; :data:`RTOL` is the default
        used by the model layer).

    Returns
    -------
    slope : float
        chi'(0) (dimensionless, about -1.588).
    F : float
        Amplitude of the asymptotic series (about -13.27).
    iterations : int
        Newton iterations taken.
    residual : float
        Largest relative mismatch of chi and chi' at x_m for the returned (slope, F).
    converged : bool
        True if the Newton step fell to rounding level and the residual is below
        1e-12.
    """
    a = np.empty(N_SERIES)
    asymptotic_coefficients(a)
    empty_t = np.empty(0)
    empty_i = np.empty(0, dtype=np.int64)
    dummy = np.empty(0)
    slope = SLOPE_GUESS
    F = F_GUESS
    residual = np.inf
    converged = False
    iterations = 0
    for it in range(1, MAX_NEWTON + 1):
        iterations = it
        yo, uo, yoB, uoB, yi, ui, yiF, uiF, ok = _shoot(
            slope, F, a, rtol, True, empty_t, empty_i, empty_t, empty_i, dummy, dummy
        )
        if not ok:
            # A wild slope drives chi negative before x_m: take a damped guess back.
            slope = 0.5 * (slope + SLOPE_GUESS)
            F = 0.5 * (F + F_GUESS)
            continue
        r_chi = yo - yi
        r_dchi = uo - ui
        residual = max(abs(r_chi) / abs(yi), abs(r_dchi) / abs(ui))
        # Jacobian of (r_chi, r_dchi) with respect to (slope, F).
        det = -yoB * uiF + yiF * uoB
        d_slope = -(-r_chi * uiF + yiF * r_dchi) / det
        d_F = -(yoB * r_dchi - uoB * r_chi) / det
        small = abs(d_slope) <= 1e-14 * abs(slope) and abs(d_F) <= 1e-13 * abs(F)
        if small and residual < 1e-12:
            converged = True
            break
        slope += d_slope
        F += d_F
    return slope, F, iterations, residual, converged


@jit_reproducible
def tf_chi_grid(x, slope, F, out_chi, out_dchi):
    """Fill chi(x) and chi'(x) on an arbitrary grid of x >= 0 (eq. 28).

    The grid may be in any order and contain repeats; it is sorted internally.
    Points with x <= :data:`X_MATCH` come from the outward solution, points in
    (X_MATCH, X_RIGHT] from the inward solution, points beyond from the asymptotic
    series (x = inf gives 0). Negative or NaN x give NaN.

    Parameters
    ----------
    x : ndarray of float
        Dimensionless radii r/b (eq. 26).
    slope, F : float
        chi'(0) and the asymptotic amplitude, from :func:`solve_tf`.
    out_chi, out_dchi : ndarray of float
        Same shape as ``x``; filled with chi and d chi/dx (dimensionless).

    Returns
    -------
    ok : bool
        False if an integration leg failed (then the outputs are incomplete).
    """
    a = np.empty(N_SERIES)
    asymptotic_coefficients(a)
    order = np.argsort(x)
    n = x.size
    n_out = 0
    n_in = 0
    for i in range(n):
        xi = x[i]
        if not (xi >= 0.0):
            out_chi[i] = np.nan
            out_dchi[i] = np.nan
        elif xi <= X_MATCH:
            n_out += 1
        elif xi <= X_RIGHT:
            n_in += 1
        else:
            c, dc, _, _ = tf_asymptotic(xi, F, a)
            out_chi[i] = c
            out_dchi[i] = dc
    pts_out_t = np.empty(n_out)
    idx_out = np.empty(n_out, dtype=np.int64)
    pts_in_t = np.empty(n_in)
    idx_in = np.empty(n_in, dtype=np.int64)
    k_out = 0
    k_in = n_in - 1  # inward leg runs from large x down: fill from the back
    for m in range(n):
        i = order[m]
        xi = x[i]
        if xi >= 0.0 and xi <= X_MATCH:
            pts_out_t[k_out] = math.sqrt(xi)
            idx_out[k_out] = i
            k_out += 1
        elif xi > X_MATCH and xi <= X_RIGHT:
            pts_in_t[k_in] = math.sqrt(xi)
            idx_in[k_in] = i
            k_in -= 1
    res = _shoot(slope, F, a, RTOL, False, pts_out_t, idx_out, pts_in_t, idx_in, out_chi, out_dchi)
    return res[8]
