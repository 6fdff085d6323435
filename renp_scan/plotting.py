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

import hashlib
import json
import textwrap
from pathlib import Path

import numpy as np

from .cube.reader import check_cube, describe_cube, open_cube
from .errors import InputError
from .model.neutrinos import pair_thresholds_eV

#: Colours of the paper's figures first (Fig. 4: blue, magenta; Fig. 6: blue,
#: magenta, brown, green), then matplotlib's default cycle.
PALETTE = ("tab:blue", "m", "tab:brown", "tab:green", "tab:orange", "tab:red", "tab:purple",
           "tab:gray", "tab:olive", "tab:cyan", "k", "tab:pink")
#: Threshold lines are drawn when at most this many spectra are on the axes.
MAX_LINES_WITH_THRESHOLDS = 4
#: Lines whose rates differ by at most this fraction of the plotted scale (well
#: under a line width) are said to coincide: drawn once, one legend entry naming
#: them all with their largest difference.
COINCIDE_RTOL = 5e-3
#: PNG text chunk holding :func:`data_record` (JSON).
DATA_KEY = "renp_scan_plot_data"
#: Values per line kept in :func:`data_record`.
N_SAMPLES = 65
#: Height of the band of threshold labels above the axes [points].
LABEL_ROW_PT = 16.0
#: Spacing of threshold labels (axes fraction) and their height above the axes.
LABEL_WIDTH, LABEL_RISE = 0.04, 0.05


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


def _pick_m0(wanted, grid_eV: np.ndarray) -> list[tuple[int, float]]:
    """Grid rows for the asked m0 values: (index, asked value) per distinct row.

    A value is taken only when a grid value lies within half a grid step of it
    (the step to that grid value's neighbour on the asked side); anything else,
    including values outside the grid and NaN, is an error naming ``m0``.
    """
    if not wanted:
        return [(i, float(m)) for i, m in enumerate(grid_eV)]
    picked = []
    span = (f"{grid_eV[0]:g} .. {grid_eV[-1]:g} eV, {len(grid_eV)} values"
            if len(grid_eV) > 1 else f"{grid_eV[0]:g} eV only")
    for value in wanted:
        try:
            m0 = float(value)
        except (TypeError, ValueError):
            raise InputError("m0", f"must be a number in eV, got {value!r}") from None
        if not np.isfinite(m0):
            raise InputError("m0", f"--m0 must be a finite number in eV, got {value!r}")
        i = int(np.argmin(np.abs(grid_eV - m0)))
        if not _on_grid(m0, grid_eV, i):
            raise InputError("m0", f"--m0 {m0:g} eV is outside the cube's m0 grid ({span})")
        if i not in [j for j, _ in picked]:
            picked.append((i, m0))
    return picked


def _on_grid(value: float, grid: np.ndarray, i: int) -> bool:
    """Tell whether ``grid[i]`` is within half a grid step of ``value`` (exact for one point)."""
    tiny = 1e-9 * max(abs(float(grid[i])), 1e-12)
    if abs(value - grid[i]) <= tiny:
        return True
    j = i + 1 if value > grid[i] else i - 1
    if not 0 <= j < len(grid):
        return False  # beyond the end of the grid
    return abs(value - grid[i]) <= 0.5 * abs(grid[j] - grid[i]) + tiny


def _omega_window(omega: np.ndarray, omega_min_eV, omega_max_eV) -> tuple[float, float]:
    """Check the asked photon-energy window against the cube's omega range; return it."""
    lo = float(omega[0]) if omega_min_eV is None else float(omega_min_eV)
    hi = float(omega[-1]) if omega_max_eV is None else float(omega_max_eV)
    cover = f"the cube covers [{omega[0]:g}, {omega[-1]:g}] eV"
    tiny = 1e-9 * abs(float(omega[-1]))
    for name, value in (("--omega-min", lo), ("--omega-max", hi)):
        if not np.isfinite(value):
            raise InputError("omega", f"{name} must be a finite number in eV, got {value}")
        if not omega[0] - tiny <= value <= omega[-1] + tiny:
            raise InputError("omega", f"{name} {value:g} eV is outside the cube; {cover}")
    if lo >= hi:
        raise InputError("omega", f"--omega-min {lo:g} eV must be below --omega-max {hi:g} eV")
    return lo, hi


