"""Regenerate the figures and numbers of docs/sensitivity.md.

    python docs/figures/make_sensitivity_figures.py [--workdir DIR] [--quick]

1. Computes the cubes of plans/scans/cs_sensitivity.toml and xe_sensitivity.toml
   with the engine (into DIR, reused if present).
2. Measures the m0-interpolation accuracy of those grids against direct
   renp_scan.spectrum evaluation.
3. For Cs (n = 1e21 cm^-3) and Xe (n = 7e19 cm^-3), V = 100 cm^3, eta = 1e-6 (paper
   sec. III), the Asimov exposure needed for Delta chi^2 = 9 between NH and IH
   (and Majorana vs Dirac) vs the true m0: uniform plans (plans/cs_uniform.toml,
   plans/xe_uniform.toml), with rates from the cube (interpolated) and from the
   model directly; the Cs plan with a realistic detector (plans/cs_background.toml);
   and plans optimised for each true m0 (frequencies from the cube grid).
4. Writes docs/figures/nh_ih_exposure.png, docs/figures/md_exposure.png and
   docs/figures/sensitivity_numbers.md (the tables quoted in docs/sensitivity.md).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

import renp_scan
from renp_scan.analysis import (
    Hypothesis,
    ModelRates,
    RateTable,
    SplineRates,
    alternatives_for,
    dchi2_profiled,
    load_plan,
    optimize_plan,
    sensitivity_scan,
)
from renp_scan.model.neutrinos import pair_thresholds_eV

ROOT = Path(__file__).resolve().parents[2]
FIGURES = ROOT / "docs" / "figures"
YEAR_S = 3.15576e7
CASES = {  # atom: (scan, plan)
    "Cs": ("cs_sensitivity", "cs_uniform"),
    "Xe": ("xe_sensitivity", "xe_uniform"),
}


def build_cube(scan_name: str, workdir: Path) -> Path:
    """Compute a scan of plans/scans/ into ``workdir`` (reused if already there)."""
    from renp_scan.sweep.engine import run_scan
    from renp_scan.sweep.scanfile import load_scan

    out = workdir / f"{scan_name}.h5"
    if not out.exists():
        run_scan(load_scan(ROOT / "plans" / "scans" / f"{scan_name}.toml"), out, progress=False)
    return out


def interpolation_accuracy(atom: str, table: RateTable) -> dict:
    """Max relative error at the m0 mid-points of the cube's m0 grid.

    Smooth region: a table of direct spectra on the cube's m0 grid over omega from
    5 % of eps_eg/2 up to a gap below the lowest threshold the grid reaches (the
    cube itself covers only the window near eps_eg/2). Threshold window: the
    cube's own columns.
    """
    eps = table.eps_eg_eV
    lowest = pair_thresholds_eV(eps, table.m0_eV[-1], ("NH", "IH")).min()
    mid = 0.5 * (table.m0_eV[1:] + table.m0_eV[:-1])
    density = table.attrs["cube_density_cm3"]
    rows = {}
    for gap in (0.03, 0.01, 0.003):
        omega = np.linspace(0.05 * eps / 2, lowest - gap, 25)
        smooth = SplineRates(RateTable.from_model(atom, omega, table.m0_eV, density_cm3=density))
        worst = 0.0
        for h, n in (("NH", "majorana"), ("IH", "dirac")):
            exact = np.array([renp_scan.spectrum(atom, omega, m, h, n, density_cm3=density)
                              for m in mid])
            worst = max(worst, float(np.max(np.abs(smooth.rates_Hz(h, n, mid, omega) / exact - 1))))
        rows[f"smooth, >= {gap * 1e3:g} meV below the lowest threshold"] = worst
    source = SplineRates(table)
    omega = table.omega_eV[table.omega_eV >= lowest - 2e-3]
    omega = omega[:: max(1, omega.size // 150)]
    for h in ("NH", "IH"):
        exact = np.array([renp_scan.spectrum(atom, omega, m, h, density_cm3=density) for m in mid])
        err = np.abs(source.rates_Hz(h, "majorana", mid, omega) - exact) / exact.max()
        rows[f"threshold window, {h}: max error / peak rate"] = float(err.max())
        rows[f"threshold window, {h}: 99th percentile / peak rate"] = float(np.percentile(err, 99))
    return rows


def model_for(table: RateTable, atom: str) -> ModelRates:
    """Direct-model rate source with the cube's settings, checked against the cube."""
    model = ModelRates(atom, (table.m0_eV[0], table.m0_eV[-1]), 2 * table.m0_eV.size - 1,
                       table.hierarchies, table.natures, table.channel,
                       density_cm3=table.attrs["cube_density_cm3"],
                       volume_cm3=table.attrs["cube_volume_cm3"], eta=table.attrs["cube_eta"])
    row = table.m0_eV.size // 2
    direct = model.rates_Hz("NH", "majorana", [table.m0_eV[row]], table.omega_eV)[0]
    np.testing.assert_allclose(direct, table.rate_Hz[0, 0, row], rtol=1e-9)
    return model


