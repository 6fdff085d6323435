"""Figures of sensitivity results (matplotlib object API, Agg canvas, PNG).

Needs matplotlib (the ``[plot]`` extra), imported only when a figure is drawn.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import InputError

_DAY_S = 86400.0
_YEAR_S = 3.15576e7
_STYLES = {("NH", "majorana"): ("tab:blue", "-"), ("NH", "dirac"): ("tab:blue", "--"),
           ("IH", "majorana"): ("m", "-"), ("IH", "dirac"): ("m", "--")}


def _figure(n_panels: int):
    try:  # matplotlib is optional (the [plot] extra): imported when a figure is drawn
        from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: PLC0415
        from matplotlib.figure import Figure  # noqa: PLC0415
    except ImportError:
        raise InputError("plot", "needs matplotlib (pip install matplotlib)") from None
    fig = Figure(figsize=(6.0 * n_panels, 4.2), layout="constrained")
    FigureCanvasAgg(fig)
    return fig, [fig.add_subplot(1, n_panels, i + 1) for i in range(n_panels)]


def _time_guides(ax):
    for seconds, label in ((3600.0, "1 h"), (_DAY_S, "1 day"), (_YEAR_S, "1 yr")):
        lo, hi = ax.get_ylim()
        if lo < seconds < hi:
            ax.axhline(seconds, color="0.7", lw=0.8, zorder=0)
            ax.text(ax.get_xlim()[0], seconds, f" {label}", va="bottom", fontsize=8, color="0.4")


def plot_exposure(ds, path, title=None, label=None):
    """Plot the exposure needed vs true m0 for each test in a sensitivity dataset.

    Parameters
    ----------
    ds : xarray.Dataset
        Output of :func:`~renp_scan.analysis.sensitivity.sensitivity_scan` (or its file).
    path : str or Path
        PNG to write.
    title : str, optional
        Figure title (default: target, channel and target Delta chi^2).
    label : str, optional
        Extra legend text (e.g. the plan name).

    Returns
    -------
    Path
    """
    tests = [t for t in ("hierarchy", "nature") if f"exposure_{t}" in ds]
    if not tests:
        raise InputError("plot", "the result holds no exposure variable")
    fig, axes = _figure(len(tests))
    m0 = np.asarray(ds["m0_true"].values, dtype=float)
    for ax, test in zip(axes, tests, strict=True):
        for h in ds["truth_hierarchy"].values:
            for n in ds["truth_nature"].values:
                y = ds[f"exposure_{test}"].sel(truth_hierarchy=h, truth_nature=n).values
                color, style = _STYLES.get((str(h), str(n)), (None, "-"))
                ax.plot(m0, y, color=color, ls=style, label=f"true {h}, {n}")
        ax.set_yscale("log")
        if m0.min() > 0:
            ax.set_xscale("log")
        ax.set_xlabel("true smallest neutrino mass $m_0$ [eV]")
        ax.set_ylabel(f"time for $\\Delta\\chi^2 = {float(ds.attrs.get('dchi2_target', 9)):g}$ [s]")
        ax.set_title("NH vs IH" if test == "hierarchy" else "Majorana vs Dirac")
        ax.grid(True, which="both", alpha=0.25)
        _time_guides(ax)
        ax.legend(fontsize=8, title=label, title_fontsize=8)
    fig.suptitle(title or f"{ds.attrs.get('target', '')} {ds.attrs.get('channel', '')}: "
                 "Asimov exposure needed")
    path = Path(path)
    fig.savefig(path, dpi=120)
    return path