def _threshold_values(eps_eg_eV: float, m0_eV: float, hierarchy: str):
    """Return the six thresholds omega_ij (i <= j) [eV] of eq. 20 with their labels."""
    table = pair_thresholds_eV(eps_eg_eV, m0_eV, (hierarchy,))[0, 0]
    return [(f"{i + 1}{j + 1}", float(table[i, j])) for i in range(3) for j in range(i, 3)]


def plot_data(cube_path, *, target=None, hierarchies=None, natures=None, channel=None,
              coulomb_model=None, phase: int = 0, m0_eV=None, omega_min_eV=None,
              omega_max_eV=None) -> dict:
    """Select the Gamma(omega) lines a plot of ``cube_path`` shows (no drawing).

    Parameters are those of :func:`plot_cube`. Every selection is checked against
    the cube; anything outside it raises :class:`~renp_scan.errors.InputError` naming
    the option (target, hierarchy, nature, channel, coulomb_model, phase, m0, omega).

    Returns
    -------
    dict
        ``omega_eV`` (the plotted grid [eV]), ``lines`` (dicts with ``hierarchy``,
        ``nature``, ``m0_eV`` (grid value drawn), ``m0_asked_eV``, ``label`` and
        ``rate_Hz``), ``thresholds`` ((hierarchy, m0) -> [(name, omega_ij [eV])] of
        eq. 20 inside the window), ``caption`` (the physics settings, one line),
        ``target``, ``channel``, ``coulomb_model``, ``phase``, ``alphas_rad``,
        ``scan_name``, ``scan_path``, ``scan_sha256``.
    """
    targets = check_cube(cube_path)
    target = _pick_labels("target", [target] if target else [targets[0]], targets)[0]
    info = describe_cube(cube_path)
    root = info["attrs"]
    tattrs = next(t["attrs"] for t in info["targets"] if t["name"] == target)
    with open_cube(cube_path, target) as ds:
        hs = _pick_labels("hierarchy", hierarchies, ds["hierarchy"].values)
        ns = _pick_labels("nature", natures, ds["nature"].values)
        ch = _pick_labels("channel", [channel] if channel else None, ds["channel"].values)[0]
        model = _pick_labels("coulomb_model", [coulomb_model] if coulomb_model else None,
                             ds["coulomb_model"].values)[0]
        n_phase = ds.sizes["phase"]
        if isinstance(phase, bool) or not isinstance(phase, (int, np.integer)) \
                or not 0 <= int(phase) < n_phase:
            raise InputError("phase", f"--phase must be a row index in [0, {n_phase - 1}], "
                             f"got {phase!r}")
        phase = int(phase)
        m0_grid = ds["m0"].values
        picked = _pick_m0(m0_eV, m0_grid)
        omega = ds["omega"].values
        lo, hi = _omega_window(omega, omega_min_eV, omega_max_eV)
        window = (omega >= lo) & (omega <= hi)
        if np.count_nonzero(window) < 2:
            raise InputError("omega", f"fewer than 2 grid points in [{lo:g}, {hi:g}] eV; the "
                             f"cube's omega step there is about "
                             f"{np.diff(omega).max():.3g} eV")
        eps_eg = float(ds.attrs["eps_eg_eV"])
        alphas = (float(ds["alpha21_rad"][phase]), float(ds["alpha31_rad"][phase]))
        rate = ds["rate"].sel(channel=ch, coulomb_model=model).isel(
            phase=phase, omega=np.flatnonzero(window))
        lines = []
        for h in hs:
            for n in ns:
                for i, asked in picked:
                    m0 = float(m0_grid[i])
                    lines.append({"hierarchy": h, "nature": n, "m0_eV": m0, "m0_asked_eV": asked,
                                  "label": f"{h} {n.capitalize()} m0={m0:g} eV",
                                  "rate_Hz": np.asarray(rate.sel(hierarchy=h, nature=n)
                                                        .isel(m0=i).values, dtype=np.float64)})
    omega = omega[window]
    thresholds = {}
    for line in lines:
        key = (line["hierarchy"], line["m0_eV"])
        if key not in thresholds:
            thresholds[key] = [(name, w) for name, w in _threshold_values(eps_eg, key[1], key[0])
                               if omega[0] <= w <= omega[-1]]
    substituted = sorted({(line["m0_asked_eV"], line["m0_eV"]) for line in lines
                          if line["m0_asked_eV"] != line["m0_eV"]})
    return {
        "omega_eV": omega, "lines": lines, "thresholds": thresholds, "target": target,
        "channel": ch, "coulomb_model": model, "phase": phase, "alphas_rad": alphas,
        "caption": _caption(root, tattrs, target, ch, model, alphas, substituted),
        "scan_name": str(root.get("scan_name", "")), "scan_path": str(root.get("scan_path", "")),
        "scan_sha256": str(root.get("scan_sha256", "")),
    }


