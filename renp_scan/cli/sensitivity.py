"""``renp-scan sensitivity`` and ``renp-scan fit``: the analysis layer on the command line.

``renp-scan sensitivity CUBE --plan PLAN -o OUT.h5 [--plot FIG.png]``
    Asimov Delta chi^2 of NH vs IH and Majorana vs Dirac (profiled over the
    alternative's m0), the exposure needed, and the m0 resolution, for every true
    (hierarchy, nature, m0), written as HDF5 (``docs/sensitivity.md``).

``renp-scan fit CUBE --plan PLAN (--counts FILE | --asimov H NATURE M0 [--seed N])``
    Fit m0 and the discrete hypotheses to counts (a CSV/TOML file, Asimov data
    or, with ``--seed``, Poisson pseudo-data) and print the result; ``-o`` writes it.

Rates come from the cube, interpolated in m0 (``--rates cube``, default), or from
direct model evaluation with the cube's physics settings (``--rates model``),
after checking that the model reproduces the cube.
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from .outputs import check_new_output

#: Largest relative difference between cube and model allowed by ``--rates model``.
MODEL_CHECK_RTOL = 1e-9
#: Most true m0 values for which the m0-vs-m0' map is drawn up without --no-map.
MAX_MAP_POINTS = 1000


def _source(args, plan):
    """Resolve the plan for the cube's target; return (rate source, plan, cube table)."""
    from ..analysis.direct import ModelRates
    from ..analysis.interpolate import SplineRates
    from ..analysis.table import RateTable
    from ..cube.reader import check_cube, open_cube

    targets = check_cube(args.cube)
    target = args.target or plan.target
    if target is None:
        if len(targets) != 1:
            raise InputError("target", f"the cube holds {targets}; name one with --target "
                             "or plan.target")
        target = targets[0]
    if target not in targets:
        raise InputError("target", f"{target!r} is not in the cube; it holds {targets}")
    with open_cube(args.cube, target) as ds:
        eps = float(ds.attrs["eps_eg_eV"])
    resolved = plan.resolve(target, eps_eg_eV=eps)
    channel = args.channel or plan.channel
    phase = plan.phase if args.phase is None else args.phase
    table = RateTable.from_cube(args.cube, target, channel, phase, omega_eV=resolved.omega_eV,
                                coulomb_model=args.coulomb_model)
    if not table.target:
        object.__setattr__(table, "target", target)
    if args.rates == "cube":
        source = SplineRates(table)
        n_window = int(np.count_nonzero(resolved.omega_eV >= source.kink_floor_eV))
        if n_window:
            print(f"note: {n_window} of {resolved.omega_eV.size} frequencies lie in the threshold "
                  f"window (omega >= {source.kink_floor_eV:.6g} eV), where interpolating the cube "
                  "in m0 errs by up to a few % of the rate; for nearly degenerate hypotheses "
                  "compare with --rates model")
        return source, resolved, table
    with open_cube(args.cube, target) as ds:
        phases = (float(ds["alpha21_rad"].values[phase]), float(ds["alpha31_rad"].values[phase]))
        level_ratio = ds.attrs.get("level_ratio")  # the form the cube was computed with
    attrs = table.attrs
    model = ModelRates(target, (table.m0_eV[0], table.m0_eV[-1]),
                       max(2 * table.m0_eV.size - 1, 2), table.hierarchies, table.natures,
                       table.channel, phases, attrs["cube_density_cm3"],
                       attrs["cube_volume_cm3"], attrs["cube_eta"],
                       coulomb_model=table.coulomb_model,
                       level_ratio=str(level_ratio) if level_ratio is not None else None)
    # The model must be what the cube was computed with (targets, oscillation data).
    row = table.m0_eV.size // 2
    for ih, h in enumerate(table.hierarchies):
        for inat, n in enumerate(table.natures):
            direct = model.rates_Hz(h, n, [table.m0_eV[row]], table.omega_eV)[0]
            stored = table.rate_Hz[ih, inat, row]
            if not np.allclose(direct, stored, rtol=MODEL_CHECK_RTOL, atol=0.0):
                raise InputError("rates", "--rates model does not reproduce this cube (other "
                                 "target or oscillation data?); use --rates cube")
    return model, resolved, table


