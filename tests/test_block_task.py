"""A scan's block tasks: one Physics per block, the resolved Target, picklable as a whole."""

import pickle
from dataclasses import replace

import numpy as np
import pytest
from conftest import small_scan_text

from renp_scan import spectrum
from renp_scan.errors import InputError
from renp_scan.model.targets import get_target
from renp_scan.sweep.blocks import block_task, compute_block, fill_block
from renp_scan.sweep.scanfile import parse_scan


def test_every_block_of_a_scan_is_spectrum_with_its_labels():
    """Each block's Physics is the block's labels over the scan's [physics]; its rows are
    spectrum() called with those labels, bit for bit."""
    spec = parse_scan(small_scan_text(extra="[physics]\ndensity_cm3 = 3e20\neta = 1e-3\n"))
    layout = spec.layout("Cs")
    assert layout.n_blocks == 2 * 2 * 2 * 1 * 2  # one block per spectrum line
    seen = set()
    for index in range(layout.n_blocks):
        task = block_task(spec, layout, index)
        labels = layout.block_labels(index)
        p = task.physics
        assert (p.hierarchy, p.majorana, p.channel, p.coulomb_model) == (
            labels["hierarchy"], labels["nature"] == "majorana", labels["channel"],
            labels["coulomb_model"])
        assert p.majorana_phases_rad == tuple(labels["phases_rad"])
        assert (p.density_cm3, p.volume_cm3, p.eta) == (3e20, 100.0, 1e-3)
        block = fill_block(task, np.empty((len(task.m0_eV), len(task.omega_eV))))
        for row, m0 in enumerate(task.m0_eV):
            direct = spectrum("Cs", task.omega_eV, float(m0), hierarchy=labels["hierarchy"],
                              majorana=labels["nature"], channel=labels["channel"],
                              majorana_phases_rad=labels["phases_rad"], density_cm3=3e20,
                              eta=1e-3)
            assert np.array_equal(block[row], direct)
        seen.add(p)
    assert len(seen) == layout.n_blocks  # every block a different point


def test_a_pickled_task_computes_the_same_block(tmp_path):
    """What a dask worker receives: a user target (a file the worker may not read) and
    the oscillation data travel inside the task."""
    cs = get_target("Cs")
    targets = tmp_path / "t.toml"
    targets.write_text(
        "format_version = 1\n[targets.CsTest]\nscheme = \"alkali\"\nisotope = \"133Cs\"\n"
        f"Z = 55\nN = 78\ng_label = \"g\"\ng_eV = 0.0\ne_label = \"e\"\ne_eV = {cs.e_eV}\n"
        f"u_label = \"u\"\nu_eV = {cs.u_eV}\nA_ug_per_s = {2 * cs.A_ug_per_s}\n"
        "source = \"test\"\n[targets.CsTest.info]\nnote = \"doubled A_ug\"\n")
    text = small_scan_text().replace('targets = ["Cs"]',
                                     'targets = ["CsTest"]\ntargets_file = "t.toml"')
    spec = parse_scan(text, path=str(tmp_path / "scan.toml"))
    layout = spec.layout("CsTest", chunk_rows=2)
    task = block_task(spec, layout, 3)
    back = pickle.loads(pickle.dumps(task))
    assert back.atom == spec.atoms["CsTest"] and back.physics == task.physics
    assert back.target == "CsTest" and back.atom.info["note"] == "doubled A_ug"
    assert np.array_equal(compute_block(back), compute_block(task))
    # The user target's doubled A_ug doubles the rate (Gamma ~ d_ug^2 ~ A_ug, eq. 19).
    package = fill_block(replace(task, atom=cs),
                         np.empty((len(task.m0_eV), len(task.omega_eV))))
    np.testing.assert_allclose(compute_block(task), 2.0 * package, rtol=1e-14)


def test_layout_is_the_scans_axes():
    spec = parse_scan(small_scan_text())
    whole, chunked = spec.layout("Cs"), spec.layout("Cs", 2, 31)
    assert whole.shape == spec.shape("Cs") == chunked.shape
    assert (whole.chunk_rows, whole.chunk_cols) == (3, spec.omega_eV["Cs"].size)
    assert (chunked.chunk_rows, chunked.chunk_cols) == (2, 31)
    np.testing.assert_array_equal(whole.phases_rad, spec.majorana_phases_rad)
    with pytest.raises(InputError) as err:
        spec.layout("Xe")
    assert err.value.field == "target"
