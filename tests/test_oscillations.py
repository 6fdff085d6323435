"""Tests of renp_scan.model.oscillations and renp_scan/data/oscillations.toml.

Reference values: NuFIT 6.0, Esteban et al., JHEP 12 (2024) 216, arXiv:2410.05380,
www.nu-fit.org (v6.0), best fits "IC19 without SK atmospheric data"; the paper's
1 - 4 sin^2 theta_W = 0.044 (arXiv:1310.6472, eqs. 6 and 14).
"""

from __future__ import annotations

import dataclasses
import math

import pytest
from conftest import assert_bad_files_named
from hypothesis import given, settings
from hypothesis import strategies as st

from renp_scan.errors import InputError
from renp_scan.model.oscillations import MixingParams, OscillationData, load_oscillation_data

MIXING_FIELDS = (
    "sin2_theta12",
    "sin2_theta13",
    "sin2_theta23",
    "delta_cp_deg",
    "dm21_sq_eV2",
    "dm3l_sq_eV2",
)


def _scalar(value):
    if isinstance(value, str):
        return '"' + value.replace('"', '\\"') + '"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    if isinstance(value, float) and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return repr(value)


def write_oscillations(path, top, normal, inverted):
    """Independent minimal TOML writer (top-level keys, then the two tables)."""
    lines = [f"{k} = {_scalar(v)}" for k, v in top.items()]
    for name, table in (("normal", normal), ("inverted", inverted)):
        if table is not None:
            lines.append(f"[{name}]")
            lines += [f"{k} = {_scalar(v)}" for k, v in table.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def base_document():
    # Made-up but valid numbers (distinct from NuFIT's, so a user file is visibly used).
    top = {"format_version": 1, "source": "test", "data_set": "made up", "sin2_theta_W": 0.23}
    normal = {
        "sin2_theta12": 0.31,
        "sin2_theta13": 0.022,
        "sin2_theta23": 0.5,
        "delta_cp_deg": 180.0,
        "dm21_sq_eV2": 7.5e-5,
        "dm3l_sq_eV2": 2.5e-3,
    }
    inverted = {**normal, "delta_cp_deg": 270.0, "dm3l_sq_eV2": -2.4e-3}
    return top, normal, inverted


# ---------------------------------------------------------------- package data


def test_nufit_60_best_fit_values():
    # NuFIT 6.0 parameter table, upper section (without SK atmospheric chi^2).
    data = load_oscillation_data()
    no, io = data.normal, data.inverted
    assert (no.sin2_theta12, no.sin2_theta13, no.sin2_theta23) == (0.307, 0.02195, 0.561)
    assert no.delta_cp_deg == 177.0
    assert (no.dm21_sq_eV2, no.dm3l_sq_eV2) == (7.49e-5, 2.534e-3)
    assert (io.sin2_theta12, io.sin2_theta13, io.sin2_theta23) == (0.308, 0.02224, 0.562)
    assert io.delta_cp_deg == 285.0
    assert (io.dm21_sq_eV2, io.dm3l_sq_eV2) == (7.49e-5, -2.510e-3)
    assert "NuFIT 6.0" in data.source and "2410.05380" in data.source
    assert "without SK" in data.data_set


@pytest.mark.parametrize("ordering", ["normal", "inverted"])
def test_values_are_in_the_global_fit_ranges(ordering):
    # Sanity against every global fit since the paper's era (NuFIT 1.x - 6.0, PDG):
    # 3-sigma-wide windows that a typo (wrong exponent, swapped digits) would leave.
    p = getattr(load_oscillation_data(), ordering)
    assert 7.4e-5 <= p.dm21_sq_eV2 <= 7.6e-5
    assert 2.4e-3 <= abs(p.dm3l_sq_eV2) <= 2.6e-3
    assert 0.27 <= p.sin2_theta12 <= 0.35
    assert 0.020 <= p.sin2_theta13 <= 0.025
    assert 0.40 <= p.sin2_theta23 <= 0.64
    assert 0.0 <= p.delta_cp_deg < 360.0


def test_signs_follow_nufit_convention():
    data = load_oscillation_data()
    assert data.normal.dm3l_sq_eV2 > 0 and data.normal.is_normal
    assert data.inverted.dm3l_sq_eV2 < 0 and not data.inverted.is_normal


def test_derived_splittings_obey_the_sum_rule():
    # Delta m^2_31 = Delta m^2_32 + Delta m^2_21 in both orderings (identity).
    for p in (load_oscillation_data().normal, load_oscillation_data().inverted):
        assert p.dm31_sq_eV2 == pytest.approx(p.dm32_sq_eV2 + p.dm21_sq_eV2, rel=1e-14)
    no, io = load_oscillation_data().normal, load_oscillation_data().inverted
    assert no.dm31_sq_eV2 == no.dm3l_sq_eV2
    assert io.dm32_sq_eV2 == io.dm3l_sq_eV2
    assert io.dm31_sq_eV2 == pytest.approx(-2.510e-3 + 7.49e-5, rel=1e-14)


def test_weak_angle_gives_the_papers_0044():
    # arXiv:1310.6472 eq. 6: 1 - 4 sin^2 theta_W ~ 0.044; eq. 14: Q_w = N - 0.044 Z.
    s2w = load_oscillation_data().sin2_theta_W
    assert s2w == 0.239
    assert 1.0 - 4.0 * s2w == pytest.approx(0.044, abs=1e-12)


def test_default_is_cached():
    assert load_oscillation_data() is load_oscillation_data()


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("NH", "normal"),
        ("nh", "normal"),
        ("IH", "inverted"),
        ("ih", "inverted"),
        ("NO", "normal"),
        ("IO", "inverted"),
        (" Normal ", "normal"),
        ("inverted", "inverted"),
    ],
)
def test_ordering_lookup(name, expected):
    data = load_oscillation_data()
    assert data.ordering(name) is getattr(data, expected)