def _caption(root: dict, tattrs: dict, target, channel, model, alphas, substituted) -> str:
    """One line of the physics settings behind the plotted rates (Gamma ∝ n^3 V eta, eq. 18)."""
    parts = [f"{target} ({tattrs.get('isotope', '?')})",
             f"n = {root.get('density_cm3', float('nan')):g} cm⁻³",
             f"V = {root.get('volume_cm3', float('nan')):g} cm³",
             f"η = {root.get('eta', float('nan')):g}",
             f"{channel} channel", f"{model} Coulomb integrals",
             f"(α21, α31) = ({alphas[0]:.3g}, {alphas[1]:.3g}) rad"]
    if "level_ratio" in tattrs:
        parts.append(f"level ratio {tattrs['level_ratio']}")
    if "rate_normalisation" in root:
        parts.append("absolute scale as printed in arXiv:1310.6472")
    for asked, shown in substituted:
        parts.append(f"m0 {asked:g} eV shown as grid value {shown:g} eV")
    return "; ".join(parts)


def coinciding_groups(lines, omega_eV, *, rtol: float = COINCIDE_RTOL, logy: bool = False):
    """Group lines whose rates agree within ``rtol`` (they look like one curve).

    Linear axes: ``max |a - b| <= rtol * max(|a|, |b|)`` over the window (the
    plotted scale). Log axes: pointwise ``|a - b| <= rtol * max(|a|, |b|)``.

    Returns
    -------
    list of list of int
        Indices into ``lines``, each group in drawing order, groups by first member.
    """
    groups: list[list[int]] = []
    for k, line in enumerate(lines):
        a = line["rate_Hz"]
        for group in groups:
            b = lines[group[0]]["rate_Hz"]
            diff = np.abs(a - b)
            if logy:
                same = bool(np.all(diff <= rtol * np.maximum(np.abs(a), np.abs(b))))
            else:
                scale = max(float(np.max(np.abs(a))), float(np.max(np.abs(b))))
                same = bool(np.max(diff) <= rtol * scale)
            if same:
                group.append(k)
                break
        else:
            groups.append([k])
    return groups


def group_spread(lines, group, *, logy: bool = False) -> float:
    """Largest difference within a group of lines, relative to its peak (pointwise if logy)."""
    rates = np.array([lines[i]["rate_Hz"] for i in group])
    diff = rates.max(axis=0) - rates.min(axis=0)
    if logy:
        peak = np.abs(rates).max(axis=0)
        return float(np.max(np.divide(diff, peak, out=np.zeros_like(diff), where=peak > 0)))
    peak = float(np.abs(rates).max())
    return float(diff.max() / peak) if peak > 0 else 0.0