def _cmd_sensitivity(args) -> int:
    from ..analysis.plan import load_plan
    from ..analysis.sensitivity import sensitivity_scan
    from ..cube.results import SENSITIVITY_FORMAT, write_result

    inputs = (args.cube, args.plan)
    check_new_output(args.output, inputs=inputs, overwrite=args.overwrite)
    if args.plot:
        check_new_output(args.plot, inputs=inputs, overwrite=args.overwrite, field="plot")
    plan = load_plan(args.plan)
    source, resolved, table = _source(args, plan)
    m0_true = args.m0 if args.m0 else plan.m0_true_eV
    if m0_true is None:
        m0_true = table.m0_eV
    normalization = args.normalization or plan.normalization
    dchi2_target = args.dchi2 if args.dchi2 is not None else plan.dchi2_target
    n_true = len(m0_true)
    if n_true > MAX_MAP_POINTS and not args.no_map:
        raise InputError("no-map", f"{n_true} true m0 values make a {n_true}^2 m0 map per "
                         f"hypothesis; pass --no-map or choose at most {MAX_MAP_POINTS} with --m0")
    ds = sensitivity_scan(source, resolved, m0_true, normalization, dchi2_target,
                          m0_map=not args.no_map, attrs={"cube_path": str(args.cube)})
    path = write_result(args.output, ds, SENSITIVITY_FORMAT, plan=plan)
    print(f"wrote {path}: {ds.sizes['m0_true']} true m0 values, "
          f"{resolved.omega_eV.size} frequencies, {resolved.total_time_s:.6g} s in total")
    for test in ("hierarchy", "nature"):
        if f"exposure_{test}" not in ds:
            continue
        what = "NH vs IH" if test == "hierarchy" else "Majorana vs Dirac"
        print(f"{what}: time for Delta chi^2 = {dchi2_target:g} [s]")
        for h in ds["truth_hierarchy"].values:
            for n in ds["truth_nature"].values:
                times = ds[f"exposure_{test}"].sel(truth_hierarchy=h, truth_nature=n).values
                m0 = ds["m0_true"].values
                picks = np.unique(np.linspace(0, m0.size - 1, min(m0.size, 5)).astype(int))
                cells = ", ".join(
                    f"m0={m0[i]:.4g}: {times[i]:.3g}" if np.isfinite(times[i]) else
                    f"m0={m0[i]:.4g}: inf, "
                    f"{unreachable_reason(source, resolved, str(h), str(n), float(m0[i]))}"
                    for i in picks)
                print(f"  true {h}/{n}: {cells}")
    if args.plot:
        from ..analysis.plots import plot_exposure

        print(f"wrote {plot_exposure(ds, args.plot, label=plan.name)}")
    return 0


def unreachable_reason(source, plan, hierarchy: str, nature: str, m0_eV: float) -> str:
    """Say why no exposure reaches the target Delta chi^2 for this truth (Delta chi^2 = 0).

    Either the true spectrum is zero at every plan frequency (each lies above every
    pair threshold omega_ij of eq. 20 at this m0), or an alternative hypothesis
    predicts the same counts everywhere.
    """
    rates = source.rates_Hz(hierarchy, nature, [m0_eV], plan.omega_eV)[0]
    if not np.any(rates > 0):
        return (f"unreachable: all {plan.omega_eV.size} plan frequencies closed at "
                f"m0={m0_eV:.4g} eV (above every threshold)")
    return "unreachable: an alternative predicts the same counts everywhere (Delta chi^2 = 0)"


