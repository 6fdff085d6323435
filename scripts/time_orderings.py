"""What the time orderings of the paper's RENP amplitude sum to (arXiv:1310.6472).

    python scripts/time_orderings.py            # symbolic proof, Cs/Xe tables, suppression estimate

Old-fashioned (time-ordered) perturbation theory for |e> -> |g> + gamma(omega) + nu nu with
three vertices: the Coulomb vertex V (e -> u, the paper's <u|Z alpha/r|e> = J_N), the E1
vertex D (u -> g, photon omega) and the pair vertex W. For a static point nucleus and
neutrino wavelengths much longer than the atom, W = Q_w nu^dagger (1 - gamma_5) nu at the
nucleus does not act on the electrons: on atomic states it is Q_w times the identity (core
channel: b_ij sum_c <c|c> = b_ij times the electron number, also a c-number). Inserting
it before, between and after the atomic vertices gives the three orderings

    W V D : 1 / [(-E) (eps_e - eps_u - E)]
    V W D : 1 / [(eps_e - eps_u) (eps_e - eps_u - E)]
    V D W : 1 / [(eps_e - eps_u) (eps_e - eps_g - omega)]

(denominators E_initial - E_intermediate), with E = E_2nu the pair energy. Energy
conservation, E = eps_e - eps_g - omega, makes them sum to exactly zero: the partial-
fraction identity of eq. 7 and eq. 17, which holds for any chain of atomic vertices
(:func:`insertion_terms`; proof in ``docs/physics.md``). This script shows it
symbolically (sympy) and numerically (float64 and 50-digit mpmath) for Cs and Xe, checks
that the same enumeration reproduces the paper's printed eq. 17 term by term, and
estimates the suppression of the first order that does not vanish.

Energies in eV; amplitudes ("terms") are products of inverse energy denominators [eV^-2].
"""

from __future__ import annotations

import argparse
import math
import sys

import mpmath

#: Cs 7s 2S1/2 above 6s [eV] (NIST ASD: 18535.5286 cm^-1), the n's of the paper's eq. 17.
CS_7S_EV = 18535.5286 * 1.239841984e-4
#: Electron mass / atomic mass unit (CODATA 2018: 5.48579909065e-4).
ME_OVER_U = 5.48579909065e-4
#: Bohr radius in eV^-1: a_B = 1 / (alpha m_e c^2) = 1 / 3728.9402 eV (CODATA 2018).
BOHR_PER_EV = 1.0 / 3728.9402


def insertion_terms(chain_denominators, pair_energy):
    """Amplitudes of a pair vertex that is the identity on the atom, at every position.

    Parameters
    ----------
    chain_denominators : sequence
        d_1 .. d_{n-1}: E_initial - E_intermediate [eV] of the atomic chain's n - 1
        intermediate states (atom + photon, no pair). Floats, mpmath or sympy numbers.
    pair_energy : number
        E = E_2nu [eV]; energy conservation makes the chain's final "denominator"
        d_n equal to E.

    Returns
    -------
    list
        n + 1 terms; term k has the pair vertex after the first k atomic vertices:
        prod_{j <= k} 1/d_j * prod_{j >= k} 1/(d_j - E) (d_0 = 0, j < n).
    """
    d = [0, *chain_denominators, pair_energy]
    n = len(d) - 1  # atomic vertices
    terms = []
    for k in range(n + 1):
        term = 1
        for j in range(1, k + 1):
            term = term / d[j]
        for j in range(k, n):
            term = term / (d[j] - pair_energy)
        terms.append(term)
    return terms


def surviving_path(eps_g, eps_e, eps_u, omega):
    """The three orderings of the path F(omega) describes (Coulomb e -> u, then E1 u -> g).

    Returns
    -------
    list of (str, tuple, number)
        (ordering, its two energy denominators [eV], amplitude [eV^-2]).
    """
    pair = eps_e - eps_g - omega  # E_2nu by energy conservation
    a = eps_e - eps_u
    terms = insertion_terms([a], pair)
    dens = [(-pair, a - pair), (a, a - pair), (a, eps_e - eps_g - omega)]
    return list(zip(("pair, Coulomb, E1", "Coulomb, pair, E1", "Coulomb, E1, pair"), dens, terms,
                    strict=True))


def eq17_path(eps_ns, eps_np, eps_n1s, omega):
    """The orderings of the path of the paper's eq. 17 (E1 np -> n's, then Coulomb n's -> ns)."""
    pair = eps_np - eps_ns - omega
    terms = insertion_terms([eps_np - eps_n1s - omega], pair)
    return list(zip(("pair, E1, Coulomb", "E1, pair, Coulomb", "E1, Coulomb, pair"), terms,
                    strict=True))


def eq17_printed(eps_ns, eps_np, eps_n1s, omega):
    """The three terms of eq. 17 exactly as printed (the paper's own cancelling sum)."""
    return [
        -1 / ((eps_n1s - eps_np + omega) * (eps_np - eps_ns - omega)),
        1 / ((eps_n1s - eps_ns) * (eps_np - eps_ns - omega)),
        1 / ((eps_n1s - eps_ns) * (eps_n1s - eps_np + omega)),
    ]