def data_record(data: dict, options: dict, *, logy: bool = False) -> dict:
    """Summary of what a plot shows, stored in its PNG (key :data:`DATA_KEY`).

    Holds the scan (name, path, sha256), the plot options, the caption, the
    coinciding groups, the thresholds marked and, per line, its length, omega range,
    sum, maximum and :data:`N_SAMPLES` evenly spaced values (12 significant digits),
    plus the SHA-256 of the exact float64 rates. :func:`compare_records` compares two.
    """
    omega = data["omega_eV"]
    take = np.unique(np.linspace(0, len(omega) - 1, N_SAMPLES).round().astype(int))
    lines = []
    for line in data["lines"]:
        rate = line["rate_Hz"]
        lines.append({
            "label": line["label"], "n": int(rate.size),
            "omega_eV": [_g(omega[0]), _g(omega[-1])],
            "sum_Hz": _g(np.sum(rate)), "max_Hz": _g(np.max(rate)),
            "samples_Hz": [_g(v) for v in rate[take]],
            "sha256": hashlib.sha256(np.ascontiguousarray(rate).tobytes()).hexdigest(),
        })
    return {
        "scan_name": data["scan_name"], "scan_path": data["scan_path"],
        "scan_sha256": data["scan_sha256"], "options": options, "caption": data["caption"],
        "coinciding": [[data["lines"][k]["label"] for k in g]
                       for g in coinciding_groups(data["lines"], omega, logy=logy)],
        "thresholds_eV": {f"{h} m0={m0:g} eV": [[n, _g(w)] for n, w in marks]
                          for (h, m0), marks in data["thresholds"].items()},
        "lines": lines,
    }


def _g(value) -> float:
    return float(f"{float(value):.12g}")


def compare_records(stored: dict, fresh: dict, rtol: float = 1e-9) -> list[str]:
    """Differences between two :func:`data_record` results beyond ``rtol`` (empty: same data).

    Exact SHA-256 equality is not required: the rates may differ in the last bits
    between machines (vectorised kernels), far below ``rtol``.
    """
    problems = []
    for key in ("scan_name", "scan_sha256", "options", "caption", "coinciding"):
        if stored.get(key) != fresh.get(key):
            problems.append(f"{key}: {stored.get(key)!r} != {fresh.get(key)!r}")
    if set(stored.get("thresholds_eV", {})) != set(fresh.get("thresholds_eV", {})):
        problems.append("thresholds marked differ")
    else:
        for key, marks in stored["thresholds_eV"].items():
            other = fresh["thresholds_eV"][key]
            if [m[0] for m in marks] != [m[0] for m in other] or not np.allclose(
                    [m[1] for m in marks], [m[1] for m in other], rtol=rtol, atol=0):
                problems.append(f"thresholds of {key} differ")
    old, new = stored.get("lines", []), fresh.get("lines", [])
    if [x["label"] for x in old] != [x["label"] for x in new]:
        return problems + [f"lines {[x['label'] for x in old]} != {[x['label'] for x in new]}"]
    for a, b in zip(old, new, strict=True):
        scale = max(abs(a["max_Hz"]), abs(b["max_Hz"]))
        if a["n"] != b["n"] or not np.allclose(a["omega_eV"], b["omega_eV"], rtol=rtol, atol=0):
            problems.append(f"{a['label']}: omega grid differs")
            continue
        for key in ("sum_Hz", "max_Hz", "samples_Hz"):
            if not np.allclose(a[key], b[key], rtol=rtol, atol=rtol * scale):
                problems.append(f"{a['label']}: {key} differs")
    return problems


def read_png_record(path) -> dict | None:
    """Return the :func:`data_record` stored in a PNG by :func:`plot_cube` (None if absent)."""
    # Pillow comes with matplotlib, which is optional (the [plot] extra).
    from PIL import Image  # noqa: PLC0415

    with Image.open(path) as image:
        text = image.text.get(DATA_KEY) if hasattr(image, "text") else None
    return json.loads(text) if text else None


