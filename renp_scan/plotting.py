"""Spectrum plots from a cube (``renp-scan plot``), e.g. the paper's Figs. 4-6.

Needs matplotlib (the ``[plot]`` extra), imported only when a plot is drawn. The
figure is drawn with matplotlib's object API and the Agg canvas, so no pyplot
state or GUI backend is involved.

Examples (paper figures, from cubes of ``scans/cs_fig4.toml`` etc.)::

    renp-scan plot cs_fig4.h5 -o fig4.png --hierarchy NH --m0 0.1      # Fig. 4: M vs D
    renp-scan plot cs_fig5.h5 -o fig5.png --omega-min 0.672 --omega-max 0.681   # Fig. 5
    renp-scan plot xe_fig6.h5 -o fig6.png --nature majorana            # Fig. 6
    renp-scan plot cs_coulomb_models.h5 -o cs_valence.png --coulomb-model valence
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .cube.reader import check_cube, open_cube
from .errors import InputError
from .model.neutrinos import pair_thresholds_eV

#: Colours of the paper's figures first (Fig. 4: blue, magenta; Fig. 6: blue,
#: magenta, brown, green), then matplotlib's default cycle.
PALETTE = ("tab:blue", "m", "tab:brown", "tab:green", "tab:orange", "tab:red", "tab:purple",
           "tab:gray", "tab:olive", "tab:cyan", "k", "tab:pink")
#: Threshold lines are drawn when at most this many spectra are on the axes.
MAX_LINES_WITH_THRESHOLDS = 4


def _pick_labels(field: str, wanted, available) -> list[str]:
    available = [str(a) for a in available]
    if not wanted:
        return available
    lookup = {a.lower(): a for a in available}
    chosen = []
    for item in wanted:
        key = str(item).strip().lower()
        if key not in lookup:
            raise InputError(field, f"{item!r} is not in the cube; it has {', '.join(available)}")
        chosen.append(lookup[key])
    return chosen


def _pick_m0(wanted, grid_eV: np.ndarray) -> list[int]:
    if not wanted:
        return list(range(len(grid_eV)))
    indices = []
    for value in wanted:
        try:
            m0 = float(value)
        except (TypeError, ValueError):
            raise InputError("m0", f"must be a number in eV, got {value!r}") from None
        # The nearest grid value is used; the legend shows the exact value drawn.
        i = int(np.argmin(np.abs(grid_eV - m0)))
        if i not in indices:
            indices.append(i)
    return indices


def _threshold_values(eps_eg_eV: float, m0_eV: float, hierarchy: str):
    """Return the six thresholds omega_ij (i <= j) [eV] of eq. 20 with their labels."""
    table = pair_thresholds_eV(eps_eg_eV, m0_eV, (hierarchy,))[0, 0]
    return [(f"{i + 1}{j + 1}", float(table[i, j])) for i in range(3) for j in range(i, 3)]


def plot_cube(cube_path, output_path, *, target=None, hierarchies=None, natures=None,
              channel=None, coulomb_model=None, phase: int = 0, m0_eV=None,
              omega_min_eV=None, omega_max_eV=None, logy: bool = False,
              thresholds: bool | None = None, title: str | None = None,
              dpi: int = 150) -> list[str]:
    """Draw Gamma(omega) lines of one cube target into a PNG (or any matplotlib format).

    By default every (hierarchy, nature, m0) line of the first channel, Coulomb model
    and phase row is overlaid with a legend; with at most
    :data:`MAX_LINES_WITH_THRESHOLDS` lines the six thresholds omega_ij (eq. 20) of each
    drawn (hierarchy, m0) are marked with thin vertical lines.

    Parameters
    ----------
    cube_path : str or Path
        Finished cube.
    output_path : str or Path
        Image file to write (format from the suffix, e.g. ``.png``).
    target : str, optional
        Target group; default the cube's first.
    hierarchies, natures : sequence of str, optional
        Subsets to draw (default all in the cube).
    channel : str, optional
        Channel to draw (default the cube's first).
    coulomb_model : str, optional
        Model of the Coulomb integrals to draw, ``"thomas-fermi"`` or ``"valence"``
        (default the cube's first).
    phase : int
        Majorana phase row index.
    m0_eV : sequence of float, optional
        Smallest neutrino masses [eV]; the nearest grid values are drawn.
    omega_min_eV, omega_max_eV : float, optional
        Photon energy window [eV].
    logy : bool
        Logarithmic rate axis (zero rates beyond the thresholds are left out).
    thresholds : bool, optional
        Force threshold lines on or off (default: on when few lines are drawn).
    title : str, optional
        Axes title (default: target, channel, phase and, unless it is the paper's
        Thomas-Fermi, the Coulomb model).
    dpi : int
        Resolution of raster output.

    Returns
    -------
    list of str
        Legend labels of the lines drawn.
    """
    targets = check_cube(cube_path)
    target = _pick_labels("target", [target] if target else [targets[0]], targets)[0]
    out = Path(output_path)
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        raise InputError("output", f"directory {parent} does not exist")
    with open_cube(cube_path, target) as ds:
        hs = _pick_labels("hierarchy", hierarchies, ds["hierarchy"].values)
        ns = _pick_labels("nature", natures, ds["nature"].values)
        ch = _pick_labels("channel", [channel] if channel else None, ds["channel"].values)[0]
        model = _pick_labels("coulomb_model", [coulomb_model] if coulomb_model else None,
                             ds["coulomb_model"].values)[0]
        if not 0 <= int(phase) < ds.sizes["phase"]:
            raise InputError("phase", f"must be in [0, {ds.sizes['phase'] - 1}], got {phase}")
        phase = int(phase)
        m0_grid = ds["m0"].values
        m0_idx = _pick_m0(m0_eV, m0_grid)
        omega = ds["omega"].values
        lo = omega[0] if omega_min_eV is None else float(omega_min_eV)
        hi = omega[-1] if omega_max_eV is None else float(omega_max_eV)
        window = (omega >= lo) & (omega <= hi)
        if not window.any():
            raise InputError("omega", f"no grid point in [{lo:g}, {hi:g}] eV; the cube covers "
                             f"[{omega[0]:g}, {omega[-1]:g}] eV")
        eps_eg = float(ds.attrs["eps_eg_eV"])
        alphas = (float(ds["alpha21_rad"][phase]), float(ds["alpha31_rad"][phase]))
        rate = ds["rate"].sel(channel=ch, coulomb_model=model).isel(
            phase=phase, omega=np.flatnonzero(window))
        lines = []
        for h in hs:
            for n in ns:
                for i in m0_idx:
                    values = rate.sel(hierarchy=h, nature=n).isel(m0=i).values
                    lines.append((h, n, float(m0_grid[i]), values))
    omega = omega[window]

    # matplotlib is optional (the [plot] extra): imported only when a figure is drawn.
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: PLC0415
    from matplotlib.figure import Figure  # noqa: PLC0415

    fig = Figure(figsize=(7.0, 4.5))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    colors = PALETTE if len(lines) <= len(PALETTE) else None
    labels = []
    first_color = {}
    for k, (h, n, m0, values) in enumerate(lines):
        y = np.where(values > 0, values, np.nan) if logy else values
        label = f"{h} {n.capitalize()} m0={m0:g} eV"
        color = colors[k] if colors else None
        (line,) = ax.plot(omega, y, lw=1.2, color=color, label=label)
        first_color.setdefault((h, m0), line.get_color())
        labels.append(label)
    draw_thresholds = len(lines) <= MAX_LINES_WITH_THRESHOLDS if thresholds is None else thresholds
    if draw_thresholds:
        annotate = len(first_color) == 1
        span = omega[-1] - omega[0] if omega[-1] > omega[0] else 1.0
        for (h, m0), color in first_color.items():
            last_x_by_row = {}
            for name, w in sorted(_threshold_values(eps_eg, m0, h), key=lambda item: item[1]):
                if not omega[0] <= w <= omega[-1]:
                    continue
                ax.axvline(w, lw=0.5, ls=":", color=color, alpha=0.8)
                if annotate:
                    # Thresholds can be closer than a label is wide: stack such labels.
                    x = (w - omega[0]) / span
                    row = next(r for r in range(7) if x - last_x_by_row.get(r, -1.0) > 0.03)
                    last_x_by_row[row] = x
                    ax.text(w, 0.98 - 0.045 * row, f"ω{name}", transform=ax.get_xaxis_transform(),
                            fontsize=6, ha="center", va="top", color=color)
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel("photon energy ω [eV]")
    ax.set_ylabel("Γ(ω) [Hz]")
    ax.set_xlim(omega[0], omega[-1])
    phase_text = f", (α21, α31) = ({alphas[0]:.3g}, {alphas[1]:.3g}) rad" if any(alphas) else ""
    model_text = f", {model} Coulomb integrals" if model != "thomas-fermi" else ""
    ax.set_title(title or f"{target} RENP, {ch} channel{model_text}{phase_text}", fontsize=10)
    ax.legend(fontsize=7, ncol=1 if len(lines) <= 8 else 2)
    fig.tight_layout()
    try:
        fig.savefig(out, dpi=dpi)
    except OSError as exc:
        raise InputError("output", f"cannot write {out}: {exc.strerror or exc}") from None
    except ValueError as exc:  # unknown image format suffix
        raise InputError("output", str(exc)) from None
    return labels
