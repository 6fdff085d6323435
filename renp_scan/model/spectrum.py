"""Absolute RENP spectral rates Gamma(omega) in Hz (paper eqs. 18–23).

Gamma(omega) = Gamma_0 F(omega)^2 I(omega) eta, with Gamma_0 = (3/4) G_F^2 n^3 V eps_eg
(eq. 18), evaluated in natural units (eV) and converted to s^-1 by dividing by hbar.

One formula covers both level schemes of the paper with three levels g < e < u of the
target (see :class:`renp_scan.model.targets.Target`):

F(omega) = C R d_ug / (sqrt(3 pi) (eps_u - eps_e + omega)(eps_e - eps_g - omega)),
d_ug^2 = 3 pi A_ug / (eps_u - eps_g)^3,

* ``level_ratio="eq19"`` (default, every target): R = (eps_u - eps_g)/(eps_u - eps_e),
  eq. 19 (alkali: g = ns, e = np, u = n'p) and the same diagram's ratio for the
  electron-hole scheme (Xe: g = 5p, e = 6s, u = 7s);
* ``level_ratio="eq23-printed"`` (electron-hole targets only): R = (eps_u - eps_e)/(eps_u - eps_g),
  eq. 23 exactly as printed, the inverse of eq. 19's pattern (``docs/physics.md``),

and C = Q_w J_N (nucleus channel, eqs. 14–16) or J_C (core channel, eq. 10; b_ij enters
through the channel weights).

The absolute scale is the paper's: the time orderings of the path F(omega) describes sum
to zero for a static point nucleus and long-wavelength neutrinos
(``scripts/time_orderings.py``; ``docs/physics.md``, "What the absolute rates rest on").
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ..errors import InputError
from ..kernels.rate import rate_grid
from . import constants, valence
from .channels import channel_weights
from .coulomb import coulomb_integrals
from .neutrinos import neutrino_masses, thresholds_eV
from .oscillations import OscillationData
from .physics import (
    CHANNEL_LABELS,
    COULOMB_MODELS,
    DEFAULT_COULOMB_MODEL,
    DENSITY_CM3,
    ETA,
    HIERARCHY_LABELS,
    NATURE_LABELS,
    VOLUME_CM3,
    Physics,
    check_rate_scale,
    real_number,
)
from .targets import Target, check_level_ratio, get_target

# The physics choices and their labels are model.physics's; only the rate is here.
__all__ = [
    "SpectrumModel",
    "build_model",
    "check_omega",
    "coulomb_strength_eV",
    "gamma0_eV3",
    "level_ratio",
    "point_model",
    "rate_line",
    "spectrum",
]


def gamma0_eV3(eps_eg_eV, density_cm3, volume_cm3) -> float:
    """Gamma_0 = (3/4) G_F^2 n^3 V eps_eg of eq. 18, in natural units [eV^3]."""
    n_eV3 = constants.density_cm3_to_eV3(density_cm3)
    v_eV3 = constants.volume_cm3_to_eV3(volume_cm3)
    return 0.75 * constants.G_F_EV2**2 * n_eV3**3 * v_eV3 * eps_eg_eV


def coulomb_strength_eV(target: Target, channel: str, sin2_theta_W: float, coulomb_model="thomas-fermi"):
    """C of F(omega): Q_w J_N (nucleus, eqs. 14–15) or J_C (core, eq. 10), in eV.

    ``coulomb_model="thomas-fermi"`` uses the paper's TF integrals; ``"valence"`` replaces
    J_N by <u|Z alpha/r|e> and J_C by <u|alpha V_H|e> of the valence electron in the
    TF-screened potential (paper Sec. II after eq. 16; ``docs/valence_coulomb.md``).
    """
    if coulomb_model not in COULOMB_MODELS:
        raise InputError("coulomb_model", f"unknown model {coulomb_model!r}; allowed: {', '.join(COULOMB_MODELS)}")
    if coulomb_model == "valence":
        integral = valence.valence_coulomb_eV(target, channel)
        if channel == "nucleus":
            return target.weak_charge(sin2_theta_W) * integral
        return integral
    ci = coulomb_integrals()
    if channel == "nucleus":
        return target.weak_charge(sin2_theta_W) * ci.J_N_eV(target.Z)
    return ci.J_C_eV(target.Z)


def level_ratio(target: Target, form: str | None = None) -> float:
    """Level ratio R of F(omega), dimensionless.

    ``form`` is ``"eq19"``: (eps_u - eps_g)/(eps_u - eps_e) (eq. 19's pattern), or
    ``"eq23-printed"``: (eps_u - eps_e)/(eps_u - eps_g) (eq. 23 as printed,
    electron-hole targets only); None takes ``target.level_ratio``.
    """
    form = target.level_ratio if form is None else check_level_ratio(form, target)
    d_ug = target.u_eV - target.g_eV
    d_ue = target.u_eV - target.e_eV
    return d_ug / d_ue if form == "eq19" else d_ue / d_ug


@dataclass(frozen=True)
class SpectrumModel:
    """Everything Gamma(omega) needs for one parameter point, ready for the kernel.

    Attributes
    ----------
    eps_eg_eV : float
        Level spacing eps_e - eps_g [eV].
    a_eV : float
        eps_u - eps_e [eV].
    amplitude_Hz_eV2 : float
        Gamma_0 eta C^2 R^2 A_ug / (eps_u - eps_g)^3 / hbar [Hz eV^2].
    masses_eV : ndarray
        (m1, m2, m3) [eV].
    w_kin, w_maj : ndarray
        Channel weights (see :mod:`renp_scan.kernels.rate`).
    """

    eps_eg_eV: float
    a_eV: float
    amplitude_Hz_eV2: float
    masses_eV: np.ndarray
    w_kin: np.ndarray
    w_maj: np.ndarray

    def evaluate(self, omega_eV: np.ndarray, out: np.ndarray) -> np.ndarray:
        """Fill ``out`` (float64 or float32) with Gamma(omega) [Hz] on a validated 1-D grid."""
        rate_grid(
            omega_eV, self.eps_eg_eV, self.a_eV, self.amplitude_Hz_eV2,
            self.masses_eV, self.w_kin, self.w_maj, out,
        )
        return out

    def thresholds_eV(self) -> np.ndarray:
        """The six distinct thresholds omega_ij as a 3x3 array [eV]."""
        return thresholds_eV(self.eps_eg_eV, self.masses_eV)


def build_model(
    atom,
    m0_eV,
    hierarchy="NH",
    majorana=True,
    channel="nucleus",
    density_cm3=DENSITY_CM3,
    volume_cm3=VOLUME_CM3,
    eta=ETA,
    majorana_phases_rad=(0.0, 0.0),
    coulomb_model=DEFAULT_COULOMB_MODEL,
    oscillation_data: OscillationData | None = None,
    level_ratio: str | None = None,
) -> SpectrumModel:
    """Validate one parameter point and precompute its :class:`SpectrumModel`.

    Arguments are those of :func:`spectrum` (without the omega grid).
    """
    physics = Physics(hierarchy, majorana, channel, coulomb_model, majorana_phases_rad,
                      density_cm3, volume_cm3, eta, level_ratio, oscillation_data)
    return point_model(get_target(atom), m0_eV, physics)


def point_model(target: Target, m0_eV, physics: Physics) -> SpectrumModel:
    """Return the :class:`SpectrumModel` of ``target`` at m0 = ``m0_eV`` [eV] under ``physics``.

    ``physics`` is validated on its construction; here m0 and the level-ratio form are
    checked against the target.
    """
    masses = neutrino_masses(real_number("m0_eV", m0_eV), physics.hierarchy,
                             physics.oscillation_data)
    return _cached_model(target, masses, physics, physics.level_ratio_for(target))


@lru_cache(maxsize=4096)
def _cached_model(target, masses, physics, form):
    data = physics.oscillation_data
    mixing = data.ordering(physics.hierarchy)
    w_kin, w_maj = channel_weights(physics.channel, physics.majorana, mixing, data.sin2_theta_W,
                                   physics.majorana_phases_rad)
    c_eV = coulomb_strength_eV(target, physics.channel, data.sin2_theta_W, physics.coulomb_model)
    d_ug = target.u_eV - target.g_eV
    a_ug_eV = constants.rate_Hz_to_eV(target.A_ug_per_s)
    f2_const = c_eV**2 * level_ratio(target, form) ** 2 * a_ug_eV / d_ug**3
    amp_eV3 = (gamma0_eV3(target.eps_eg_eV, physics.density_cm3, physics.volume_cm3)
               * physics.eta * f2_const)
    return SpectrumModel(
        eps_eg_eV=target.eps_eg_eV,
        a_eV=target.u_eV - target.e_eV,
        amplitude_Hz_eV2=constants.rate_eV_to_Hz(amp_eV3),
        masses_eV=np.array(masses, dtype=float),
        w_kin=np.ascontiguousarray(w_kin, dtype=float),
        w_maj=np.ascontiguousarray(w_maj, dtype=float),
    )


def check_omega(omega_eV, eps_eg_eV) -> np.ndarray:
    """Validate photon energies: finite and 0 < omega < eps_eg (F has its pole at eps_eg).

    Real numbers only: complex, boolean and string values are refused, not cast.
    """
    try:
        raw = np.asarray(omega_eV)
        if raw.dtype.kind not in "iuf":
            raise TypeError(raw.dtype)
        omega = raw.astype(np.float64)
    except (TypeError, ValueError):
        raise InputError("omega_eV", f"must be real numbers in eV, got {omega_eV!r}") from None
    if omega.size == 0:
        raise InputError("omega_eV", "is empty; give at least one photon energy in eV")
    # min and max propagate NaN and carry any inf, so they also decide finiteness
    # without a third pass over omega.
    lo, hi = float(omega.min()), float(omega.max())
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise InputError("omega_eV", "contains NaN or inf")
    if lo <= 0.0 or hi >= eps_eg_eV:
        raise InputError(
            "omega_eV",
            f"must lie in (0, eps_eg) = (0, {eps_eg_eV:g}) eV (F(omega) has its pole at eps_eg); "
            f"got range [{lo:g}, {hi:g}] eV",
        )
    return omega


def spectrum(
    atom,
    omega_eV,
    m0_eV,
    hierarchy="NH",
    majorana=True,
    channel="nucleus",
    density_cm3=DENSITY_CM3,
    volume_cm3=VOLUME_CM3,
    eta=ETA,
    majorana_phases_rad=(0.0, 0.0),
    coulomb_model=DEFAULT_COULOMB_MODEL,
    oscillation_data: OscillationData | None = None,
    out: np.ndarray | None = None,
    level_ratio: str | None = None,
) -> np.ndarray:
    """RENP photon spectrum Gamma(omega) [Hz] (eqs. 18–23).

    Parameters
    ----------
    atom : str or Target
        Target key from the data file (``"Cs"``, ``"Xe"``, ...) or a Target.
    omega_eV : float or array_like
        Photon energies [eV], each with 0 < omega < eps_eg.
    m0_eV : float
        Smallest neutrino mass [eV], >= 0.
    hierarchy : {"NH", "IH"}
        Neutrino mass ordering.
    majorana : bool or {"majorana", "dirac"}
        Nature of the neutrinos (delta_M = 1 for Majorana).
    channel : {"nucleus", "core"}
        Pair emitted by the nucleus (Q_w J_N) or by the core electrons (b_ij J_C).
    density_cm3 : float
        Target number density n [cm^-3] (paper: 1e21).
    volume_cm3 : float
        Target volume V [cm^3] (paper: 100).
    eta : float
        Extractable fraction eta_omega(t) of eq. 18, in (0, 1] (paper: 1e-6).
    majorana_phases_rad : (float, float)
        (alpha21, alpha31) [rad]; matter only for channel "core" with Majorana neutrinos.
    coulomb_model : {"thomas-fermi", "valence"}
        Model of the Coulomb integrals: the paper's Thomas-Fermi estimate (default,
        eqs. 10, 15) or matrix elements between valence orbitals solved in the
        TF-screened potential (paper Sec. II after eq. 16; ``docs/valence_coulomb.md``).
    oscillation_data : OscillationData, optional
        Replaces the package's NuFIT 6.0 data file.
    out : ndarray, optional
        Preallocated float64 or float32 array of omega's shape; filled in place and
        returned. A float32 ``out`` takes the kernel's single-precision path (square roots
        and the final division in float32 on arguments formed in double): each value is
        within 5 x 2^-24 (3e-7) of the float64 result relative to the sum of the absolute
        pair terms, next to the 2^-24 of storing that result as float32
        (:func:`renp_scan.kernels.rate.rate_grid`).
    level_ratio : {"eq19", "eq23-printed"}, optional
        Form of the level ratio R of F(omega): ``"eq19"``, (eps_u - eps_g)/(eps_u - eps_e)
        as in eq. 19, or ``"eq23-printed"``, (eps_u - eps_e)/(eps_u - eps_g) as eq. 23
        prints it (electron-hole targets only; for Xe it lowers every rate by 582.75).
        None (default) uses the target's ``level_ratio`` (``"eq19"`` unless its targets
        file says otherwise).

    Returns
    -------
    ndarray
        Gamma(omega) [Hz] with omega's shape; exactly 0 where every pair is closed
        (omega >= omega_ij for all i, j, up to eps_eg). The absolute scale is the
        paper's (``docs/physics.md``, "What the absolute rates rest on").
    """
    physics = Physics(hierarchy, majorana, channel, coulomb_model, majorana_phases_rad,
                      density_cm3, volume_cm3, eta, level_ratio, oscillation_data)
    return rate_line(get_target(atom), omega_eV, m0_eV, physics, out)


def rate_line(target: Target, omega_eV, m0_eV, physics: Physics,
              out: np.ndarray | None = None) -> np.ndarray:
    """Gamma(omega) [Hz] of ``target`` at ``m0_eV`` under ``physics``: :func:`spectrum`'s work.

    The one function every rate goes through (:func:`spectrum`, a sweep's blocks, rate
    tables); arguments as in :func:`spectrum`, with the physics already validated.
    """
    model = point_model(target, m0_eV, physics)
    omega = check_omega(omega_eV, model.eps_eg_eV)
    if out is None:
        result = np.empty(omega.shape, dtype=np.float64)
    else:
        if (not isinstance(out, np.ndarray) or out.dtype not in (np.float64, np.float32)
                or out.shape != omega.shape):
            raise InputError("out", f"must be a float64 or float32 ndarray of shape {omega.shape}")
        if not out.flags.writeable:
            raise InputError("out", "is read-only")
        result = out
    flat_omega = np.ascontiguousarray(omega).reshape(-1)
    if result.flags.c_contiguous:
        model.evaluate(flat_omega, result.reshape(-1))
    else:
        tmp = np.empty(flat_omega.shape, dtype=result.dtype)
        model.evaluate(flat_omega, tmp)
        result[...] = tmp.reshape(result.shape)
    # Rates are >= 0 and max propagates NaN: one reduction, no boolean temporary.
    if not math.isfinite(float(result.max())):
        # Only inputs far beyond any experiment get here (check_rate_scale keeps a margin).
        raise InputError("density_cm3", f"the rate overflows float64 at n = "
                         f"{physics.density_cm3!r} cm^-3, V = {physics.volume_cm3!r} cm^3, "
                         f"eta = {physics.eta!r}; lower them")
    return result
