"""Make ``tf_reference.csv``: chi(x), chi'(x) of the Thomas-Fermi equation on [0, 100].

Independent of renp_scan's solver: mpmath's arbitrary-precision Taylor ODE solver
(``mpmath.odefun``) at 40 significant digits, shooting outward from x = 0 with the
literature slope

    chi'(0) = -1.588071022611375312718684508
    (Kobayashi 1955; Amore, Boyd & Fernandez, arXiv:1205.1704),

in the variable t = sqrt(x), where eq. 28 of arXiv:1310.6472 reads
dy/dt = 2 t u, du/dt = 2 y^{3/2} (y = chi, u = d chi/dx) and is regular at t = 0.

Outward shooting is unstable (perturbations grow like x^4.77 relative to chi), so the
table stops at x = 100 and the script measures its own error budget: it reruns with the
slope moved by +-5e-28 (half a unit in the last quoted digit) and at 30 digits, and
writes the largest relative change of chi and chi' into the CSV header.

Run from the repository root:  python tests/reference/make_tf_reference.py  (~6 s).
"""

from __future__ import annotations

from pathlib import Path

import mpmath as mp
import numpy as np

SLOPE_LITERATURE = "-1.588071022611375312718684508"
OUT = Path(__file__).with_name("tf_reference.csv")


def grid() -> np.ndarray:
    """Reference abscissae: 0, a log-spaced run from 1e-8 and a linear run to 100."""
    log_part = np.geomspace(1e-8, 100.0, 161)
    lin_part = np.linspace(0.25, 100.0, 400)
    return np.unique(np.concatenate([[0.0], log_part, lin_part]))


def solve(x_values, slope: str, dps: int):
    """chi and chi' at x_values from the outward mpmath Taylor solution."""
    with mp.workdps(dps):
        slope_mp = mp.mpf(slope)
        three_halves = mp.mpf(3) / 2
        f = mp.odefun(
            lambda t, z: [2 * t * z[1], 2 * z[0] ** three_halves], 0, [mp.mpf(1), slope_mp]
        )
        chi, dchi = [], []
        for x in x_values:
            y, u = f(mp.sqrt(mp.mpf(float(x))))
            chi.append(+y)
            dchi.append(+u)
    return chi, dchi


def max_rel_change(a, b) -> float:
    return float(max(abs((p - q) / q) for p, q in zip(a, b, strict=True) if q != 0))


def main() -> None:
    x = grid()
    chi, dchi = solve(x, SLOPE_LITERATURE, 40)
    budget = 0.0
    for slope, dps in ((SLOPE_LITERATURE, 30),):
        c, d = solve(x, slope, dps)
        budget = max(budget, max_rel_change(c, chi), max_rel_change(d, dchi))
    for shift in ("5e-28", "-5e-28"):
        with mp.workdps(40):
            slope = mp.nstr(mp.mpf(SLOPE_LITERATURE) + mp.mpf(shift), 35)
        c, d = solve(x, slope, 40)
        budget = max(budget, max_rel_change(c, chi), max_rel_change(d, dchi))
    with OUT.open("w") as fh:
        fh.write("# Thomas-Fermi chi(x), chi'(x) from mpmath.odefun at 40 digits, outward from\n")
        fh.write(f"# chi'(0) = {SLOPE_LITERATURE} (Kobayashi 1955; arXiv:1205.1704).\n")
        fh.write("# Made by tests/reference/make_tf_reference.py.\n")
        fh.write(f"# max relative error estimate (slope +-5e-28, 30 vs 40 digits): {budget:.3e}\n")
        fh.write("x,chi,dchi\n")
        for xi, ci, di in zip(x, chi, dchi, strict=True):
            fh.write(f"{float(xi)!r},{mp.nstr(ci, 25)},{mp.nstr(di, 25)}\n")
    print(f"wrote {OUT} ({len(x)} points), error estimate {budget:.3e}")


if __name__ == "__main__":
    main()
