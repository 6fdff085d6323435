"""Measurement-plan files: schema, resolution into numbers, and every InputError field."""

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from renp_scan.analysis.counts import match_counts, parse_counts
from renp_scan.analysis.plan import ResolvedPlan, load_plan, parse_plan
from renp_scan.errors import InputError
from renp_scan.model.oscillations import load_oscillation_data

PLANS = Path(__file__).resolve().parents[1] / "plans"
CS_EPS = 1.3859  # Cs 6P1/2 - 6S1/2 [eV], paper sec. III

BASE = """
[plan]
name = "t"
target = "Cs"
[frequencies]
values_eV = [0.5, 0.3]
[exposure]
time_per_point_s = 10.0
"""


def thresholds_by_hand(eps, m0, hierarchy):
    """omega_ij = eps/2 - (m_i + m_j)^2 / (2 eps) (paper sec. I) from the NuFIT splittings."""
    p = load_oscillation_data().ordering(hierarchy)
    if hierarchy == "NH":
        m = [m0, math.sqrt(m0**2 + p.dm21_sq_eV2), math.sqrt(m0**2 + p.dm3l_sq_eV2)]
    else:
        big = abs(p.dm3l_sq_eV2)
        m = [math.sqrt(m0**2 + big - p.dm21_sq_eV2), math.sqrt(m0**2 + big), m0]
    return sorted({eps / 2 - (a + b) ** 2 / (2 * eps) for a in m for b in m})


def test_explicit_values_sorted_with_time_per_point():
    plan = parse_plan(BASE).resolve()
    np.testing.assert_array_equal(plan.omega_eV, [0.3, 0.5])
    np.testing.assert_array_equal(plan.time_s, [10.0, 10.0])
    assert plan.efficiency == 1.0 and plan.background_Hz == 0.0
    assert plan.total_time_s == 20.0


def test_rules_resolve_to_the_documented_points():
    text = """
[plan]
name = "rules"
[frequencies]
[[frequencies.uniform]]
start_fraction = 0.5
stop_fraction = 0.9
count = 5
[[frequencies.uniform]]
start_eV = 0.60
stop_eV = 0.61
count = 2
[[frequencies.below_thresholds]]
count = 2
step_eV = 1e-4
hierarchies = ["IH"]
m0_eV = [0.05]
[exposure]
total_time_s = 1000.0
background_Hz = 0.5
efficiency = 0.25
"""
    plan = parse_plan(text).resolve("Cs")
    uniform = np.linspace(0.5 * CS_EPS / 2, 0.9 * CS_EPS / 2, 5)
    below = [w - k * 1e-4 for w in thresholds_by_hand(CS_EPS, 0.05, "IH") for k in (1, 2)]
    expected = np.sort(np.concatenate([uniform, [0.60, 0.61], below]))
    np.testing.assert_allclose(plan.omega_eV, expected, rtol=1e-13)
    np.testing.assert_allclose(plan.time_s, 1000.0 / expected.size, rtol=1e-15)
    assert plan.total_time_s == pytest.approx(1000.0, rel=1e-14)
    assert plan.efficiency == 0.25 and plan.background_Hz == 0.5


def test_per_point_times_follow_their_values():
    text = BASE.replace("time_per_point_s = 10.0", "times_s = [5.0, 7.0]")
    plan = parse_plan(text).resolve()
    np.testing.assert_array_equal(plan.omega_eV, [0.3, 0.5])
    np.testing.assert_array_equal(plan.time_s, [7.0, 5.0])


def test_analysis_defaults_and_provenance():
    plan = parse_plan(BASE)
    assert plan.normalization == "fixed" and plan.dchi2_target == 9.0 and plan.m0_true_eV is None
    assert plan.channel is None and plan.phase == 0 and len(plan.sha256) == 64


