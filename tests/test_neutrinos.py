"""Neutrino masses, PMNS first row and b_ij (eqs. 5, 6) against direct formulas."""

import cmath
import math
from pathlib import Path

import numpy as np
import pytest
import tomllib

import renp_scan
from renp_scan.errors import InputError
from renp_scan.model.neutrinos import coupling_matrix, pmns_first_row
from renp_scan.model.oscillations import load_oscillation_data

DATA = Path(renp_scan.__file__).parent / "data" / "oscillations.toml"


def raw_params():
    """The data file read with tomllib: an independent path to the numbers."""
    return tomllib.loads(DATA.read_text())


@pytest.mark.parametrize("m0", [0.0, 1e-3, 0.02, 0.05, 0.1, 0.3])
def test_mass_splittings_reproduced(m0):
    data = load_oscillation_data()
    no, io = data.ordering("NH"), data.ordering("IH")
    m1, m2, m3 = renp_scan.neutrino_masses(m0, "NH")
    assert m1 == m0
    assert m2**2 - m1**2 == pytest.approx(no.dm21_sq_eV2, rel=1e-9, abs=1e-15)
    assert m3**2 - m1**2 == pytest.approx(no.dm3l_sq_eV2, rel=1e-9, abs=1e-15)
    m1, m2, m3 = renp_scan.neutrino_masses(m0, "IH")
    assert m3 == m0
    assert m2**2 - m1**2 == pytest.approx(io.dm21_sq_eV2, rel=1e-9, abs=1e-15)
    assert m3**2 - m2**2 == pytest.approx(io.dm3l_sq_eV2, rel=1e-9, abs=1e-15)  # dm32 < 0 in IO
    assert min(m1, m2, m3) == m3


def test_masses_are_from_the_data_file():
    raw = raw_params()
    flat = {}

    def walk(d, prefix=""):
        for k, v in d.items():
            if isinstance(v, dict):
                walk(v, prefix + k + ".")
            else:
                flat[prefix + k] = v

    walk(raw)
    dm21 = [v for k, v in flat.items() if "dm21" in k]
    assert dm21, "data file must hold dm21"
    _, m2, _ = renp_scan.neutrino_masses(0.0, "NH")
    assert any(m2 == pytest.approx(math.sqrt(x), rel=1e-12) for x in dm21)


@pytest.mark.parametrize(
    "m0, hierarchy, field",
    [(-0.01, "NH", "m0_eV"), (float("nan"), "NH", "m0_eV"), (float("inf"), "IH", "m0_eV"),
     ("abc", "NH", "m0_eV"), (0.1, "XH", "hierarchy"), (0.1, None, "hierarchy")],
)
def test_bad_mass_input(m0, hierarchy, field):
    with pytest.raises(InputError) as exc:
        renp_scan.neutrino_masses(m0, hierarchy)
    assert exc.value.field == field


def test_pmns_row_unitarity_and_phases():
    mix = load_oscillation_data().ordering("NH")
    u = pmns_first_row(mix, (0.0, 0.0))
    assert np.sum(np.abs(u) ** 2) == pytest.approx(1.0, rel=1e-14)
    assert abs(u[0]) ** 2 == pytest.approx((1 - mix.sin2_theta12) * (1 - mix.sin2_theta13),
                                           rel=1e-14)
    assert abs(u[2]) ** 2 == pytest.approx(mix.sin2_theta13, rel=1e-14)
    u2 = pmns_first_row(mix, (math.pi, 0.5))
    assert cmath.phase(u2[1] / u[1]) == pytest.approx(math.pi / 2, abs=1e-14)
    assert cmath.phase(u2[2] / u[2]) == pytest.approx(0.25, abs=1e-14)


def test_b_matrix_eq6():
    mix = load_oscillation_data().ordering("NH")
    u = pmns_first_row(mix, (1.0, 2.0))
    b = coupling_matrix(u, 0.239)
    assert np.allclose(b, b.conj().T, rtol=0, atol=1e-16)  # Hermitian
    for i in range(3):
        for j in range(3):
            expected = u[i] * np.conj(u[j]) - (0.5 * 0.044 if i == j else 0.0)
            assert b[i, j] == pytest.approx(expected, abs=1e-15)
    # trace: sum |U_ei|^2 - 3/2 (1 - 4 s_W^2)
    assert np.trace(b).real == pytest.approx(1 - 1.5 * 0.044, rel=1e-13)