def paper_bracket(eps_g, eps_e, eps_u, omega):
    """F(omega)'s energy factor R / [(eps_u - eps_e + omega)(eps_e - eps_g - omega)] (eq. 19)."""
    ratio = (eps_u - eps_g) / (eps_u - eps_e)
    return ratio / ((eps_u - eps_e + omega) * (eps_e - eps_g - omega))


def symbolic_checks() -> list[str]:
    """Sympy: the ordering sums vanish identically; the paper's bracket does not."""
    import sympy as sp

    lines = []
    g, e, u, w, x = sp.symbols("eps_g eps_e eps_u omega eps_x", real=True)
    path = surviving_path(g, e, u, w)
    total = sp.simplify(sum(t for _, _, t in path))
    lines.append(f"surviving path (Coulomb e->u, E1 u->g), sum of 3 orderings = {total}")
    ours = [sp.simplify(t) for _, t in eq17_path(g, e, x, w)]
    printed = eq17_printed(g, e, x, w)
    match = sorted(map(sp.srepr, ours)) == sorted(map(sp.srepr, (sp.simplify(t) for t in printed)))
    lines.append(f"eq. 17 path (E1 np->n's, Coulomb n's->ns): enumerated terms equal the printed "
                 f"ones term by term: {match}; printed sum = {sp.simplify(sum(printed))}")
    for n in range(1, 6):
        ds = sp.symbols(f"d1:{n}", real=True)
        big_e = sp.Symbol("E", positive=True)
        s = sp.simplify(sp.together(sum(insertion_terms(list(ds), big_e))))
        lines.append(f"any chain of {n} atomic vertices, {n + 1} insertions of an "
                     f"identity-on-atom vertex: sum = {s}")
    bracket = sp.factor(paper_bracket(g, e, u, w))
    split = sp.simplify(bracket - (1 / (u - e)) * (1 / (u - e + w) + 1 / (e - g - w)))
    lines.append(f"paper's F bracket = {bracket} = (1/(eps_u-eps_e)) [1/(eps_u-eps_e+omega) + "
                 f"1/E_2nu] (difference {split}): not a sum of the orderings above, and not zero")
    return lines


#: The paper's levels [eV] (Sec. III): (g, e, u).
ATOMS = {"Cs": (0.0, 1.3859, 2.6986), "Xe": (0.0, 8.437, 10.593)}


def numeric_rows(atom: str, fractions=(0.05, 0.25, 0.5, 0.75, 0.95, 0.999)):
    """Per omega = fraction * eps_eg / 2: terms, float64 sum, mpmath sum, paper bracket.

    Returns
    -------
    list of dict
        omega_eV, terms (3 floats) [eV^-2], sum_float, sum_mp (50 digits), rel (|sum| /
        max |term|, float64), bracket (the paper's R / denominators, eq. 19) [eV^-3 ... eV^-2].
    """
    g, e, u = ATOMS[atom]
    rows = []
    for f in fractions:
        omega = f * 0.5 * (e - g)
        terms = [t for _, _, t in surviving_path(g, e, u, omega)]
        with mpmath.workdps(50):
            mg, me_, mu = (mpmath.mpf(str(v)) for v in (g, e, u))
            mw = mpmath.mpf(f) * (me_ - mg) / 2
            sum_mp = mpmath.fsum(t for _, _, t in surviving_path(mg, me_, mu, mw))
            biggest = max(abs(t) for _, _, t in surviving_path(mg, me_, mu, mw))
            rel_mp = float(abs(sum_mp) / biggest)
        total = math.fsum(terms)
        rows.append({
            "omega_eV": omega, "terms": terms, "sum_float": total,
            "rel": abs(total) / max(abs(t) for t in terms), "rel_mp": rel_mp,
            "bracket": paper_bracket(g, e, u, omega),
        })
    return rows


def radial_moments(atom: str) -> dict:
    """<e|r|e>, <u|r|u> [bohr] and |<u|r^2|e>| [bohr^2] of the valence orbitals e, u.

    The orbitals are those of the TF-screened potential.

    Uses :func:`renp_scan.model.valence.valence_state` (docs/valence_coulomb.md); only
    for the order-of-magnitude estimate below.
    """
    import numpy as np

    from renp_scan.model import constants as C
    from renp_scan.model.targets import get_target
    from renp_scan.model.valence import valence_quantum_numbers, valence_state

    t = get_target(atom)
    states = {k: valence_state(t.Z, *valence_quantum_numbers(lab))
              for k, lab in (("e", t.e_label), ("u", t.u_label))}
    r = states["e"].r_cm / C.BOHR_RADIUS_CM

    def mel(a, b, k):
        pa, pb = states[a].P_per_sqrt_cm, states[b].P_per_sqrt_cm
        return float(np.trapezoid(pa * pb * r**k, states[a].r_cm))

    return {"r_e": mel("e", "e", 1), "r_u": mel("u", "u", 1), "r2_ue": abs(mel("u", "e", 2))}