@pytest.mark.parametrize("bad", ["QD", "", "N H", None, 1])
def test_ordering_rejects_unknown_names(bad):
    with pytest.raises(InputError) as err:
        load_oscillation_data().ordering(bad)
    assert err.value.field == "hierarchy"


# ---------------------------------------------------------------- user files


def test_user_file_replaces_the_package_data(tmp_path):
    top, normal, inverted = base_document()
    path = write_oscillations(tmp_path / "osc.toml", top, normal, inverted)
    data = load_oscillation_data(path)
    assert data.normal.sin2_theta12 == 0.31
    assert data.inverted.dm3l_sq_eV2 == -2.4e-3
    assert data.sin2_theta_W == 0.23
    assert data.source == "test" and data.data_set == "made up"
    assert load_oscillation_data().normal.sin2_theta12 == 0.307  # default untouched


def test_round_trip_of_the_package_data(tmp_path):
    data = load_oscillation_data()
    top = {
        "format_version": 1,
        "source": data.source,
        "data_set": data.data_set,
        "sin2_theta_W": data.sin2_theta_W,
    }
    path = write_oscillations(
        tmp_path / "copy.toml",
        top,
        dataclasses.asdict(data.normal),
        dataclasses.asdict(data.inverted),
    )
    assert load_oscillation_data(path) == data


def test_data_set_is_optional(tmp_path):
    top, normal, inverted = base_document()
    del top["data_set"]
    assert (
        load_oscillation_data(
            write_oscillations(tmp_path / "o.toml", top, normal, inverted)
        ).data_set
        == ""
    )


BAD_MIXING = [
    ("sin2 zero", "normal", {"sin2_theta12": 0.0}, "normal.sin2_theta12"),
    ("sin2 one", "inverted", {"sin2_theta23": 1.0}, "inverted.sin2_theta23"),
    ("sin2 above one", "normal", {"sin2_theta13": 1.5}, "normal.sin2_theta13"),
    ("sin2 nan", "normal", {"sin2_theta23": float("nan")}, "normal.sin2_theta23"),
    ("sin2 as string", "normal", {"sin2_theta12": "0.3"}, "normal.sin2_theta12"),
    ("delta inf", "inverted", {"delta_cp_deg": float("inf")}, "inverted.delta_cp_deg"),
    ("delta bool", "normal", {"delta_cp_deg": True}, "normal.delta_cp_deg"),
    ("dm21 zero", "normal", {"dm21_sq_eV2": 0.0}, "normal.dm21_sq_eV2"),
    ("dm21 negative", "inverted", {"dm21_sq_eV2": -7.5e-5}, "inverted.dm21_sq_eV2"),
    ("NO with negative dm3l", "normal", {"dm3l_sq_eV2": -2.5e-3}, "normal.dm3l_sq_eV2"),
    ("IO with positive dm3l", "inverted", {"dm3l_sq_eV2": 2.5e-3}, "inverted.dm3l_sq_eV2"),
    ("dm3l zero", "normal", {"dm3l_sq_eV2": 0.0}, "normal.dm3l_sq_eV2"),
    ("IO |dm32| below dm21", "inverted", {"dm3l_sq_eV2": -5e-5}, "inverted.dm3l_sq_eV2"),
    ("NO dm31 below dm21", "normal", {"dm3l_sq_eV2": 5e-5}, "normal.dm3l_sq_eV2"),
    ("extra field", "normal", {"theta14": 0.1}, "normal.theta14"),
]


@pytest.mark.parametrize(
    ("ordering", "changes", "field"), [b[1:] for b in BAD_MIXING], ids=[b[0] for b in BAD_MIXING]
)
def test_bad_mixing_value_names_the_field(tmp_path, ordering, changes, field):
    top, normal, inverted = base_document()
    tables = {"normal": normal, "inverted": inverted}
    tables[ordering] = {**tables[ordering], **changes}
    path = write_oscillations(tmp_path / "bad.toml", top, tables["normal"], tables["inverted"])
    with pytest.raises(InputError) as err:
        load_oscillation_data(path)
    assert err.value.field == field