def optimised_exposure(source, model, table, plan, m0_values, truth_h, test, dchi2=9.0):
    """Optimise a plan per true m0 (cube rates); time for ``dchi2`` with exact rates."""
    out = []
    for m in m0_values:
        truth = Hypothesis(truth_h, "majorana", float(m))
        alts = alternatives_for(source, truth, test)
        result = optimize_plan(source, truth, alts, plan, candidates_eV=table.omega_eV)
        exact = dchi2_profiled(model, truth, alts, result.plan)[0]
        out.append((float(m), plan.total_time_s * dchi2 / exact, result.gain,
                    result.plan.omega_eV.size))
    return out


def main():
    """Compute everything, draw the figures, write the numbers file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--quick", action="store_true", help="coarser m0 grids (a smoke run)")
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="renp_sens_"))
    workdir.mkdir(parents=True, exist_ok=True)
    step = 0.02 if args.quick else 0.005
    lines = ["<!-- generated by docs/figures/make_sensitivity_figures.py; do not edit -->", ""]
    curves = {}
    t_start = time.time()
    for atom, (scan_name, plan_name) in CASES.items():
        cube = build_cube(scan_name, workdir)
        table = RateTable.from_cube(cube, atom)
        spline = SplineRates(table)
        model = model_for(table, atom)
        plan_file = load_plan(ROOT / "plans" / f"{plan_name}.toml")
        plan = plan_file.resolve(atom, eps_eg_eV=table.eps_eg_eV)
        m0_true = np.round(np.arange(0.0, 0.18 + 1e-9, step), 6)
        acc = interpolation_accuracy(atom, table)
        lines += [f"### {atom}: interpolation accuracy ({table.m0_eV.size} m0 knots, "
                  f"step {1e3 * (table.m0_eV[1] - table.m0_eV[0]):g} meV)", "",
                  "| omega region | max relative error |", "|---|---|"]
        lines += [f"| {k} | {v:.2g} |" for k, v in acc.items()] + [""]
        exact = sensitivity_scan(model, plan, m0_true, m0_map=False)
        approx = sensitivity_scan(spline, plan, m0_true, m0_map=False)
        curves[atom] = {"exact": exact, "cube": approx}
        if atom == "Cs":
            bplan_file = load_plan(ROOT / "plans" / "cs_background.toml")
            bplan = bplan_file.resolve(atom, eps_eg_eV=table.eps_eg_eV)
            curves[atom]["background"] = sensitivity_scan(model, bplan, m0_true, "free",
                                                          m0_map=False)
        m0_opt = np.round(np.arange(0.0, 0.18 + 1e-9, 4 * step), 6)
        curves[atom]["optimised"] = {
            h: optimised_exposure(spline, model, table, plan, m0_opt, h, "hierarchy")
            for h in ("NH", "IH")}
        lines += [f"### {atom}: time [s] for Delta chi^2 = 9, NH vs IH (true nature Majorana)",
                  "", "| m0 [eV] | true NH, uniform | (cube) | true IH, uniform | (cube) | "
                  "true NH, optimised | true IH, optimised |", "|---|---|---|---|---|---|---|"]
        opt = {h: {m: t for m, t, _, _ in curves[atom]["optimised"][h]} for h in ("NH", "IH")}
        for m in m0_true:
            if not np.any(np.isclose(m, m0_opt)):
                continue
            cells = []
            for h in ("NH", "IH"):
                sel = dict(truth_hierarchy=h, truth_nature="majorana", m0_true=m)
                cells += [f"{float(exact['exposure_hierarchy'].sel(**sel)):.3g}",
                          f"{float(approx['exposure_hierarchy'].sel(**sel)):.3g}"]
            key = float(m0_opt[np.argmin(np.abs(m0_opt - m))])
            cells += [f"{opt['NH'][key]:.3g}", f"{opt['IH'][key]:.3g}"]
            lines.append(f"| {m:g} | " + " | ".join(cells) + " |")
        lines += ["", f"### {atom}: time [s] for Delta chi^2 = 9, Majorana vs Dirac (uniform plan)",
                  "", "| m0 [eV] | true NH/majorana | true NH/dirac | true IH/majorana | "
                  "true IH/dirac |", "|---|---|---|---|---|"]
        nature_times = exact["exposure_nature"]
        for m in m0_opt:
            cells = [f"{float(nature_times.sel(truth_hierarchy=h, truth_nature=n, m0_true=m)):.3g}"
                     for h in ("NH", "IH") for n in ("majorana", "dirac")]
            lines.append(f"| {m:g} | " + " | ".join(cells) + " |")
        if atom == "Cs":
            b = curves[atom]["background"]
            lines += ["", "### Cs: realistic detector (plans/cs_background.toml: efficiency 0.5, "
                      "1 Hz background, free signal scale), time [s] for Delta chi^2 = 9", "",
                      "| m0 [eV] | NH vs IH, true NH | NH vs IH, true IH | M vs D, true NH/M |",
                      "|---|---|---|---|"]
            majorana = b.sel(truth_nature="majorana")
            for m in m0_opt:
                times = majorana["exposure_hierarchy"].sel(m0_true=m)
                cells = [f"{float(times.sel(truth_hierarchy=h)):.3g}" for h in ("NH", "IH")]
                md = majorana["exposure_nature"].sel(truth_hierarchy="NH", m0_true=m)
                cells.append(f"{float(md):.3g}")
                lines.append(f"| {m:g} | " + " | ".join(cells) + " |")
        gains = [g for h in ("NH", "IH") for _, _, g, _ in curves[atom]["optimised"][h]]
        points = [k for h in ("NH", "IH") for _, _, _, k in curves[atom]["optimised"][h]]
        lines += ["", f"Optimised plans ({atom}): gain in Delta chi^2 over the uniform plan "
                  f"(cube rates) from {min(gains):.3g} to {max(gains):.3g} (median "
                  f"{np.median(gains):.3g}); {min(points)}-{max(points)} frequencies get time.", ""]
    draw(curves)
    (FIGURES / "sensitivity_numbers.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    print(f"done in {time.time() - t_start:.0f} s; cubes in {workdir}")


def draw(curves):
    """Draw nh_ih_exposure.png and md_exposure.png."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    colors = {"NH": "tab:blue", "IH": "m"}
    for test, fname, title in (("hierarchy", "nh_ih_exposure.png", "NH vs IH"),
                               ("nature", "md_exposure.png", "Majorana vs Dirac")):
        fig = Figure(figsize=(11, 4.3), layout="constrained")
        FigureCanvasAgg(fig)
        for i, (atom, c) in enumerate(curves.items()):
            ax = fig.add_subplot(1, 2, i + 1)
            m0 = c["exact"]["m0_true"].values
            for h in ("NH", "IH"):
                natures = ("majorana",) if test == "hierarchy" else ("majorana", "dirac")
                for n in natures:
                    sel = dict(truth_hierarchy=h, truth_nature=n)
                    ls = "-" if n == "majorana" else "--"
                    ax.plot(m0, c["exact"][f"exposure_{test}"].sel(**sel), color=colors[h], ls=ls,
                            label=f"true {h}/{n}, uniform plan")
                    if test == "hierarchy":
                        ax.plot(m0, c["cube"][f"exposure_{test}"].sel(**sel), color=colors[h],
                                ls=":", lw=1, label=f"true {h}, uniform, cube-interpolated")
                        opt = np.array([(m, t) for m, t, _, _ in c["optimised"][h]])
                        ax.plot(opt[:, 0], opt[:, 1], color=colors[h], ls="none", marker="o",
                                ms=4, label=f"true {h}, plan optimised for each m0")
                    if "background" in c and n == "majorana":
                        ax.plot(m0, c["background"][f"exposure_{test}"].sel(**sel), color=colors[h],
                                ls="-.", lw=1, label=f"true {h}, eff. 0.5, 1 Hz bkg, free scale")
            ax.set_yscale("log")
            ax.set_xlabel("true smallest neutrino mass $m_0$ [eV]")
            ax.set_ylabel(r"time for $\Delta\chi^2 = 9$ [s]")
            n_cm3 = "1e21" if atom == "Cs" else "7e19"
            ax.set_title(f"{atom} ($n$ = {n_cm3} cm$^{{-3}}$, $V$ = 100 cm$^3$, "
                         f"$\\eta$ = 1e-6): {title}", fontsize=10)
            for seconds, label in ((3600.0, "1 h"), (86400.0, "1 day"), (YEAR_S, "1 yr")):
                lo, hi = ax.get_ylim()
                if lo < seconds < hi:
                    ax.axhline(seconds, color="0.75", lw=0.8, zorder=0)
                    ax.text(0.0, seconds, f" {label}", va="bottom", fontsize=8, color="0.4")
            ax.grid(True, which="major", alpha=0.25)
            ax.legend(fontsize=7)
        fig.savefig(FIGURES / fname, dpi=110)


if __name__ == "__main__":
    main()
