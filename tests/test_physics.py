"""The per-point physics object: validation, defaults, pickling and cube attributes."""

import inspect
import pickle
from dataclasses import fields, replace

import numpy as np
import pytest

from renp_scan import spectrum
from renp_scan.errors import InputError
from renp_scan.model.oscillations import load_oscillation_data
from renp_scan.model.physics import Physics
from renp_scan.model.spectrum import rate_line
from renp_scan.model.targets import get_target


def test_defaults_are_spectrums_keyword_defaults():
    """One description: every Physics field is a keyword of spectrum() with the same default."""
    params = inspect.signature(spectrum).parameters
    for f in fields(Physics):
        assert f.name in params, f.name
        assert params[f.name].default == f.default, f.name


def test_normalises_and_resolves_the_package_oscillation_table():
    p = Physics(majorana="dirac", majorana_phases_rad=[1, 2], density_cm3=7, eta=1)
    assert p.majorana is False
    assert p.majorana_phases_rad == (1.0, 2.0)
    assert isinstance(p.density_cm3, float) and p.density_cm3 == 7.0
    assert p.oscillation_data is load_oscillation_data()
    assert Physics(majorana="majorana").majorana is True


@pytest.mark.parametrize("field,value", [
    ("hierarchy", "nh"), ("hierarchy", "NO"), ("majorana", "Dirac"), ("channel", "electrons"),
    ("coulomb_model", "hartree"), ("coulomb_model", ["valence"]),
    ("majorana_phases_rad", (0.0,)), ("majorana_phases_rad", (0.0, float("nan"))),
    ("density_cm3", -1.0), ("density_cm3", True), ("volume_cm3", "a litre"), ("eta", 2.0),
    ("eta", 0.0), ("level_ratio", "eq23"), ("oscillation_data", {"sin2_theta_W": 0.23}),
])
def test_each_bad_field_is_named(field, value):
    with pytest.raises(InputError) as err:
        Physics(**{field: value})
    assert err.value.field == field


def test_rate_scale_overflow_names_the_density():
    with pytest.raises(InputError) as err:
        Physics(density_cm3=1e300)
    assert err.value.field == "density_cm3"
    assert "overflows float64" in err.value.message


def test_from_table_prefixes_the_field():
    with pytest.raises(InputError) as err:
        Physics.from_table({"eta": 5.0}, "physics.")
    assert err.value.field == "physics.eta"
    assert Physics.from_table({"eta": 0.5}, "physics.").eta == 0.5


def test_replace_revalidates():
    with pytest.raises(InputError) as err:
        replace(Physics(), channel="photon")
    assert err.value.field == "channel"


def test_level_ratio_is_checked_against_the_target():
    p = Physics(level_ratio="eq23-printed")
    assert p.level_ratio_for(get_target("Xe")) == "eq23-printed"
    assert Physics().level_ratio_for(get_target("Xe")) == get_target("Xe").level_ratio
    with pytest.raises(InputError) as err:
        p.level_ratio_for(get_target("Cs"))
    assert err.value.field == "level_ratio"


def test_pickles_with_its_target_and_compares_equal():
    p = Physics(hierarchy="IH", majorana=False, channel="core", majorana_phases_rad=(0.3, 1.1),
                coulomb_model="valence", level_ratio="eq19")
    back = pickle.loads(pickle.dumps(p))
    assert back == p and hash(back) == hash(p)
    target = get_target("Xe")
    target_back = pickle.loads(pickle.dumps(target))
    assert target_back == target and dict(target_back.info) == dict(target.info)
    with pytest.raises(TypeError):
        target_back.info["new"] = 1  # still read-only after the round trip


@pytest.mark.parametrize("atom,settings", [
    ("Cs", dict(hierarchy="IH", majorana="dirac", channel="core")),
    ("Xe", dict(channel="core", majorana_phases_rad=(0.5, 2.0), coulomb_model="valence",
                level_ratio="eq23-printed", density_cm3=3e20, volume_cm3=2.0, eta=0.25)),
])
def test_rate_line_is_spectrum(atom, settings):
    """The internal entry point gives the public call's values bit for bit."""
    target = get_target(atom)
    omega = np.linspace(0.05, 0.95, 257) * 0.5 * target.eps_eg_eV
    direct = spectrum(atom, omega, 0.02, **settings)
    via = rate_line(target, omega, 0.02, Physics(**settings))
    assert np.array_equal(direct, via) and direct.max() > 0.0


def test_attributes_are_the_scan_wide_settings():
    """NuFIT 6.0 normal-ordering sin^2 theta_12 = 0.307 (arXiv:2410.05380) lands in the attrs."""
    attrs = Physics(density_cm3=7e19, volume_cm3=50.0, eta=1e-5, channel="core").attributes()
    assert (attrs["density_cm3"], attrs["volume_cm3"], attrs["eta"]) == (7e19, 50.0, 1e-5)
    assert attrs["oscillation_normal_sin2_theta12"] == 0.307
    assert attrs["oscillation_sin2_theta_W"] == 0.239
    assert not {"hierarchy", "majorana", "channel", "coulomb_model"} & set(attrs)
    assert Physics(level_ratio="eq23-printed").target_attributes(get_target("Xe")) == {
        "level_ratio": "eq23-printed"}
