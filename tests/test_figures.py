"""Plots: committed figures in sync with their scans, captions, label geometry, arguments.

The committed PNGs (docs/figures/fig*.png, made by scripts/make_figures.sh) carry
the scan they were made from and a summary of the plotted data; the drift test
recomputes the cubes from scans/ and compares the data (not pixels), so it fails
when the physics, a scan file or the plot options change without the figures
being regenerated.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from conftest import small_scan_text  # noqa: E402
from matplotlib.text import Text  # noqa: E402

from renp_scan.cli.main import main  # noqa: E402
from renp_scan.plotting import (  # noqa: E402
    COINCIDE_RTOL,
    DATA_KEY,
    coinciding_groups,
    compare_records,
    data_record,
    draw,
    plot_data,
    read_png_record,
    spread_positions,
)
from renp_scan.sweep.engine import run_scan  # noqa: E402
from renp_scan.sweep.scanfile import load_scan, parse_scan  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
FIGURES = sorted((ROOT / "docs" / "figures").glob("fig*.png"))
REGENERATE = "regenerate the figures with: bash scripts/make_figures.sh"


@pytest.fixture(scope="module")
def small_cube(tmp_path_factory):
    path = tmp_path_factory.mktemp("plot") / "small.h5"
    run_scan(parse_scan(small_scan_text()), path, workers=1, progress=False)
    return path


# ------------------------------------------------------------- committed figures


def test_make_figures_script_lists_every_committed_figure():
    script = (ROOT / "scripts" / "make_figures.sh").read_text()
    made = set(re.findall(r"-o (docs/figures/fig\w+\.png)", script))
    assert made == {str(p.relative_to(ROOT)) for p in FIGURES}
    assert len(made) == 4


@pytest.fixture(scope="module")
def scan_cubes(tmp_path_factory):
    """Cube of each scan a committed figure names, computed now from scans/."""
    work = tmp_path_factory.mktemp("figures")
    cubes = {}

    def cube_for(scan_path: str):
        if scan_path not in cubes:
            spec = load_scan(ROOT / scan_path)
            cubes[scan_path] = (spec, work / f"{len(cubes)}.h5")
            run_scan(spec, cubes[scan_path][1], workers=1, progress=False)
        return cubes[scan_path]

    return cube_for


@pytest.mark.parametrize("png", FIGURES, ids=[p.name for p in FIGURES])
def test_committed_figure_shows_todays_data(png, scan_cubes):
    stored = read_png_record(png)
    assert stored is not None, f"{png.name} has no {DATA_KEY} record; {REGENERATE}"
    scan_path = stored["scan_path"]
    assert scan_path.startswith("scans/"), scan_path
    spec, cube = scan_cubes(scan_path)
    assert spec.sha256 == stored["scan_sha256"], f"{scan_path} changed; {REGENERATE}"
    options = dict(stored["options"])
    logy, thresholds = options.pop("logy"), options.pop("thresholds")
    options.pop("title")
    data = plot_data(cube, **options)
    fresh = data_record(data, stored["options"], logy=logy)
    marked = len(data["lines"]) <= 4 if thresholds is None else thresholds
    if not marked:
        fresh["thresholds_eV"] = {}
    fresh["scan_path"] = scan_path
    problems = compare_records(stored, fresh)
    assert not problems, f"{png.name} is stale ({'; '.join(problems[:3])}); {REGENERATE}"


def test_compare_records_catches_a_change(small_cube):
    data = plot_data(small_cube, hierarchies=["NH"], m0_eV=[0.1])
    record = data_record(data, {})
    assert compare_records(record, data_record(data, {})) == []
    data["lines"][0]["rate_Hz"] = data["lines"][0]["rate_Hz"] * (1 + 1e-6)
    assert any("differs" in p for p in compare_records(record, data_record(data, {})))


def test_committed_figures_state_their_physics():
    from PIL import Image

    for png in FIGURES:
        with Image.open(png) as image:
            text = image.text
        caption = text["Description"]
        for needle in ("n = ", "cm⁻³", "V = ", "η = ", "channel", "Coulomb integrals",
                       "(α21, α31)"):
            assert needle in caption, (png.name, needle)
        assert "Software" not in text  # no version stamp: same data, same bytes


# ------------------------------------------------------------- drawing


def _display_points(line):
    xy = np.column_stack([line.get_xdata(), line.get_ydata()]).astype(float)
    xy = xy[np.all(np.isfinite(xy), axis=1)]
    return line.axes.transData.transform(xy)


def _covered(bbox, points) -> int:
    inside = ((points[:, 0] >= bbox.x0) & (points[:, 0] <= bbox.x1)
              & (points[:, 1] >= bbox.y0) & (points[:, 1] <= bbox.y1))
    return int(np.count_nonzero(inside))


def _labels_covering_curves(fig) -> list[str]:
    renderer = fig.canvas.get_renderer()
    ax = fig.axes[0]
    points = np.vstack([_display_points(line) for line in ax.get_lines()
                        if len(line.get_xdata()) > 2])
    # The text's own box (an annotation's extent would include its leader line).
    boxes = [(t.get_text(), Text.get_window_extent(t, renderer)) for t in ax.texts]
    legend = ax.get_legend()
    if legend is not None:
        boxes.append(("legend", legend.get_window_extent(renderer)))
    return [name for name, box in boxes if _covered(box, points)]


def test_threshold_labels_never_cover_the_curve(small_cube):
    data = plot_data(small_cube, hierarchies=["NH"], natures=["majorana"], m0_eV=[0.1])
    fig = draw(data, thresholds=True)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    texts = [t for t in fig.axes[0].texts if t.get_text().startswith("ω")]
    assert len(texts) == 6  # all six omega_ij of eq. 20 lie inside this cube's range
    assert _labels_covering_curves(fig) == []
    boxes = [Text.get_window_extent(t, renderer) for t in texts]
    for i, a in enumerate(boxes):  # labels do not overlap each other either
        for b in boxes[i + 1:]:
            assert not a.overlaps(b)
    # The check can fail: a label placed on the curve (as inside-the-axes labels were) is caught.
    ax = fig.axes[0]
    line = ax.get_lines()[0]
    k = int(np.argmax(line.get_ydata()))
    ax.text(line.get_xdata()[k], line.get_ydata()[k], "ω11", ha="center", va="center")
    fig.canvas.draw()
    assert _labels_covering_curves(fig) == ["ω11"]


def test_spread_positions_keeps_labels_apart_and_inside():
    xs = [0.9, 0.95, 0.96, 0.97, 0.98, 0.99]
    out = spread_positions(xs, 0.04)
    assert all(b - a >= 0.04 - 1e-12 for a, b in zip(out, out[1:], strict=False))
    assert 0.0 <= out[0] and out[-1] <= 1.0
    assert spread_positions([0.1, 0.5, 0.9], 0.04) == [0.1, 0.5, 0.9]  # no crowding: no move


def test_coinciding_curves_are_grouped_and_named():
    omega = np.linspace(0.0, 1.0, 50)
    base = 1.0 + omega**2
    lines = [{"rate_Hz": base, "label": "a"},
             {"rate_Hz": base * (1 + 0.2 * COINCIDE_RTOL), "label": "b"},
             {"rate_Hz": base * (1 + 3 * COINCIDE_RTOL), "label": "c"}]
    assert coinciding_groups(lines, omega) == [[0, 1], [2]]
    # On log axes the comparison is pointwise: a small-but-relative difference counts.
    tail = base.copy()
    tail[-1] *= 1.5
    lines.append({"rate_Hz": tail, "label": "d"})
    assert coinciding_groups([lines[0], lines[3]], omega) == [[0], [1]]
    assert coinciding_groups([lines[0], lines[1]], omega, logy=True) == [[0, 1]]


def test_plot_says_curves_coincide():
    omega = np.linspace(0.1, 0.6, 40)
    rate = 1.0 + omega**2
    lines = [{"hierarchy": "NH", "nature": n, "m0_eV": 0.0, "label": f"NH {n} m0=0 eV",
              "rate_Hz": rate * (1 + k * 1e-4)} for k, n in enumerate(("Majorana", "Dirac"))]
    data = {"omega_eV": omega, "lines": lines, "thresholds": {}, "coulomb_model": "valence",
            "target": "Cs", "channel": "nucleus", "caption": "caption"}
    fig = draw(data, thresholds=False)
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert legend == ["NH Majorana m0=0 eV\n= NH Dirac m0=0 eV\n"
                      "coincide: differ by ≤ 0.01 % of peak"]
    assert len(fig.axes[0].get_lines()) == 1  # drawn once


def test_xe_majorana_and_dirac_are_said_to_coincide():
    # Xe: Majorana and Dirac differ by < 0.5 % of the peak (the drift test recomputes it).
    record = read_png_record(ROOT / "docs" / "figures" / "fig6_xe_full.png")
    groups = record["coinciding"]
    assert len(groups) == 4
    for group in groups:
        assert [label.split()[1] for label in group] == ["Majorana", "Dirac"]
        assert len({label.replace("Majorana", "Dirac") for label in group}) == 1


def test_png_is_deterministic_and_carries_caption(small_cube, tmp_path):
    from PIL import Image

    args = ["plot", str(small_cube), "--hierarchy", "IH", "--m0", "0.05"]
    assert main([*args, "-o", str(tmp_path / "a.png")]) == 0
    assert main([*args, "-o", str(tmp_path / "b.png")]) == 0
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()
    with Image.open(tmp_path / "a.png") as image:
        caption = image.text["Description"]
    assert caption.startswith("Cs (133Cs); n = 1e+21 cm⁻³; V = 100 cm³; η = 1e-06; "
                              "nucleus channel; thomas-fermi Coulomb integrals")


# ------------------------------------------------------------- arguments


@pytest.mark.parametrize("extra, field, words", [
    (["--m0", "5"], "m0", "--m0 5 eV is outside the cube's m0 grid (0 .. 0.1 eV, 3 values)"),
    (["--m0", "nan"], "m0", "--m0 must be a finite number"),
    (["--m0", "-0.03"], "m0", "outside the cube's m0 grid"),
    (["--m0", "0.1001"], "m0", "outside the cube's m0 grid"),
    (["--omega-max", "2"], "omega", "--omega-max 2 eV is outside the cube"),
    (["--omega-min", "-1"], "omega", "--omega-min -1 eV is outside the cube"),
    (["--omega-min", "nan"], "omega", "--omega-min must be a finite number"),
    (["--omega-min", "0.5", "--omega-max", "0.4"], "omega", "must be below --omega-max"),
    (["--phase", "2"], "phase", "--phase must be a row index in [0, 1], got 2"),
    (["--phase", "-1"], "phase", "--phase must be a row index"),
    (["--target", "Xe"], "target", "'Xe' is not in the cube"),
    (["--phase", "x"], "arguments", "--phase"),
])
def test_plot_arguments_outside_the_cube_are_one_line_errors(small_cube, tmp_path, capsys,
                                                             extra, field, words):
    out = tmp_path / "bad.png"
    assert main(["plot", str(small_cube), "-o", str(out), *extra]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"renp-scan: error: {field}: "), err
    assert words in err, err
    assert not out.exists()


def test_m0_within_half_a_step_is_used_and_named(small_cube, tmp_path):
    # Grid 0, 0.05, 0.1 eV: 0.07 is 0.02 from 0.05 (half step 0.025), so 0.05 is drawn.
    data = plot_data(small_cube, hierarchies=["NH"], natures=["dirac"], m0_eV=[0.07])
    assert [line["m0_eV"] for line in data["lines"]] == [0.05]
    assert "m0 0.07 eV shown as grid value 0.05 eV" in data["caption"]
    exact = plot_data(small_cube, hierarchies=["NH"], natures=["dirac"], m0_eV=[0.05])
    assert "shown as grid value" not in exact["caption"]
