"""Pair-emission channels: who emits the neutrino pair and with which coupling.

* ``"nucleus"`` — Coulomb-assisted emission from the nucleus (eqs. 12–16): coupling
  Q_w J_N, flavour-diagonal and equal for every mass eigenstate, so the spectrum is
  Sum_i Delta_i I_i (eq. 20) and insensitive to mixing and Majorana phases.
* ``"core"`` — emission from the closed-shell core electrons (eqs. 5–11): coupling
  b_ij J_C with b_ij of eq. 6. All nine ordered pairs (i, j) contribute with |b_ij|^2;
  for Majorana neutrinos the identical-fermion interference term delta_M m_i m_j enters
  with Re(b_ij^2), which carries the Majorana phases (Dinh, Petcov, Sasao, Tanaka &
  Yoshimura, PLB 719 (2013) 154 = ref. [14]; the sign is that of the mono-pole current,
  eq. 36). See ``docs/physics.md``.

Each channel is reduced to the symmetric weight matrices (W, V) of
:mod:`renp_scan.kernels.rate`.
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from .neutrinos import coupling_matrix, pmns_first_row

CHANNELS = ("nucleus", "core")
#: Neutrino natures, as :func:`normalize_majorana` accepts them by name.
NATURES = ("majorana", "dirac")


def normalize_channel(channel) -> str:
    """Return a valid channel name or raise InputError naming ``channel``."""
    if isinstance(channel, str):
        key = channel.strip().lower()
        key = {"core_electrons": "core", "core-electrons": "core", "electrons": "core"}.get(key, key)
        if key in CHANNELS:
            return key
    raise InputError("channel", f"unknown channel {channel!r}; allowed: 'nucleus', 'core'")


def normalize_majorana(majorana) -> bool:
    """Accept a bool (True = Majorana) or the strings 'majorana' / 'dirac'."""
    if isinstance(majorana, (bool, np.bool_)):
        return bool(majorana)
    if isinstance(majorana, str) and majorana.strip().lower() in NATURES:
        return majorana.strip().lower() == "majorana"
    raise InputError("majorana", f"must be True/False or 'majorana'/'dirac', got {majorana!r}")


def channel_weights(channel, majorana, mixing, sin2_theta_W, majorana_phases_rad=(0.0, 0.0)):
    """Weights (W, V) of the rate kernel for one channel.

    Parameters
    ----------
    channel : {"nucleus", "core"}
    majorana : bool
        True for Majorana neutrinos (delta_M = 1).
    mixing : MixingParams
        Oscillation parameters of the chosen ordering (used by the core channel).
    sin2_theta_W : float
        Weak mixing angle entering b_ij (eq. 6).
    majorana_phases_rad : (float, float)
        (alpha21, alpha31) [rad]; enter only the core channel with Majorana neutrinos.

    Returns
    -------
    (ndarray, ndarray)
        Real symmetric 3x3 W (multiplies I^D_ij) and V (multiplies m_i m_j).
    """
    delta_m = 1.0 if majorana else 0.0
    if channel == "nucleus":
        return np.eye(3), delta_m * np.eye(3)
    b = coupling_matrix(pmns_first_row(mixing, majorana_phases_rad), sin2_theta_W)
    w_kin = np.abs(b) ** 2
    w_maj = delta_m * np.real(b * b)
    # b is Hermitian, so both are symmetric up to rounding; make it exact for the kernel.
    return 0.5 * (w_kin + w_kin.T), 0.5 * (w_maj + w_maj.T)
