"""The public API is frozen: adding or removing a name must be a deliberate change here."""

import inspect

import renp_scan

PUBLIC = {
    "InputError",
    "__version__",
    "available_targets",
    "coulomb_integrals",
    "get_target",
    "neutrino_masses",
    "open_cube",
    "phase_space",
    "spectrum",
    "tf_slope",
}


def test_all_is_frozen():
    assert set(renp_scan.__all__) == PUBLIC
    public_dir = {n for n in dir(renp_scan) if not n.startswith("_")} | {"__version__"}
    # subpackages (kernels, model, ...) are importable but not part of the flat API
    modules = {n for n in public_dir if inspect.ismodule(getattr(renp_scan, n))}
    assert public_dir - modules - {"annotations"} == PUBLIC


def test_signatures():
    sig = inspect.signature(renp_scan.spectrum)
    assert list(sig.parameters)[:5] == ["atom", "omega_eV", "m0_eV", "hierarchy", "majorana"]
    defaults = {k: v.default for k, v in sig.parameters.items()}
    assert defaults["channel"] == "nucleus"
    assert defaults["density_cm3"] == 1e21
    assert defaults["volume_cm3"] == 100.0
    assert defaults["eta"] == 1e-6
    assert defaults["out"] is None
    assert list(inspect.signature(renp_scan.phase_space).parameters) == [
        "omega_eV", "eps_eg_eV", "m_i_eV", "m_j_eV", "majorana"]
    assert list(inspect.signature(renp_scan.neutrino_masses).parameters)[:2] == ["m0_eV", "hierarchy"]


def test_values_and_types():
    assert isinstance(renp_scan.tf_slope(), float)
    ci = renp_scan.coulomb_integrals()
    assert isinstance(ci.J_N, float) and isinstance(ci.J_C, float)
    assert len(renp_scan.neutrino_masses(0.1, "NH")) == 3
    assert issubclass(renp_scan.InputError, ValueError)
    assert {"Cs", "Xe"} <= set(renp_scan.available_targets())