def suppression(atom: str) -> dict:
    """Order of magnitude of the first non-vanishing amplitude relative to the paper's.

    With the pair momentum q = |p1 + p2| = omega (eq. 38's momentum conservation; without
    it q <= E_2nu), the pair vertex on the atom is sum_i exp(-i q.r_i) (core) or
    exp(+i (m_e/M) q.sum_i r_i) (nucleus, recoil of a finite-mass nucleus). The constant
    term cancels (above); the linear term q.r is odd under parity and cannot join an E1
    photon to e -> g, which also changes parity (Cs 6p -> 6s, Xe 5p5 6s -> 5p6). The first
    allowed term is the scalar part of (q.r)^2 / 2, i.e. q^2 r^2 / 6, which connects e and
    u like the paper's Coulomb vertex but replaces J / Delta by q^2 <u|r^2|e> / 6. Ratio of
    amplitudes: s q^2 <u|r^2|e> Delta / (6 J) with s = 1 (core, J = J_C) or (m_e/M)^2
    (nucleus, J = Q_w-stripped J_N), Delta = eps_eg / 2 (the typical denominator near the
    end point omega ~ eps_eg / 2).
    """
    import renp_scan
    from renp_scan.model.targets import get_target

    t = get_target(atom)
    eps = t.eps_eg_eV
    q_eV = 0.5 * eps
    qa = q_eV * BOHR_PER_EV  # q in units of 1/a_B
    mom = radial_moments(atom)
    mass_u = float(t.info.get("mass_u", t.Z + t.N))
    recoil = ME_OVER_U / mass_u
    ci = renp_scan.coulomb_integrals()
    j_n, j_c = ci.J_N_eV(t.Z), ci.J_C_eV(t.Z)
    second = qa**2 * mom["r2_ue"] / 6.0
    amp_core = second * (0.5 * eps) / j_c
    amp_nucleus = recoil**2 * second * (0.5 * eps) / j_n
    return {
        "atom": atom, "q_eV": q_eV, "q_aB": qa, "qr_e": qa * mom["r_e"], "qr_u": qa * mom["r_u"],
        "recoil": recoil, "r2_ue_bohr2": mom["r2_ue"], "J_N_eV": j_n, "J_C_eV": j_c,
        "second_order": second, "amp_core": amp_core, "amp_nucleus": amp_nucleus,
        "rate_core": amp_core**2, "rate_nucleus": amp_nucleus**2,
        "linear_core": qa * mom["r_e"], "linear_nucleus": recoil * qa * mom["r_e"],
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--no-estimate", action="store_true",
                    help="skip the suppression estimate (which solves valence orbitals)")
    args = ap.parse_args(argv)
    print("## Symbolic (sympy)")
    for line in symbolic_checks():
        print("-", line)
    for atom in ATOMS:
        g, e, u = ATOMS[atom]
        print(f"\n## {atom}: g, e, u = {g}, {e}, {u} eV (paper Sec. III); terms in eV^-2")
        print("| omega [eV] | pair,C,E1 | C,pair,E1 | C,E1,pair | sum (float64) | "
              "|sum|/max|term| float64 | same, 50 digits | paper's F bracket (eq. 19) |")
        print("|---|---|---|---|---|---|---|---|")
        for r in numeric_rows(atom):
            t = r["terms"]
            print(f"| {r['omega_eV']:.5g} | {t[0]:+.6e} | {t[1]:+.6e} | {t[2]:+.6e} | "
                  f"{r['sum_float']:+.1e} | {r['rel']:.1e} | {r['rel_mp']:.1e} | "
                  f"{r['bracket']:.6e} |")
    g, e, x = 0.0, 1.3859, CS_7S_EV
    print(f"\n## Cs, eq. 17 path (n's = 7s at {x:.5f} eV): enumerated vs printed terms")
    for omega in (0.2, 0.6):
        ours = [t for _, t in eq17_path(g, e, x, omega)]
        printed = eq17_printed(g, e, x, omega)
        print(f"- omega = {omega}: ours {[f'{v:+.6e}' for v in ours]}, printed "
              f"{[f'{v:+.6e}' for v in printed]}, sums {math.fsum(ours):+.1e}, "
              f"{math.fsum(printed):+.1e}")
    if not args.no_estimate:
        print("\n## First non-vanishing order (order of magnitude)")
        print("| atom | q = eps_eg/2 [eV] | q a_B | q<r>_e | m_e/M | <u|r^2|e> [a_B^2] | "
              "q^2<u|r^2|e>/6 | J_C, J_N [eV] | amplitude ratio core, nucleus | "
              "rate ratio core, nucleus |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        for atom in ATOMS:
            s = suppression(atom)
            print(f"| {atom} | {s['q_eV']:.4g} | {s['q_aB']:.3e} | {s['qr_e']:.2e} | "
                  f"{s['recoil']:.3e} | {s['r2_ue_bohr2']:.3g} | {s['second_order']:.2e} | "
                  f"{s['J_C_eV']:.4g}, {s['J_N_eV']:.4g} | {s['amp_core']:.1e}, "
                  f"{s['amp_nucleus']:.1e} | {s['rate_core']:.0e}, {s['rate_nucleus']:.0e} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