def plot_cube(cube_path, output_path, *, target=None, hierarchies=None, natures=None,
              channel=None, coulomb_model=None, phase: int = 0, m0_eV=None,
              omega_min_eV=None, omega_max_eV=None, logy: bool = False,
              thresholds: bool | None = None, title: str | None = None,
              dpi: int = 150) -> list[str]:
    """Draw Gamma(omega) lines of one cube target into a PNG (or any matplotlib format).

    By default every (hierarchy, nature, m0) line of the first channel, Coulomb model
    and phase row is overlaid with a legend; with at most
    :data:`MAX_LINES_WITH_THRESHOLDS` lines the six thresholds omega_ij (eq. 20) of each
    drawn (hierarchy, m0) are marked with thin vertical lines, labelled in a band above
    the axes (so a label never covers a curve). A caption line under the axes states
    the physics settings (target, n, V, eta, channel, Coulomb model, phases, level
    ratio). Lines that coincide within :data:`COINCIDE_RTOL` of the plotted scale are
    drawn once, with one legend entry naming them all.

    A PNG is written without time or software stamps (same data, same bytes with the
    same matplotlib) and carries the plotted data summary (:func:`data_record`) as
    text chunk :data:`DATA_KEY` and the caption as ``Description``.

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
        Smallest neutrino masses [eV]; each must lie within half a grid step of a
        grid value, which is drawn (the caption names any substitution).
    omega_min_eV, omega_max_eV : float, optional
        Photon energy window [eV], inside the cube's omega range.
    logy : bool
        Logarithmic rate axis (zero rates beyond the thresholds are left out).
    thresholds : bool, optional
        Force threshold lines on or off (default: on when few lines are drawn).
    title : str, optional
        Axes title (default: target, channel and, unless it is the paper's
        Thomas-Fermi, the Coulomb model).
    dpi : int
        Resolution of raster output.

    Returns
    -------
    list of str
        Labels of the lines drawn (one per cube line, coinciding ones included).
    """
    out = Path(output_path)
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        raise InputError("output", f"directory {parent} does not exist")
    options = {"target": target, "hierarchies": hierarchies, "natures": natures,
               "channel": channel, "coulomb_model": coulomb_model, "phase": phase,
               "m0_eV": m0_eV, "omega_min_eV": omega_min_eV, "omega_max_eV": omega_max_eV}
    data = plot_data(cube_path, **options)
    draw_thresholds = (len(data["lines"]) <= MAX_LINES_WITH_THRESHOLDS if thresholds is None
                       else thresholds)
    fig = draw(data, logy=logy, thresholds=draw_thresholds, title=title)
    record = data_record(data, {**options, "logy": logy, "thresholds": thresholds,
                                "title": title}, logy=logy)
    if not draw_thresholds:
        record["thresholds_eV"] = {}
    metadata = {"Software": None}
    if out.suffix.lower() == ".png":
        metadata.update({"Description": data["caption"],
                         DATA_KEY: json.dumps(record, sort_keys=True, ensure_ascii=True)})
    elif out.suffix.lower() in (".pdf", ".svg"):
        metadata = {"Creator": None, "Date": None, "Description" if out.suffix.lower() == ".svg"
                    else "Subject": data["caption"]}
    else:
        metadata = None
    try:
        fig.savefig(out, dpi=dpi, metadata=metadata)
    except OSError as exc:
        raise InputError("output", f"cannot write {out}: {exc.strerror or exc}") from None
    except ValueError as exc:  # unknown image format suffix
        raise InputError("output", str(exc)) from None
    return [line["label"] for line in data["lines"]]


