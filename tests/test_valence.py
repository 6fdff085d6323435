"""Valence electron in the TF-screened potential (renp_scan.model.valence).

Independent references: the hydrogen-like limit (analytic), a second eigen-solver
(scipy solve_ivp DOP853 shooting with brentq, on a spline of chi, atomic units built here
from scipy.constants), grid refinement, measured levels (ARC / NIST, see
renp_scan/data/valence_levels.toml) and exact identities of the potential.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import load_script
from scipy import constants as sc
from scipy.integrate import quad, solve_ivp
from scipy.interpolate import CubicSpline
from scipy.optimize import brentq

from renp_scan.errors import InputError
from renp_scan.model import valence, valence_levels
from renp_scan.model.coulomb import coulomb_integrals, tf_chi
from renp_scan.model.targets import Target, get_target, load_targets

ALPHA = sc.fine_structure
ME = sc.physical_constants["electron mass energy equivalent in MeV"][0] * 1e6  # eV
HARTREE = sc.physical_constants["Hartree energy in eV"][0]
HBARC_CM = sc.physical_constants["reduced Planck constant times c in MeV fm"][0] * 1e-7


# ------------------------------------------------------------------ hydrogen-like limit


@pytest.mark.parametrize("Z,n,ell", [(1, 1, 0), (19, 4, 1), (55, 6, 0), (55, 7, 1)])
def test_no_core_is_hydrogen_like(Z, n, ell):
    state = valence.valence_state(Z, n, ell, core_electrons=0)
    assert state.converged
    # E_n = -Z^2 alpha^2 m / (2 n^2) (infinite nuclear mass)
    assert state.energy_eV / (-(Z**2) * ALPHA**2 * ME / (2 * n**2)) - 1 == pytest.approx(
        0, abs=1e-9
    )
    # <Z alpha / r> = Z alpha * Z / (n^2 a_B) = Z^2 alpha^2 m / n^2
    inv_r = valence.nucleus_matrix_element_eV(state, state)
    assert inv_r / (Z**2 * ALPHA**2 * ME / n**2) - 1 == pytest.approx(0, abs=1e-9)
    assert state.nodes == n - ell - 1


def test_potential_identities_and_limits():
    Z = 55
    r_cm = valence.radial_grid_cm(Z)
    V = valence.valence_potential_eV(r_cm, Z)
    VH = valence.core_hartree_potential_eV(r_cm, Z)
    alpha_hbar_c = ALPHA * HBARC_CM
    # The electrons' part of the potential is exactly the core's Hartree term:
    # V = -Z alpha / r + alpha V_H.
    np.testing.assert_allclose(V, -Z * alpha_hbar_c / r_cm + VH, rtol=1e-12)
    # Near the nucleus the full charge Z, far out the net charge 1 (chi ~ 144/x^3).
    assert r_cm[0] * V[0] / (-Z * alpha_hbar_c) == pytest.approx(1.0, abs=1e-5)
    assert r_cm[-1] * V[-1] / (-alpha_hbar_c) == pytest.approx(1.0, abs=1e-5)
    # Core Hartree potential -> (Z - 1) alpha / r far out, finite at the origin.
    assert r_cm[-1] * VH[-1] / ((Z - 1) * alpha_hbar_c) == pytest.approx(1.0, abs=1e-6)
    assert np.isfinite(VH[0]) and VH[0] > 0


def test_polarisation_term_in_atomic_units():
    r_cm = np.array([1.0, 3.0]) * HBARC_CM / (ALPHA * ME)  # 1 and 3 bohr
    bare = valence.valence_potential_eV(r_cm, 55)
    polarised = valence.valence_potential_eV(
        r_cm, 55, polarizability_bohr3=15.644, polarization_cutoff_bohr=2.0
    )
    expected = -HARTREE * 15.644 / (2 * (np.array([1.0, 9.0]) + 4.0) ** 2)
    np.testing.assert_allclose(polarised - bare, expected, rtol=1e-12)


# ------------------------------------------------------------ independent eigen-solver


class IvpShooter:
    """Second solver: DOP853 outward/inward in x = ln r, brentq on the log-derivative kink.

    Atomic units; V = -(1 + (Z - 1) chi(r/b)) / r with b = (3 pi)^(2/3) / 2^(7/3) Z^(-1/3)
    (eq. 27) and chi on a cubic spline in ln r.
    """

    def __init__(self, Z):
        self.Z = Z
        b = (3 * math.pi) ** (2 / 3) / 2 ** (7 / 3) * Z ** (-1 / 3)
        xs = np.linspace(math.log(1e-7 / Z), math.log(400.0), 30001)
        chi, _ = tf_chi(np.exp(xs) / b)
        self.chi = CubicSpline(xs, chi)

    def g(self, x, ell, E):
        r = np.exp(x)
        V = -(1.0 + (self.Z - 1) * self.chi(x)) / r
        return (ell + 0.5) ** 2 + 2.0 * r * r * (V - E)

    def legs(self, E, ell):
        Z = self.Z
        x0 = math.log(1e-6 / Z)
        r0 = math.exp(x0)
        a = -Z / (ell + 1.0)  # P = r^(l+1) (1 + a r)
        y0 = r0 ** (ell + 0.5) * (1 + a * r0)
        start = [y0, (ell + 0.5) * y0 + a * r0 ** (ell + 1.5)]
        xg = np.linspace(0.0, math.log(300.0), 4000)
        x_m = xg[np.nonzero(self.g(xg, ell, E) < 0)[0][-1]]
        x_inf = math.log(math.exp(x_m) + 45.0 / math.sqrt(-2.0 * E))
        kappa_r = math.sqrt(-2.0 * E) * math.exp(x_inf)

        def rhs(x, y):
            return [y[1], self.g(x, ell, E) * y[0]]

        opts = dict(method="DOP853", rtol=1e-12, atol=1e-300, dense_output=True)
        out = solve_ivp(rhs, (x0, x_m), start, **opts)
        inw = solve_ivp(rhs, (x_inf, x_m), [1e-30, -kappa_r * 1e-30], **opts)
        return out, inw, x0, x_m, x_inf

    def kink(self, E, ell):
        out, inw, *_ = self.legs(E, ell)
        return out.y[1, -1] / out.y[0, -1] - inw.y[1, -1] / inw.y[0, -1]

    def state(self, E_guess, ell):
        """Energy [hartree] near E_guess and a normalised y(x) = P / sqrt(r) (callable)."""
        E = brentq(lambda e: self.kink(e, ell), 1.01 * E_guess, 0.99 * E_guess, xtol=1e-16)
        out, inw, x0, x_m, x_inf = self.legs(E, ell)
        scale = out.y[0, -1] / inw.y[0, -1]

        def y(x):
            return out.sol(x)[0] if x <= x_m else scale * inw.sol(x)[0]

        pieces = [(x0, x_m), (x_m, x_inf)]
        norm = sum(quad(lambda x: math.exp(2 * x) * y(x) ** 2, *p, limit=400)[0] for p in pieces)
        return E, (lambda x: y(x) / math.sqrt(norm)), pieces


@pytest.fixture(scope="module")
def cs_ivp():
    shooter = IvpShooter(55)
    states = {}
    for n, ell in [(6, 1), (7, 1)]:
        model = valence.valence_state(55, n, ell)
        states[(n, ell)] = (model, *shooter.state(model.energy_eV / HARTREE, ell))
    return states


def test_tf_screened_energies_match_second_solver(cs_ivp):
    for model, E_ivp, _, _ in cs_ivp.values():
        assert model.converged
        # measured agreement 1.6e-11 (6p) and 1.1e-11 (7p)
        assert model.energy_eV / (E_ivp * HARTREE) - 1 == pytest.approx(0, abs=1e-8)


def test_nucleus_matrix_element_matches_second_solver(cs_ivp):
    (e, _, y_e, pieces), (u, _, y_u, _) = cs_ivp[(6, 1)], cs_ivp[(7, 1)]
    # <7p|1/r|6p> in atomic units = int r y_u y_e dx
    ref = sum(quad(lambda x: math.exp(x) * y_u(x) * y_e(x), *p, limit=400)[0] for p in pieces)
    value = valence.nucleus_matrix_element_eV(u, e) / (55 * HARTREE)
    assert value / ref - 1 == pytest.approx(0, abs=1e-6)


def test_grid_refinement():
    coarse_e = valence.valence_state(55, 6, 1)
    coarse_u = valence.valence_state(55, 7, 1)
    fine_e = valence.valence_state(55, 6, 1, log_step=0.00125)
    fine_u = valence.valence_state(55, 7, 1, log_step=0.00125)
    for c, f in ((coarse_e, fine_e), (coarse_u, fine_u)):
        assert c.energy_eV / f.energy_eV - 1 == pytest.approx(0, abs=1e-9)
    jn_c = valence.nucleus_matrix_element_eV(coarse_u, coarse_e)
    jn_f = valence.nucleus_matrix_element_eV(fine_u, fine_e)
    jc_c = valence.core_matrix_element_eV(coarse_u, coarse_e)
    jc_f = valence.core_matrix_element_eV(fine_u, fine_e)
    assert jn_c / jn_f - 1 == pytest.approx(0, abs=1e-8)
    assert jc_c / jc_f - 1 == pytest.approx(0, abs=1e-8)


@pytest.mark.parametrize("Z,ell,ns", [(55, 1, (2, 5, 6, 7)), (54, 0, (5, 6, 7)), (19, 1, (4, 5))])
def test_norm_orthogonality_nodes(Z, ell, ns):
    states = [valence.valence_state(Z, n, ell) for n in ns]
    for a in states:
        assert a.converged
        assert a.nodes == a.n - ell - 1
        for b in states:
            overlap = np.trapezoid(a.P_per_sqrt_cm * b.P_per_sqrt_cm * a.r_cm, np.log(a.r_cm))
            expected = 1.0 if a.n == b.n else 0.0
            assert overlap == pytest.approx(expected, abs=1e-9)
    energies = [s.energy_eV for s in states]
    assert energies == sorted(energies)


# ---------------------------------------------------------------- measured levels

MODEL_ORBITALS = {
    "Cs": [(6, 0), (6, 1), (7, 1)],
    "Rb": [(5, 0), (5, 1), (6, 1)],
    "K": [(4, 0), (4, 1), (5, 1)],
    "Xe": [(6, 0), (7, 0)],
}


@pytest.mark.parametrize("symbol", list(MODEL_ORBITALS))
def test_model_overbinds_by_a_bounded_amount(symbol):
    # The pure TF core screens too little at valence radii: every orbital is
    # overbound, by 11-22 % for Cs and Xe, up to 60 % for Rb 5s (docs/valence_coulomb.md).
    levels = valence_levels.load_valence_levels()[symbol]
    worst = {"Cs": 0.25, "Xe": 0.25, "Rb": 0.65, "K": 0.45}[symbol]
    for n, ell in MODEL_ORBITALS[symbol]:
        model = valence.valence_state(levels.Z, n, ell).energy_eV
        measured = -valence_levels.measured_binding_eV(symbol, n, ell)
        assert model < measured
        assert model / measured - 1 <= worst


def test_cs_ground_binding_is_the_ionisation_energy():
    # Cs ionisation energy 31406.4677325 cm^-1 (Deiglmayr et al., PRA 93, 013424 (2016))
    cm_to_eV = sc.h * sc.c / sc.e * 100
    assert valence_levels.measured_binding_eV("Cs", 6, 0) == pytest.approx(
        31406.4677325 * cm_to_eV, abs=1e-8
    )
    # the 6p centroid weights 2P1/2 : 2P3/2 = 2 : 4
    centroid = (2 * 1.385928618 + 4 * 1.454620692) / 6
    assert valence_levels.measured_binding_eV("Cs", 6, 1) == pytest.approx(
        3.893905727 - centroid, abs=1e-12
    )


def test_xe_levels_are_the_targets_levels():
    xe = get_target("Xe")
    levels = {lv.label: lv.energy_eV for lv in valence_levels.load_valence_levels()["Xe"].levels}
    assert levels[xe.e_label] == xe.e_eV
    assert levels[xe.u_label] == xe.u_eV
    cm_to_eV = sc.h * sc.c / sc.e * 100
    # Xe+ 2P3/2 limit 97833.787 cm^-1 (NIST ASD)
    assert valence_levels.load_valence_levels()["Xe"].ionization_limit_eV == pytest.approx(
        97833.787 * cm_to_eV, abs=1e-9
    )


def test_alkali_levels_match_arc():
    arc = pytest.importorskip("arc")
    atoms = {"Cs": (arc.Caesium(), 6), "Rb": (arc.Rubidium87(), 5), "K": (arc.Potassium39(), 4)}
    data = valence_levels.load_valence_levels()
    for symbol, (atom, n0) in atoms.items():
        assert data[symbol].ionization_limit_eV == pytest.approx(atom.ionisationEnergy, abs=1e-9)
        assert data[symbol].core_polarizability_bohr3 == atom.alphaC
        ground = atom.getEnergy(n0, 0, 0.5)
        for lv in data[symbol].levels:
            assert lv.energy_eV == pytest.approx(
                atom.getEnergy(lv.n, lv.ell, lv.j) - ground, abs=1e-8
            )


# ------------------------------------------------------------ Coulomb integrals


def test_valence_coulomb_is_the_u_e_matrix_element():
    e = valence.valence_state(55, 6, 1)
    u = valence.valence_state(55, 7, 1)
    assert valence.valence_coulomb_eV("Cs", "nucleus") == valence.nucleus_matrix_element_eV(u, e)
    assert valence.valence_coulomb_eV("Cs", "core") == valence.core_matrix_element_eV(u, e)
    # symmetric operators
    assert valence.nucleus_matrix_element_eV(e, u) == pytest.approx(
        valence.nucleus_matrix_element_eV(u, e), rel=1e-14
    )
    xe_e = valence.valence_state(54, 6, 0)
    xe_u = valence.valence_state(54, 7, 0)
    assert valence.valence_coulomb_eV("Xe", "nucleus") == valence.nucleus_matrix_element_eV(
        xe_u, xe_e
    )
    assert valence.valence_coulomb_eV("Xe136", "core_electrons") == valence.valence_coulomb_eV(
        "Xe", "core"
    )


def test_off_diagonal_hamiltonian_vanishes():
    # <u|H|e> = 0 for two eigenstates: the kinetic term, by an independent finite-difference
    # derivative (int P_u' P_e' dr / 2m for l = 1 adds l(l+1)/(2 m r^2)), cancels <u|V|e>.
    e = valence.valence_state(55, 6, 1)
    u = valence.valence_state(55, 7, 1)
    r = e.r_cm / HBARC_CM  # eV^-1
    Pe = e.P_per_sqrt_cm * math.sqrt(HBARC_CM)
    Pu = u.P_per_sqrt_cm * math.sqrt(HBARC_CM)
    x = np.log(r)
    dPe = np.gradient(Pe, x, edge_order=2) / r
    dPu = np.gradient(Pu, x, edge_order=2) / r
    kinetic = np.trapezoid((dPu * dPe / (2 * ME) + Pu * Pe / (ME * r * r)) * r, x)
    V = valence.valence_potential_eV(e.r_cm, 55)
    potential = np.trapezoid(Pu * V * Pe * r, x)
    assert abs(kinetic + potential) <= 1e-4 * abs(potential)


def test_cs_ratio_to_thomas_fermi():
    # The paper (Sec. II after eq. 16) reports the valence model's J_N for Cs "smaller by
    # a factor ~2.5" than TF. The literal matrix element <7p|Z alpha/r|6p> of eq. 14 in
    # that model is smaller by ~167 (diagonal <6s|Z alpha/r|6s>: ~28): TF's J_N
    # (eq. 34-35) is the potential at the nucleus of *all* Z electrons, dominated by the
    # inner shells. The model's freedoms (b(Z-1), a core size fitted to the measured
    # 6p energy) move the ratio by < 15 %, so 2.5 is not within reach of this model.
    ratio = coulomb_integrals().J_N_eV(55) / valence.valence_coulomb_eV("Cs", "nucleus")
    assert 140.0 < ratio < 200.0
    e = valence.valence_state(55, 6, 1, b_charge=54.0)
    u = valence.valence_state(55, 7, 1, b_charge=54.0)
    other = coulomb_integrals().J_N_eV(55) / valence.nucleus_matrix_element_eV(u, e)
    assert abs(other / ratio - 1) < 0.05
    e = valence.valence_state(55, 6, 1, core_scale=0.9239)  # fits the 6p centroid
    u = valence.valence_state(55, 7, 1, core_scale=0.9239)
    assert e.energy_eV == pytest.approx(-valence_levels.measured_binding_eV("Cs", 6, 1), abs=2e-3)
    fitted = coulomb_integrals().J_N_eV(55) / valence.nucleus_matrix_element_eV(u, e)
    assert abs(fitted / ratio - 1) < 0.15


def test_committed_ratio_table_is_current():
    script = load_script("scripts/valence_table.py")
    for name in ("ratios", "energies", "diagonal"):
        assert script.committed_block(name) == script.RENDERERS[name](), name


# ------------------------------------------------------------ inputs


def test_quantum_numbers_from_labels():
    assert valence.valence_quantum_numbers("6p 2P1/2") == (6, 1)
    assert valence.valence_quantum_numbers("5p5 7s 3P1") == (7, 0)
    assert valence.valence_quantum_numbers("4s 2S1/2") == (4, 0)
    with pytest.raises(InputError) as err:
        valence.valence_quantum_numbers("ground")
    assert err.value.field == "label"


def test_bad_inputs_raise_input_error():
    with pytest.raises(InputError, match="channel"):
        valence.valence_coulomb_eV("Cs", "photon")
    with pytest.raises(InputError, match="atom"):
        valence.valence_coulomb_eV("Unobtainium", "nucleus")
    cs = load_targets()["Cs"]
    mixed = Target(
        **{**{f: getattr(cs, f) for f in cs.__dataclass_fields__}, "e_label": "7s 2S1/2"}
    )
    with pytest.raises(InputError, match="different l"):
        valence.valence_coulomb_eV(mixed, "nucleus")
    with pytest.raises(InputError) as err:
        valence.valence_state(55, 2, 2)
    assert err.value.field == "ell"
    with pytest.raises(InputError) as err:
        valence.valence_state(55, 6, 0, core_electrons=55)
    assert err.value.field == "core_electrons"
    with pytest.raises(InputError) as err:
        valence.valence_potential_eV([1e-8], 55, polarizability_bohr3=-1.0)
    assert err.value.field == "polarizability_bohr3"
    with pytest.raises(InputError) as err:
        valence_levels.measured_binding_eV("Fr", 7, 0)
    assert err.value.field == "symbol"
    a = valence.valence_state(55, 6, 0)
    b = valence.valence_state(55, 6, 1)
    with pytest.raises(InputError, match="equal l"):
        valence.nucleus_matrix_element_eV(a, b)


def test_state_arrays_are_read_only():
    state = valence.valence_state(55, 6, 1)
    with pytest.raises(ValueError):
        state.P_per_sqrt_cm[0] = 1.0


# ------------------------------------------------------------ end to end


@pytest.mark.parametrize("atom", ["Cs", "Xe", "K39"])
@pytest.mark.parametrize("channel", ["nucleus", "core"])
def test_valence_spectrum_scales_tf_spectrum_by_squared_ratio(atom, channel):
    import renp_scan

    target = get_target(atom)
    ci = coulomb_integrals()
    tf_integral = ci.J_N_eV(target.Z) if channel == "nucleus" else ci.J_C_eV(target.Z)
    ratio = valence.valence_coulomb_eV(atom, channel) / tf_integral
    omega = np.linspace(0.05, 0.45, 9) * target.eps_eg_eV
    kwargs = dict(m0_eV=0.05, channel=channel, majorana_phases_rad=(0.3, 1.1))
    tf = renp_scan.spectrum(atom, omega, **kwargs)
    val = renp_scan.spectrum(atom, omega, coulomb_model="valence", **kwargs)
    assert np.all(tf > 0)
    np.testing.assert_allclose(val / tf, ratio**2, rtol=1e-12)
