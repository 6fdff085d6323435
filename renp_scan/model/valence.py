r"""Valence electron in the Thomas-Fermi-screened potential and its Coulomb integrals.

The paper (Sec. II, after eq. 16) notes that Thomas-Fermi overestimates the Coulomb
integrals and, following Neuffer & Commins, Phys. Rev. A 16, 844 (1977), solves the
radial Schroedinger equation of the valence electron in the potential of the nucleus
screened by a Thomas-Fermi core of Z - 1 electrons:

    V(r) = -alpha/r - (Z - 1) alpha chi(r/b)/r,     b = b(Z) of eq. 27.

**Why b(Z) and not b(Z - 1).** The core electrons are bound by the full nuclear charge
Z, and chi(r/b(Z)) describes how the electrons of the atom Z screen it; the core is the
neutral-atom TF density of eq. 29 scaled to Z - 1 electrons, n_core = (Z - 1)/Z n_e.
Its Hartree potential (Z - 1)(1 - chi)/r is then exactly the screening in V, so the
nucleus and core channels use one and the same core. The alternative, a neutral TF
atom of charge Z - 1 plus one unscreened proton, uses b(Z - 1) = (Z/(Z-1))^{1/3} b(Z)
(0.6 % larger for Cs); ``docs/valence_coulomb.md`` lists the (small) effect.

The two integrals the rates need (``C`` of F(omega), :mod:`renp_scan.model.spectrum`):

* nucleus channel (eq. 14): J_N^val = <u| Z alpha / r |e>;
* core channel (eqs. 9, 30): J_C^val = <u| alpha V_H |e>, with V_H(r) = (Z - 1)(1 - chi)/r
  the Hartree potential of the core density n_core (exchange neglected, as in the paper),

where e and u are the valence orbitals of the target's levels e and u (Cs: 6p, 7p;
Xe: the excited electron's 6s, 7s). Both are radial integrals over P_e P_u because the
operators are spherical (so l_e = l_u).

Measured levels to compare the model with are read by :mod:`renp_scan.model.valence_levels`.

Units at this module's boundary: radii in cm, energies in eV, radial functions in
cm^{-1/2}; the kernel :mod:`renp_scan.kernels.radial` works in eV^-1 and eV.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from ..kernels.radial import radial_integral, solve_bound_state
from .channels import normalize_channel
from .constants import ALPHA, HARTREE_EV, HBAR_C_EV_CM, M_E_EV
from .coulomb import tf_chi, tf_length_scale_cm
from .targets import Target, get_target

__all__ = [
    "LOG_STEP",
    "R_MAX_BOHR",
    "ValenceState",
    "core_hartree_potential_eV",
    "core_matrix_element_eV",
    "nucleus_matrix_element_eV",
    "radial_grid_cm",
    "valence_coulomb_eV",
    "valence_potential_eV",
    "valence_quantum_numbers",
    "valence_state",
]

#: Step of the radial grid in ln r. Numerov's energy error scales as h^4: 1e-10
#: relative for hydrogen 6p at this step (tests/test_radial.py).
LOG_STEP = 0.0025
#: Innermost radius times Z, in bohr: far inside the 1s shell, where P ~ r^{l+1}.
R_MIN_BOHR_Z = 1.0e-6
#: Outermost radius [bohr]: a state bound by >= 0.2 eV has decayed by e^-45 there.
R_MAX_BOHR = 400.0
#: Relative energy tolerance of the shooting and its iteration limit.
ENERGY_RTOL = 1.0e-13
MAX_ITERATIONS = 200

#: Bohr radius 1/(alpha m_e) [eV^-1].
_BOHR_EV_INV = 1.0 / (ALPHA * M_E_EV)
_L_LETTERS = "spdfghik"
_ORBITAL = re.compile(r"^(\d+)([spdfghik])(\d*)$")


@dataclass(frozen=True)
class ValenceState:
    """A bound valence orbital n, l in the screened potential, with diagnostics.

    Attributes
    ----------
    Z : int
        Nuclear charge.
    n, ell : int
        Principal and orbital quantum numbers (n - l - 1 radial nodes).
    energy_eV : float
        Eigenvalue [eV] (negative: minus the binding energy).
    r_cm : ndarray
        Radial grid [cm], uniform in ln r (read-only).
    P_per_sqrt_cm : ndarray
        P(r) = r R(r) [cm^-1/2], int P^2 dr = 1, positive near r = 0 (read-only).
    core_hartree_eV : ndarray
        alpha V_H(r) on the grid [eV]: the Coulomb energy of the electron with the core.
    iterations : int
        Bisection steps plus matching corrections of the shooting.
    mismatch : float
        Relative Numerov residual at the matching point.
    converged : bool
        Whether the energy iteration converged and the tail fits on the grid.
    """

    Z: int
    n: int
    ell: int
    energy_eV: float
    r_cm: np.ndarray
    P_per_sqrt_cm: np.ndarray
    core_hartree_eV: np.ndarray
    iterations: int
    mismatch: float
    converged: bool

    @property
    def nodes(self) -> int:
        """Sign changes of P on the grid (n - l - 1 for a correct state)."""
        p = self.P_per_sqrt_cm
        return int(np.count_nonzero(p[1:] * p[:-1] < 0.0))


def radial_grid_cm(Z, log_step=LOG_STEP, r_max_bohr=R_MAX_BOHR) -> np.ndarray:
    """Radial grid r_i = r_0 exp(i h) [cm] from 1e-6 a_B/Z to ``r_max_bohr`` a_B.

    Parameters
    ----------
    Z : float
        Nuclear charge (> 0): sets the innermost point.
    log_step : float
        h = ln(r_{i+1}/r_i) (0 < h <= 0.05).
    r_max_bohr : float
        Outermost radius in bohr (> 1).

    Returns
    -------
    ndarray
        Radii [cm].
    """
    if not (isinstance(Z, (int, float)) and math.isfinite(Z) and Z > 0):
        raise InputError("Z", f"must be a positive number, got {Z!r}")
    if not (isinstance(log_step, float) and 0.0 < log_step <= 0.05):
        raise InputError("log_step", f"must be a float in (0, 0.05], got {log_step!r}")
    if not (isinstance(r_max_bohr, (int, float)) and math.isfinite(r_max_bohr) and r_max_bohr > 1):
        raise InputError("r_max_bohr", f"must be > 1 (bohr), got {r_max_bohr!r}")
    x0 = math.log(R_MIN_BOHR_Z / Z)
    count = int(math.ceil((math.log(r_max_bohr) - x0) / log_step)) + 1
    r_bohr = np.exp(x0 + log_step * np.arange(count))
    return r_bohr * _BOHR_EV_INV * HBAR_C_EV_CM


def _check_core(Z, core_electrons, b_charge, core_scale):
    if isinstance(Z, bool) or not isinstance(Z, int) or Z <= 0:
        raise InputError("Z", f"must be a positive integer, got {Z!r}")
    n_core = Z - 1 if core_electrons is None else core_electrons
    if isinstance(n_core, bool) or not isinstance(n_core, int) or not 0 <= n_core < Z:
        raise InputError("core_electrons", f"must be an integer in [0, Z), got {core_electrons!r}")
    charge = Z if b_charge is None else b_charge
    if not (isinstance(charge, (int, float)) and math.isfinite(charge) and charge > 0):
        raise InputError("b_charge", f"must be a positive number, got {b_charge!r}")
    if not (isinstance(core_scale, (int, float)) and math.isfinite(core_scale) and core_scale > 0):
        raise InputError("core_scale", f"must be a positive number, got {core_scale!r}")
    return n_core, float(charge), float(core_scale)


def _tf_core(r_cm, b_charge, core_scale):
    """chi(r / b) with b = core_scale * b(b_charge) (eq. 27)."""
    b_cm = core_scale * tf_length_scale_cm(b_charge)
    chi, _ = tf_chi(np.asarray(r_cm, dtype=float) / b_cm)
    return chi


def core_hartree_potential_eV(r_cm, Z, core_electrons=None, b_charge=None, core_scale=1.0):
    """Coulomb energy alpha V_H(r) of an electron with the TF core (eqs. 29-30) [eV].

    V_H(r) = N_c (1 - chi(r/b))/r is the Hartree potential of N_c core electrons with
    the Thomas-Fermi density shape of eq. 29 (the electrons' part of the TF potential).

    Parameters
    ----------
    r_cm : array_like
        Radii [cm], > 0.
    Z : int
        Nuclear charge.
    core_electrons : int, optional
        N_c, default Z - 1.
    b_charge : float, optional
        Charge whose TF length b of eq. 27 sets the core size; default Z.
    core_scale : float
        Factor on b (1 = pure TF; used only to study the sensitivity).

    Returns
    -------
    ndarray
        alpha V_H [eV] (-> alpha N_c / r far out, finite at r -> 0).
    """
    n_core, charge, scale = _check_core(Z, core_electrons, b_charge, core_scale)
    r = np.asarray(r_cm, dtype=float)
    chi = _tf_core(r, charge, scale)
    return ALPHA * HBAR_C_EV_CM * n_core * (1.0 - chi) / r


def valence_potential_eV(
    r_cm,
    Z,
    core_electrons=None,
    b_charge=None,
    core_scale=1.0,
    polarizability_bohr3=0.0,
    polarization_cutoff_bohr=1.0,
):
    """Potential energy of the valence electron V(r) [eV] (paper Sec. II after eq. 16).

    V = -(Z - N_c) alpha/r - N_c alpha chi(r/b)/r - alpha_d/(2 (r^2 + r_c^2)^2), the last
    (core polarisation, in atomic units) only if ``polarizability_bohr3`` > 0. With the
    defaults this is -alpha/r - (Z - 1) alpha chi(r/b(Z))/r; with ``core_electrons=0``
    it is the hydrogen-like -Z alpha/r.

    Parameters
    ----------
    r_cm : array_like
        Radii [cm], > 0.
    Z : int
        Nuclear charge.
    core_electrons : int, optional
        N_c, default Z - 1.
    b_charge : float, optional
        Charge whose TF length b (eq. 27) sets the core size; default Z (see module doc).
    core_scale : float
        Factor on b (sensitivity studies only; 1 = the paper's model).
    polarizability_bohr3 : float
        Core dipole polarisability alpha_d [bohr^3] (0 = no polarisation term).
    polarization_cutoff_bohr : float
        Cut-off radius r_c [bohr] of the polarisation term.

    Returns
    -------
    ndarray
        V(r) [eV].
    """
    n_core, charge, scale = _check_core(Z, core_electrons, b_charge, core_scale)
    if not (math.isfinite(polarizability_bohr3) and polarizability_bohr3 >= 0.0):
        raise InputError("polarizability_bohr3", f"must be >= 0, got {polarizability_bohr3!r}")
    if not (math.isfinite(polarization_cutoff_bohr) and polarization_cutoff_bohr > 0.0):
        raise InputError(
            "polarization_cutoff_bohr", f"must be > 0, got {polarization_cutoff_bohr!r}"
        )
    r = np.asarray(r_cm, dtype=float)
    if not np.all(r > 0.0):
        raise InputError("r_cm", "radii must be > 0")
    chi = _tf_core(r, charge, scale) if n_core > 0 else np.zeros_like(r)
    alpha_hbar_c = ALPHA * HBAR_C_EV_CM
    potential = -alpha_hbar_c * ((Z - n_core) + n_core * chi) / r
    if polarizability_bohr3 > 0.0:
        r_bohr = r / (_BOHR_EV_INV * HBAR_C_EV_CM)
        potential = potential - HARTREE_EV * polarizability_bohr3 / (
            2.0 * (r_bohr**2 + polarization_cutoff_bohr**2) ** 2
        )
    return potential


def _freeze(array):
    array.setflags(write=False)
    return array


@functools.lru_cache(maxsize=256)
def valence_state(
    Z,
    n,
    ell,
    core_electrons=None,
    b_charge=None,
    core_scale=1.0,
    polarizability_bohr3=0.0,
    polarization_cutoff_bohr=1.0,
    log_step=LOG_STEP,
    r_max_bohr=R_MAX_BOHR,
) -> ValenceState:
    """Bound orbital n, l of the valence electron in :func:`valence_potential_eV` (cached).

    The state is the one with n - l - 1 radial nodes: the inner shells are the lower
    eigenstates of the same potential (Cs 6s has five nodes).

    Parameters
    ----------
    Z : int
        Nuclear charge.
    n, ell : int
        Quantum numbers, 0 <= l < n.
    core_electrons, b_charge, core_scale, polarizability_bohr3, polarization_cutoff_bohr
        As in :func:`valence_potential_eV`.
    log_step : float
        Grid step in ln r (see :func:`radial_grid_cm`).
    r_max_bohr : float
        Outermost grid radius [bohr].

    Returns
    -------
    ValenceState
        Energy [eV], normalised P [cm^-1/2] and how the shooting went. Check
        ``converged``; a state not bound on the grid has energy NaN.
    """
    for name, value in (("n", n), ("ell", ell)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise InputError(name, f"must be an integer, got {value!r}")
    if not 0 <= ell < n:
        raise InputError("ell", f"must satisfy 0 <= ell < n, got n={n}, ell={ell}")
    r_cm = radial_grid_cm(Z, log_step, r_max_bohr)
    potential = valence_potential_eV(
        r_cm,
        Z,
        core_electrons,
        b_charge,
        core_scale,
        polarizability_bohr3,
        polarization_cutoff_bohr,
    )
    hartree = core_hartree_potential_eV(r_cm, Z, core_electrons, b_charge, core_scale)
    r_ev = r_cm / HBAR_C_EV_CM
    p_ev = np.empty_like(r_ev)
    energy, iterations, mismatch, converged = solve_bound_state(
        r_ev, potential, ell, M_E_EV, n - ell - 1, ENERGY_RTOL, MAX_ITERATIONS, p_ev
    )
    return ValenceState(
        Z=Z,
        n=n,
        ell=ell,
        energy_eV=float(energy),
        r_cm=_freeze(r_cm),
        P_per_sqrt_cm=_freeze(p_ev / math.sqrt(HBAR_C_EV_CM)),
        core_hartree_eV=_freeze(hartree),
        iterations=int(iterations),
        mismatch=float(mismatch),
        converged=bool(converged),
    )


def _same_grid(a: ValenceState, b: ValenceState):
    if a.ell != b.ell:
        raise InputError(
            "b", f"a spherical operator connects only equal l, got {a.ell} and {b.ell}"
        )
    if a.r_cm.shape != b.r_cm.shape or not np.array_equal(a.r_cm, b.r_cm):
        raise InputError("b", "the two states must live on the same radial grid")


def nucleus_matrix_element_eV(a: ValenceState, b: ValenceState) -> float:
    """Return <a| Z alpha / r |b> [eV] (eq. 14, point nucleus), without Q_w.

    Parameters
    ----------
    a, b : ValenceState
        Two orbitals of one atom with equal l, on the same grid.

    Returns
    -------
    float
        The matrix element in eV.
    """
    _same_grid(a, b)
    inv_r = 1.0 / a.r_cm
    return (
        a.Z
        * ALPHA
        * HBAR_C_EV_CM
        * radial_integral(a.r_cm, a.P_per_sqrt_cm, inv_r, b.P_per_sqrt_cm)
    )


def core_matrix_element_eV(a: ValenceState, b: ValenceState) -> float:
    """Return <a| alpha V_H |b> [eV], the direct Coulomb integral with the TF core (eqs. 9, 30).

    Parameters
    ----------
    a, b : ValenceState
        Two orbitals of one atom with equal l, on the same grid (same core).

    Returns
    -------
    float
        The matrix element in eV (exchange neglected, as in the paper).
    """
    _same_grid(a, b)
    if not np.array_equal(a.core_hartree_eV, b.core_hartree_eV):
        raise InputError("b", "the two states must see the same core")
    return radial_integral(a.r_cm, a.P_per_sqrt_cm, a.core_hartree_eV, b.P_per_sqrt_cm)


def valence_quantum_numbers(label: str) -> tuple[int, int]:
    """(n, l) of the valence orbital named in a level label.

    The last token of the form ``<n><letter>[occupation]`` is taken: ``"6p 2P1/2"`` ->
    (6, 1), ``"5p5 6s 3P1"`` -> (6, 0) (the excited electron of the electron-hole level).

    Raises
    ------
    InputError
        ``field="label"`` if no orbital can be found.
    """
    found = None
    for token in str(label).split():
        match = _ORBITAL.match(token)
        if match and not match.group(3):
            found = match
    if found is None:
        raise InputError("label", f"no valence orbital like '6p' in level label {label!r}")
    n = int(found.group(1))
    ell = _L_LETTERS.index(found.group(2))
    if not 0 <= ell < n:
        raise InputError("label", f"orbital {found.group(0)!r} in {label!r} has l >= n")
    return n, ell


def _target_states(target: Target):
    n_e, l_e = valence_quantum_numbers(target.e_label)
    n_u, l_u = valence_quantum_numbers(target.u_label)
    if l_e != l_u:
        raise InputError(
            "atom",
            f"target {target.name!r}: levels e ({target.e_label}) and u ({target.u_label}) have "
            "different l; the monopole Coulomb matrix element between them vanishes",
        )
    return (n_e, l_e), (n_u, l_u)


@functools.lru_cache(maxsize=64)
def _valence_coulomb(Z, state_e, state_u, channel):
    e = valence_state(Z, *state_e)
    u = valence_state(Z, *state_u)
    for s in (e, u):
        if not s.converged:
            raise RuntimeError(
                f"valence state Z={Z} n={s.n} ell={s.ell} did not converge "
                f"({s.iterations} iterations, mismatch {s.mismatch:.2e})"
            )
    if channel == "nucleus":
        return nucleus_matrix_element_eV(u, e)
    return core_matrix_element_eV(u, e)


def valence_coulomb_eV(target, channel) -> float:
    """Coulomb integral of C in F(omega) for the valence model [eV] (cached).

    ``"nucleus"``: <u| Z alpha / r |e> (eq. 14 without Q_w; replaces J_N of eq. 15).
    ``"core"``: <u| alpha V_H |e> with the TF core of Z - 1 electrons (eqs. 9, 30;
    replaces J_C of eq. 10). u and e are the valence orbitals of the target's levels
    (Cs: 7p, 6p; Xe: 7s, 6s). The sign is that of P_u P_e > 0 near the nucleus.

    Parameters
    ----------
    target : str or Target
        Target name (e.g. ``"Cs"``) or a Target.
    channel : {"nucleus", "core"}
        Which Coulomb integral.

    Returns
    -------
    float
        The integral in eV.
    """
    target = get_target(target)
    channel = normalize_channel(channel)
    state_e, state_u = _target_states(target)
    return _valence_coulomb(target.Z, state_e, state_u, channel)