BAD = [
    ("[plan\n", "toml"),
    (BASE.replace('name = "t"', ""), "plan.name"),
    (BASE + "[other]\n", "other"),
    (BASE.replace('target = "Cs"', 'target = "Cx"'), "plan.target"),
    (BASE.replace('target = "Cs"', 'channl = "core"'), "plan.channl"),
    (BASE.replace('target = "Cs"', 'channel = "valence"'), "plan.channel"),
    (BASE.replace('target = "Cs"', "phase = -1"), "plan.phase"),
    (BASE.replace("values_eV = [0.5, 0.3]", "values_eV = []"), "frequencies.values_eV"),
    (BASE.replace("values_eV = [0.5, 0.3]", "values_eV = [0.5, 0.5]"), "frequencies.values_eV"),
    (BASE.replace("values_eV = [0.5, 0.3]", "values_eV = [0.5, -0.3]"),
     "frequencies.values_eV[1]"),
    (BASE.replace("values_eV = [0.5, 0.3]", 'values_eV = [0.5, "x"]'),
     "frequencies.values_eV[1]"),
    (BASE.replace("values_eV = [0.5, 0.3]", ""), "frequencies"),
    (BASE.replace("values_eV = [0.5, 0.3]", "[[frequencies.uniform]]\nstart_eV = 0.1\ncount = 2"),
     "frequencies.uniform[0].stop_eV"),
    (BASE.replace("values_eV = [0.5, 0.3]",
                  "[[frequencies.uniform]]\nstart_eV = 0.1\nstop_eV = 0.2\ncount = 2.0"),
     "frequencies.uniform[0].count"),
    (BASE.replace("values_eV = [0.5, 0.3]",
                  "[[frequencies.uniform]]\nstart_eV = 0.3\nstop_eV = 0.2\ncount = 2"),
     "frequencies.uniform[0].stop_eV"),
    (BASE.replace("values_eV = [0.5, 0.3]",
                  "[[frequencies.uniform]]\nstart_fraction = 0.3\nstop_eV = 0.5\ncount = 2"),
     "frequencies.uniform[0]"),
    (BASE.replace("values_eV = [0.5, 0.3]",
                  "[[frequencies.below_thresholds]]\ncount = 2\nstep_eV = 0.0\nm0_eV = [0.1]"),
     "frequencies.below_thresholds[0].step_eV"),
    (BASE.replace("values_eV = [0.5, 0.3]",
                  "[[frequencies.below_thresholds]]\ncount = 2\nstep_eV = 1e-4\n"
                  'hierarchies = ["NH", "XH"]\nm0_eV = [0.1]'),
     "frequencies.below_thresholds[0].hierarchies[1]"),
    (BASE.replace("values_eV = [0.5, 0.3]",
                  "[[frequencies.below_thresholds]]\ncount = 2\nstep_eV = 1e-4\nm0_eV = [50.0]"),
     "frequencies.below_thresholds[0].m0_eV[0]"),
    (BASE.replace("time_per_point_s = 10.0", ""), "exposure.time_per_point_s"),
    (BASE.replace("time_per_point_s = 10.0", "time_per_point_s = 1.0\ntotal_time_s = 2.0"),
     "exposure.total_time_s"),
    (BASE.replace("time_per_point_s = 10.0", "time_per_point_s = 0.0"),
     "exposure.time_per_point_s"),
    (BASE.replace("time_per_point_s = 10.0", "times_s = [1.0]"), "exposure.times_s"),
    (BASE.replace("time_per_point_s = 10.0", "total_time_s = inf"), "exposure.total_time_s"),
    (BASE + "background_Hz = -1.0\n", "exposure.background_Hz"),
    (BASE + "efficiency = 1.5\n", "exposure.efficiency"),
    (BASE + "efficiency = 0\n", "exposure.efficiency"),
    (BASE + "[analysis]\nnormalization = \"floating\"\n", "analysis.normalization"),
    (BASE + "[analysis]\ndchi2_target = -9\n", "analysis.dchi2_target"),
    (BASE + "[analysis]\nm0_true_eV = [0.1, 0.05]\n", "analysis.m0_true_eV"),
]