def draw(data: dict, *, logy: bool = False, thresholds: bool = True, title: str | None = None):
    """Draw :func:`plot_data`'s lines on a new Agg figure and return the figure."""
    # matplotlib is optional (the [plot] extra): imported only when a figure is drawn.
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: PLC0415
    from matplotlib.figure import Figure  # noqa: PLC0415

    omega, lines = data["omega_eV"], data["lines"]
    groups = coinciding_groups(lines, omega, logy=logy)
    fig = Figure(figsize=(9.0, 4.8))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    colors = PALETTE if len(groups) <= len(PALETTE) else None
    first_color = {}
    for k, group in enumerate(groups):
        values = lines[group[0]]["rate_Hz"]
        y = np.where(values > 0, values, np.nan) if logy else values
        label = "\n= ".join(lines[i]["label"] for i in group)
        if len(group) > 1:
            label += (f"\ncoincide: differ by ≤ {100 * group_spread(lines, group, logy=logy):.2g}"
                      " % of peak")
        (line,) = ax.plot(omega, y, lw=1.2, color=colors[k] if colors else None, label=label)
        for i in group:
            first_color.setdefault((lines[i]["hierarchy"], lines[i]["m0_eV"]), line.get_color())
    rows = 0
    if thresholds:
        rows = _mark_thresholds(ax, data["thresholds"], first_color, omega)
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel("photon energy ω [eV]")
    ax.set_ylabel("Γ(ω) [Hz]")
    ax.set_xlim(omega[0], omega[-1])
    model = data["coulomb_model"]
    model_text = f", {model} Coulomb integrals" if model != "thomas-fermi" else ""
    # The title sits above the threshold-label band.
    ax.set_title(title or f"{data['target']} RENP, {data['channel']} channel{model_text}",
                 fontsize=10, pad=12 + LABEL_ROW_PT * rows)
    # Outside the axes, like the threshold labels: the legend never hides a curve.
    ax.legend(fontsize=7, ncol=1 if len(groups) <= 12 else 2, loc="upper left",
              bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    fig.text(0.5, 0.012, textwrap.fill(data["caption"], 160), ha="center", va="bottom",
             fontsize=6.5, color="0.25")
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    return fig


def _mark_thresholds(ax, thresholds: dict, colors: dict, omega) -> int:
    """Dotted lines at the thresholds, labels in a band above the axes; return its rows.

    Labels are drawn only when one (hierarchy, m0) is shown (otherwise the lines'
    colours tell them apart). Thresholds closer than a label is wide get their labels
    spread sideways (:func:`spread_positions`) with a leader line down to the axes
    edge at the threshold, so labels never overlap each other, and being above the
    axes they never cover a curve.
    """
    span = omega[-1] - omega[0] if omega[-1] > omega[0] else 1.0
    annotate = len(thresholds) == 1
    for key, marks in thresholds.items():
        color = colors.get(key, "0.3")
        marks = sorted(marks, key=lambda item: item[1])
        for _, w in marks:
            ax.axvline(w, lw=0.5, ls=":", color=color, alpha=0.8)
        if not annotate or not marks:
            continue
        xs = [(w - omega[0]) / span for _, w in marks]
        for (name, w), p in zip(marks, spread_positions(xs, LABEL_WIDTH), strict=True):
            ax.annotate(f"ω{name}", xy=(w, 1.0), xycoords=ax.get_xaxis_transform(),
                        xytext=(p, 1.0 + LABEL_RISE), textcoords="axes fraction",
                        fontsize=6, ha="center", va="bottom", color=color,
                        arrowprops={"arrowstyle": "-", "lw": 0.4, "color": color,
                                    "shrinkA": 1, "shrinkB": 0},
                        annotation_clip=False)
    return 1 if annotate and any(thresholds.values()) else 0


def spread_positions(xs, width: float) -> list[float]:
    """Move sorted positions in [0, 1] apart to at least ``width``, staying in [0, 1].

    Each position moves as little as this two-pass sweep allows: a forward pass
    pushes crowded labels right, a backward pass pulls those past 1 back left.
    """
    out = [min(max(float(x), width / 2), 1 - width / 2) for x in xs]
    for i in range(1, len(out)):
        out[i] = max(out[i], out[i - 1] + width)
    if out and out[-1] > 1 - width / 2:
        out[-1] = 1 - width / 2
        for i in range(len(out) - 2, -1, -1):
            out[i] = min(out[i], out[i + 1] - width)
    return out
