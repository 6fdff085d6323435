"""The time orderings of the path F(omega) describes sum to zero (scripts/time_orderings.py).

Denominators are written out here by hand from old-fashioned perturbation theory
(E_initial - E_intermediate, energy conservation E_2nu = eps_e - eps_g - omega), not taken
from the script; the script's enumeration must equal them, and their sum must vanish to
rounding while each term is of order 0.01-1 eV^-2.
"""

import math

import mpmath
import pytest
from conftest import load_script

LEVELS = {"Cs": (0.0, 1.3859, 2.6986), "Xe": (0.0, 8.437, 10.593)}  # paper Sec. III, eV
FRACTIONS = (0.05, 0.3, 0.6, 0.9, 0.999)  # omega / (eps_eg / 2)


@pytest.fixture(scope="module")
def script():
    return load_script("scripts/time_orderings.py")


def by_hand(g, e, u, omega):
    """(W V D, V W D, V D W): pair vertex before, between, after Coulomb e->u and E1 u->g."""
    pair = e - g - omega
    return (1 / ((-pair) * (e - u - pair)),   # e+pair, then u+pair
            1 / ((e - u) * (e - u - pair)),   # u, then u+pair
            1 / ((e - u) * (e - g - omega)))  # u, then g+photon


@pytest.mark.parametrize("atom", LEVELS)
@pytest.mark.parametrize("fraction", FRACTIONS)
def test_orderings_cancel_to_rounding(script, atom, fraction):
    g, e, u = LEVELS[atom]
    omega = fraction * (e - g) / 2
    terms = [t for _, _, t in script.surviving_path(g, e, u, omega)]
    want = by_hand(g, e, u, omega)
    for got, ref in zip(terms, want, strict=True):
        assert got == pytest.approx(ref, rel=1e-14)
    biggest = max(abs(t) for t in terms)
    # The terms are not small and not all of one sign: the cancellation is real.
    assert min(abs(t) for t in terms) > 1e-2
    assert any(t > 0 for t in terms) and any(t < 0 for t in terms)
    assert abs(math.fsum(terms)) <= 4 * 2.0**-52 * biggest
    # 50 digits: zero to 1e-48 of the terms (exact cancellation, not a float accident).
    with mpmath.workdps(50):
        mg, me, mu = (mpmath.mpf(str(v)) for v in (g, e, u))
        mw = mpmath.mpf(fraction) * (me - mg) / 2
        exact = [t for _, _, t in script.surviving_path(mg, me, mu, mw)]
        assert abs(mpmath.fsum(exact)) < mpmath.mpf("1e-48") * max(abs(t) for t in exact)


@pytest.mark.parametrize("atom", LEVELS)
def test_a_vertex_that_acts_on_the_atom_does_not_cancel(atom):
    """The cancellation needs W = c * identity: unequal weights on e, u, g leave a remainder."""
    g, e, u = LEVELS[atom]
    omega = 0.5 * (e - g) / 2
    terms = by_hand(g, e, u, omega)
    weighted = terms[0] * 1.0 + terms[1] * 1.1 + terms[2] * 0.9  # W on e, on u, on g
    assert abs(weighted) > 1e-3 * max(abs(t) for t in terms)


def test_symbolic_and_eq17(script):
    sympy = pytest.importorskip("sympy")
    g, e, u, w = sympy.symbols("g e u w", real=True)
    assert sympy.simplify(sum(t for _, _, t in script.surviving_path(g, e, u, w))) == 0
    # The same enumeration on the path of eq. 17 gives the paper's three printed terms.
    x = sympy.Symbol("x", real=True)
    ours = sorted(sympy.srepr(sympy.simplify(t)) for _, t in script.eq17_path(g, e, x, w))
    printed = [-1 / ((x - e + w) * (e - g - w)), 1 / ((x - g) * (e - g - w)),
               1 / ((x - g) * (x - e + w))]  # eq. 17 with ns = g, np = e, n's = x
    assert ours == sorted(sympy.srepr(sympy.simplify(t)) for t in printed)
    # Any chain of atomic vertices: 4 atomic vertices, 5 insertions.
    ds = sympy.symbols("d1:4", real=True)
    big_e = sympy.Symbol("E", positive=True)
    assert sympy.simplify(sympy.together(sum(script.insertion_terms(list(ds), big_e)))) == 0


@pytest.mark.parametrize("atom", LEVELS)
def test_paper_bracket_is_not_the_ordering_sum(script, atom):
    """F(omega)'s energy factor (eq. 19 form) is of the size of single terms, not zero."""
    g, e, u = LEVELS[atom]
    for fraction in FRACTIONS:
        omega = fraction * (e - g) / 2
        bracket = script.paper_bracket(g, e, u, omega)
        by_paper = (u - g) / (u - e) / ((u - e + omega) * (e - g - omega))
        assert bracket == pytest.approx(by_paper, rel=1e-14)
        assert bracket > 0.1 * max(abs(t) for t in by_hand(g, e, u, omega))


@pytest.mark.parametrize("atom", LEVELS)
def test_suppression_estimate_inputs(script, atom):
    from scipy import constants as sc

    s = script.suppression(atom)
    a_b_over_hbar_c = sc.physical_constants["Bohr radius"][0] / (sc.hbar * sc.c / sc.e)  # 1/eV
    g, e, _ = LEVELS[atom]
    assert s["q_aB"] == pytest.approx(0.5 * (e - g) * a_b_over_hbar_c, rel=1e-6)
    mass_u = {"Cs": 132.905, "Xe": 130.905}[atom]
    assert s["recoil"] == pytest.approx(sc.m_e / sc.atomic_mass / mass_u, rel=1e-4)
    # Valence radii of a few bohr: the expansion parameters are small, so is the estimate.
    assert 1.0 < s["r2_ue_bohr2"] < 200.0
    assert s["amp_core"] < 1e-6 and s["amp_nucleus"] < s["amp_core"] * 1e-9