@pytest.mark.parametrize("ordering", ["normal", "inverted"])
@pytest.mark.parametrize("missing", MIXING_FIELDS)
def test_missing_mixing_field_names_it(tmp_path, ordering, missing):
    top, normal, inverted = base_document()
    tables = {"normal": dict(normal), "inverted": dict(inverted)}
    del tables[ordering][missing]
    path = write_oscillations(tmp_path / "bad.toml", top, tables["normal"], tables["inverted"])
    with pytest.raises(InputError) as err:
        load_oscillation_data(path)
    assert err.value.field == f"{ordering}.{missing}"


BAD_TOP = [
    ("unknown key", {"colour": "blue"}, None, "colour"),
    ("format_version 2", {"format_version": 2}, None, "format_version"),
    ("format_version string", {"format_version": "1"}, None, "format_version"),
    ("format_version missing", {}, "format_version", "format_version"),
    ("source missing", {}, "source", "source"),
    ("source not string", {"source": 3}, None, "source"),
    ("source empty", {"source": " "}, None, "source"),
    ("data_set not string", {"data_set": 1}, None, "data_set"),
    ("sin2_theta_W missing", {}, "sin2_theta_W", "sin2_theta_W"),
    ("sin2_theta_W out of range", {"sin2_theta_W": 1.2}, None, "sin2_theta_W"),
    ("sin2_theta_W nan", {"sin2_theta_W": float("nan")}, None, "sin2_theta_W"),
]


@pytest.mark.parametrize(
    ("changes", "drop", "field"), [b[1:] for b in BAD_TOP], ids=[b[0] for b in BAD_TOP]
)
def test_bad_top_level_names_the_key(tmp_path, changes, drop, field):
    top, normal, inverted = base_document()
    top.update(changes)
    if drop:
        del top[drop]
    path = write_oscillations(tmp_path / "bad.toml", top, normal, inverted)
    with pytest.raises(InputError) as err:
        load_oscillation_data(path)
    assert err.value.field == field


def test_missing_ordering_table(tmp_path):
    top, normal, _ = base_document()
    path = write_oscillations(tmp_path / "bad.toml", top, normal, None)
    with pytest.raises(InputError) as err:
        load_oscillation_data(path)
    assert err.value.field == "inverted"


def test_ordering_that_is_not_a_table(tmp_path):
    top, normal, inverted = base_document()
    path = write_oscillations(tmp_path / "bad.toml", {**top, "normal": 3}, None, inverted)
    with pytest.raises(InputError) as err:
        load_oscillation_data(path)
    assert err.value.field == "normal"


def test_missing_and_malformed_files(tmp_path):
    assert_bad_files_named(load_oscillation_data, tmp_path, "oscillations_file", "[normal\n")


# ---------------------------------------------------------------- direct construction


def test_direct_construction_validates():
    _, normal, inverted = base_document()
    with pytest.raises(InputError) as err:
        MixingParams(**{**normal, "sin2_theta13": -0.1})
    assert err.value.field == "sin2_theta13"
    with pytest.raises(InputError) as err:
        OscillationData(
            normal=MixingParams(**inverted),
            inverted=MixingParams(**inverted),
            sin2_theta_W=0.239,
            source="x",
        )
    assert err.value.field == "normal.dm3l_sq_eV2"
    with pytest.raises(InputError) as err:
        OscillationData(
            normal=normal, inverted=MixingParams(**inverted), sin2_theta_W=0.239, source="x"
        )
    assert err.value.field == "normal"


def test_integers_are_stored_as_floats():
    p = MixingParams(0.3, 0.02, 0.5, 180, 7.5e-5, 2.5e-3)
    assert isinstance(p.delta_cp_deg, float) and p.delta_cp_deg == 180.0


@settings(deadline=None, max_examples=50)
@given(
    s12=st.floats(min_value=1e-6, max_value=1 - 1e-6),
    dm21=st.floats(min_value=1e-7, max_value=1e-3),
    ratio=st.floats(min_value=1.001, max_value=1e3),
    normal=st.booleans(),
)
def test_ordering_identities_hold_for_any_valid_point(s12, dm21, ratio, normal):
    dm3l = dm21 * ratio * (1.0 if normal else -1.0)
    p = MixingParams(s12, 0.02, 0.5, 0.0, dm21, dm3l)
    assert p.is_normal is normal
    assert p.dm31_sq_eV2 - p.dm32_sq_eV2 == pytest.approx(dm21, rel=1e-9)
    # |Delta m^2_3l| > Delta m^2_21 puts m3 above both (NO) or below both (IO).
    assert (p.dm32_sq_eV2 > 0) is normal and (p.dm31_sq_eV2 > 0) is normal