@pytest.mark.parametrize("text,field", BAD, ids=[f for _, f in BAD])
def test_bad_plans_name_the_field(text, field):
    with pytest.raises(InputError) as err:
        parse_plan(text)
    assert err.value.field == field


def test_resolution_errors_name_the_field():
    # Beyond the pole of F at eps_eg: only known once the target is.
    text = BASE.replace("values_eV = [0.5, 0.3]", "values_eV = [0.5, 1.5]")
    with pytest.raises(InputError) as err:
        parse_plan(text).resolve()
    assert err.value.field == "frequencies.values_eV"
    with pytest.raises(InputError) as err:
        parse_plan(BASE).resolve("Xe")
    assert err.value.field == "plan.target"
    with pytest.raises(InputError) as err:
        parse_plan(BASE.replace('target = "Cs"', "")).resolve()
    assert err.value.field == "plan.target"
    closed = BASE.replace("values_eV = [0.5, 0.3]", "[[frequencies.below_thresholds]]\ncount = 1\n"
                          "step_eV = 1e-4\nm0_eV = [0.8]")
    with pytest.raises(InputError) as err:
        parse_plan(closed).resolve()
    assert err.value.field == "frequencies.below_thresholds[0].m0_eV"


def test_load_plan_missing_file(tmp_path):
    with pytest.raises(InputError) as err:
        load_plan(tmp_path / "nope.toml")
    assert err.value.field == "plan"


def test_shipped_plans_are_valid():
    files = sorted(PLANS.glob("*.toml"))
    assert len(files) >= 3
    for path in files:
        plan = load_plan(path)
        resolved = plan.resolve(plan.target or "Cs")
        assert resolved.omega_eV.size >= 1 and resolved.total_time_s > 0


@settings(deadline=None, max_examples=50)
@given(st.lists(st.floats(0.01, 1.3), min_size=1, max_size=20, unique=True),
       st.floats(1.0, 1e6))
def test_total_time_is_split_evenly_over_sorted_points(values, total):
    text = (f'[plan]\nname = "h"\ntarget = "Cs"\n[frequencies]\nvalues_eV = {values!r}\n'
            f"[exposure]\ntotal_time_s = {total!r}\n")
    values_sorted = np.sort(values)
    if np.any(np.diff(values_sorted) <= 1e-12 * CS_EPS):
        # Two values closer than the merge tolerance are the same laser frequency.
        with pytest.raises(InputError) as err:
            parse_plan(text).resolve()
        assert err.value.field == "frequencies.values_eV"
        return
    plan = parse_plan(text).resolve()
    assert np.all(np.diff(plan.omega_eV) > 0)
    assert plan.omega_eV.size == len(values)
    assert plan.total_time_s == pytest.approx(total, rel=1e-12)


def test_counts_files_match_plan_points():
    plan = ResolvedPlan([0.3, 0.5], [10.0, 10.0], 1.0, 0.0)
    data = parse_counts("# measured\nomega_eV,counts,time_s\n0.5,12,3\n0.3,7,4\n")
    matched, counts = match_counts(plan, data)
    np.testing.assert_array_equal(counts, [7.0, 12.0])
    np.testing.assert_array_equal(matched.time_s, [4.0, 3.0])
    toml = parse_counts("omega_eV = [0.3, 0.5]\ncounts = [1, 2]\n", "toml")
    np.testing.assert_array_equal(match_counts(plan, toml)[1], [1.0, 2.0])
    cases = [("omega_eV,counts\n0.3,1.5\n0.5,2\n", "counts.counts[0]"),
             ("omega_eV,counts\n0.3,1\n", "counts.omega_eV"),
             ("omega_eV,counts\n0.3,1\n0.4,2\n", "counts.omega_eV[1]"),
             ("omega_eV,count\n0.3,1\n", "counts.count"),
             ("omega_eV,counts\n0.3,1\n0.5\n", "counts.row[1]")]
    for text, field in cases:
        with pytest.raises(InputError) as err:
            match_counts(plan, parse_counts(text))
        assert err.value.field == field