def _cmd_fit(args) -> int:
    from ..analysis.counts import load_counts, match_counts
    from ..analysis.fit import fit_counts, fit_dataset, pseudo_counts
    from ..analysis.plan import load_plan
    from ..cube.results import FIT_FORMAT, write_result

    if args.output:
        check_new_output(args.output, inputs=(args.cube, args.plan, args.counts),
                         overwrite=args.overwrite)
    plan = load_plan(args.plan)
    source, resolved, _ = _source(args, plan)
    if args.counts is not None:
        if args.seed is not None:
            raise InputError("seed", "--seed draws pseudo-data and needs --asimov, not --counts")
        resolved, counts = match_counts(resolved, load_counts(args.counts))
        origin = f"counts file {args.counts}"
    else:
        h, nature, m0_text = args.asimov
        if h not in source.hierarchies or nature not in source.natures:
            raise InputError("asimov", f"({h}, {nature}) is not in the cube; it has "
                             f"{source.hierarchies} x {source.natures}")
        try:
            m0 = float(m0_text)
        except ValueError:
            raise InputError("asimov", f"m0 must be a number in eV, got {m0_text!r}") from None
        counts = pseudo_counts(source, resolved, h, nature, m0, rng=args.seed,
                               asimov=args.seed is None)
        kind = "Asimov data" if args.seed is None else f"pseudo-data (seed {args.seed})"
        origin = f"{kind} of {h}/{nature}, m0 = {m0:g} eV"
    normalization = args.normalization or plan.normalization
    result = fit_counts(source, resolved, counts, normalization=normalization, level=args.level)
    print(f"fit of {origin}: {resolved.omega_eV.size} frequencies, "
          f"{int(round(float(np.sum(counts)))):,} counts")
    print(result.summary())
    if args.output:
        ds = fit_dataset(result, resolved, counts, attrs={"cube_path": str(args.cube),
                                                          "data": origin, **source.describe()})
        print(f"wrote {write_result(args.output, ds, FIT_FORMAT, plan=plan)}")
    return 0


def _common(p) -> None:
    p.add_argument("cube", metavar="CUBE", help="cube file (.h5) written by renp-scan run")
    p.add_argument("--plan", required=True, metavar="PLAN", help="measurement plan (TOML)")
    p.add_argument("--target", help="target group of the cube (default: plan.target or the "
                   "cube's only target)")
    p.add_argument("--channel", choices=("nucleus", "core"),
                   help="channel (default: plan.channel, else the cube's only one or nucleus)")
    p.add_argument("--coulomb-model", metavar="MODEL",
                   help="Coulomb model of the cube's rates, thomas-fermi or valence (default: "
                   "the cube's first)")
    p.add_argument("--phase", type=int, help="Majorana phase row index (default: plan.phase)")
    p.add_argument("--rates", choices=("cube", "model"), default="cube",
                   help="interpolate the cube in m0 (default) or evaluate the model directly "
                   "with the cube's settings")
    p.add_argument("--normalization", choices=("fixed", "free"),
                   help="signal scale known or profiled (default: analysis.normalization)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace existing output files (never the command's own inputs)")


def add_subcommands(sub) -> None:
    """Register ``sensitivity`` and ``fit`` on the ``renp-scan`` subparsers ``sub``."""
    p = sub.add_parser("sensitivity", help="Asimov sensitivity of a measurement plan on a cube")
    _common(p)
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="result file (.h5)")
    p.add_argument("--m0", nargs="+", type=float, metavar="EV",
                   help="true m0 values [eV] (default: analysis.m0_true_eV, else the cube grid)")
    p.add_argument("--dchi2", type=float, metavar="X",
                   help="Delta chi^2 the exposure is computed for (default: analysis.dchi2_target)")
    p.add_argument("--plot", metavar="FILE", help="also draw the exposure needed (.png)")
    p.add_argument("--no-map", action="store_true",
                   help="skip the m0 vs m0' Delta chi^2 map (large for long m0 grids)")
    p.set_defaults(func=_cmd_sensitivity)

    p = sub.add_parser("fit", help="fit m0 and hierarchy/nature to counts on a cube")
    _common(p)
    data = p.add_mutually_exclusive_group(required=True)
    data.add_argument("--counts", metavar="FILE", help="measured counts (.csv or .toml)")
    data.add_argument("--asimov", nargs=3, metavar=("H", "NATURE", "M0"),
                      help="fit the expected counts of this truth, e.g. NH majorana 0.05")
    p.add_argument("--seed", type=int, help="with --asimov: draw Poisson pseudo-data instead")
    p.add_argument("--level", type=float, default=1.0,
                   help="Delta chi^2 of the interval (default 1: 68.27%%)")
    p.add_argument("-o", "--output", metavar="OUT", help="also write the fit (.h5)")
    p.set_defaults(func=_cmd_fit)


__all__ = ["add_subcommands"]
