"""Cube layer: layout geometry, writer/reader round trips, format errors, lock file.

Data here are synthetic (random numbers), so these tests check the storage and not
the physics; the engine tests check cube values against renp_scan.spectrum.
"""

from __future__ import annotations

import os
import pickle
import socket
import subprocess
import sys
import zlib

import h5py
import numpy as np
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st

from renp_scan.cube import filters
from renp_scan.cube.layout import (
    DIMS,
    FORMAT_VERSION,
    ChunkCodec,
    EncodedChunk,
    TargetLayout,
    compression_options,
)
from renp_scan.cube.lock import LockFile
from renp_scan.cube.reader import check_cube, describe_cube, open_cube
from renp_scan.cube.resume import open_partial
from renp_scan.cube.writer import create_partial
from renp_scan.errors import InputError

SHA = "0" * 64


def make_layout(name="Cs", n_m0=5, n_omega=7, rows=2, cols=3, n_phase=2, n_model=2):
    return TargetLayout(
        name=name, hierarchies=("NH", "IH"), natures=("majorana", "dirac"),
        channels=("nucleus",), coulomb_models=("thomas-fermi", "valence")[:n_model],
        phases_rad=np.array([[0.0, 0.0], [1.0, 2.0]])[:n_phase],
        m0_eV=np.linspace(0.0, 0.1, n_m0), omega_eV=np.linspace(0.1, 0.6, n_omega),
        chunk_rows=rows, chunk_cols=cols)


def fill_random(writer, rng, order=None):
    """Write random blocks into every target; return the full arrays written."""
    truth = {}
    for name, lay in writer.layouts.items():
        full = rng.random(lay.shape)
        truth[name] = full
        for index in (order if order is not None else range(lay.n_blocks)):
            writer.write_block(name, index, full[lay.block_selection(index)])
    return truth


def new_partial(path, layouts, **kw):
    return create_partial(path, layouts, target_attrs={lay.name: {"Z": 55} for lay in layouts},
                          root_attrs={"scan_sha256": SHA, "scan_text": "x = 1\n"}, **kw)


# ------------------------------------------------------------------ layout


@settings(deadline=None, max_examples=60)
@given(st.integers(1, 9), st.integers(1, 11), st.integers(1, 9), st.integers(1, 11))
def test_blocks_tile_the_cube_exactly_once(n_m0, n_omega, rows, cols):
    lay = make_layout(n_m0=n_m0, n_omega=n_omega, rows=min(rows, n_m0), cols=min(cols, n_omega))
    hits = np.zeros(lay.shape, dtype=int)
    for index in range(lay.n_blocks):
        sel = lay.block_selection(index)
        hits[sel] += 1
        # The block's offset is the corner of an HDF5 chunk: a multiple of the chunk shape.
        assert all(o % c == 0 for o, c in zip(lay.block_offset(index), lay.chunks, strict=True))
    assert np.all(hits == 1)


def test_layout_follows_dims():
    lay = make_layout(n_m0=5, n_omega=7, rows=2, cols=7)
    assert DIMS == ("hierarchy", "nature", "channel", "coulomb_model", "phase", "m0", "omega")
    assert lay.shape == (2, 2, 1, 2, 2, 5, 7)
    assert lay.chunks == (1, 1, 1, 1, 1, 2, 7)
    assert lay.block_grid == (2, 2, 1, 2, 2, 3, 1)
    # Block numbers run in C order: the last block of the first Coulomb model is
    # followed by the first block of the second.
    per_model = 2 * 3  # phase rows x m0 blocks
    assert lay.block_selection(per_model - 1) == (0, 0, 0, 0, 1, slice(4, 5), slice(0, 7))
    assert lay.block_selection(per_model) == (0, 0, 0, 1, 0, slice(0, 2), slice(0, 7))
    labels = lay.block_labels(per_model + 3 + 1)  # model 1, phase row 1, m0 rows 2..3
    assert (labels["coulomb_model"], labels["phase"]) == ("valence", 1)
    assert labels["phases_rad"] == (1.0, 2.0)
    assert np.array_equal(labels["m0_eV"], lay.m0_eV[2:4])
    assert lay.block_offset(per_model + 3 + 1) == (0, 0, 0, 1, 1, 2, 0)


def test_block_index_out_of_range():
    lay = make_layout()
    with pytest.raises(IndexError):
        lay.block_selection(lay.n_blocks)


def test_unknown_compression_is_input_error():
    with pytest.raises(InputError) as err:
        compression_options("bzip2", None, True)
    assert err.value.field == "output.compression"


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("shuffle,level", [(True, 4), (False, 1), (True, None), (False, None)])
def test_chunk_codec_matches_hdf5_filters_byte_for_byte(tmp_path, dtype, shuffle, level):
    # Independent method: let HDF5 compress a chunk itself, compare the stored bytes.
    rng = np.random.default_rng(1)
    block = rng.random((3, 5)).astype(dtype)  # an edge chunk: smaller than (4, 6)
    with h5py.File(tmp_path / "f.h5", "w") as f:
        opts = {"shuffle": shuffle} if level is None and shuffle else {}
        if level is not None:
            opts = {"compression": "gzip", "compression_opts": level, "shuffle": shuffle}
        d = f.create_dataset("d", shape=(7, 11), chunks=(4, 6), dtype=dtype, fillvalue=np.nan,
                             **opts)
        d[4:, 6:] = block  # the corner chunk, cut to 3 x 5 by the dataset's edge
        mask, native = d.id.read_direct_chunk((4, 6))
    assert mask == 0
    ours = ChunkCodec(shuffle=shuffle, deflate_level=level).encode(block, 4, 6, dtype)
    assert bytes(ours) == native


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("shuffle,level", [(True, 4), (False, 1), (True, None), (False, None)])
def test_full_chunk_codec_matches_hdf5_and_carries_its_crc(tmp_path, dtype, shuffle, level):
    # A block of the full chunk size takes the encoder's path without padding.
    block = np.random.default_rng(2).random((4, 6)).astype(dtype)
    with h5py.File(tmp_path / "f.h5", "w") as f:
        opts = {"shuffle": shuffle} if level is None and shuffle else {}
        if level is not None:
            opts = {"compression": "gzip", "compression_opts": level, "shuffle": shuffle}
        d = f.create_dataset("d", shape=(8, 6), chunks=(4, 6), dtype=dtype, **opts)
        d[4:, :] = block
        mask, native = d.id.read_direct_chunk((4, 0))
    ours = ChunkCodec(shuffle=shuffle, deflate_level=level).encode(block, 4, 6, dtype)
    assert mask == 0 and bytes(ours) == native
    assert isinstance(ours, EncodedChunk) and ours.nbytes == len(native)
    # zlib's CRC-32 of the 4 mask bytes then the stored bytes, computed independently
    assert ours.crc32 == zlib.crc32(b"\0\0\0\0" + native)
    again = pickle.loads(pickle.dumps(ours))
    assert bytes(again) == native and again.crc32 == ours.crc32
    assert isinstance(again, EncodedChunk)


def test_encoded_chunk_holds_the_block_without_a_copy_and_refuses_strided_data():
    """No filter, full chunk: the stored bytes are the block's own memory (the writer
    hands them to HDF5 as they are). A strided view has no such bytes: refused, since
    write_direct_chunk would read past it."""
    block = np.random.default_rng(3).random((4, 6))
    chunk = ChunkCodec(shuffle=False, deflate_level=None).encode(block, 4, 6, np.float64)
    assert np.shares_memory(np.frombuffer(chunk.data, dtype=np.float64), block)
    assert bytes(chunk) == block.tobytes()
    with pytest.raises(TypeError):
        EncodedChunk(block[:, ::2])


def test_carried_crc_is_recorded_and_a_wrong_one_is_caught_at_finish(tmp_path):
    lay = make_layout()
    full = np.random.default_rng(5).random(lay.shape)
    part = tmp_path / "c.h5.partial"
    with new_partial(part, [lay], compression_level=4) as writer:
        codec = writer.codec("Cs")
        chunks = [codec.encode(full[lay.block_selection(i)], lay.chunk_rows, lay.chunk_cols,
                               np.float64) for i in range(lay.n_blocks)]
        for i, chunk in enumerate(chunks):
            if i == 1:  # bytes that do not match the CRC they carry
                chunk = EncodedChunk(chunk.data, crc32=chunk.crc32 ^ 1)
            writer.write_block("Cs", i, chunk)
        with pytest.raises(InputError, match="Cs block 1 fails its CRC-32"):
            writer.finalize(tmp_path / "c.h5")
    assert not (tmp_path / "c.h5").exists()
    with h5py.File(part, "r") as f:
        recorded = f["_progress/Cs/crc32"][...]
    assert recorded[0] == chunks[0].crc32 and recorded[1] == chunks[1].crc32 ^ 1


# ------------------------------------------------------------------ writer / reader


@pytest.mark.parametrize("compression", ["gzip", "lzf", "none", "zstd"])
def test_round_trip_through_xarray(tmp_path, compression):
    if compression == "zstd":
        pytest.importorskip("hdf5plugin")
    rng = np.random.default_rng(7)
    part, out = tmp_path / "c.h5.partial", tmp_path / "c.h5"
    layouts = [make_layout("Cs"), make_layout("Xe", n_m0=3, n_omega=4, rows=3, cols=4, n_phase=1)]
    with new_partial(part, layouts, compression=compression) as writer:
        truth = fill_random(writer, rng, order=None)
        writer.finalize(out)
    assert not part.exists() and out.exists()
    assert check_cube(out) == ["Cs", "Xe"]
    for name, lay in zip(["Cs", "Xe"], layouts, strict=True):
        with xr.open_dataset(out, engine="h5netcdf", group=name) as ds:
            assert ds["rate"].dims == DIMS
            assert np.array_equal(ds["rate"].values, truth[name])
            assert list(ds["hierarchy"].values) == ["NH", "IH"]
            assert list(ds["coulomb_model"].values) == ["thomas-fermi", "valence"]
            axis = DIMS.index("coulomb_model")
            for i, model in enumerate(["thomas-fermi", "valence"]):
                assert np.array_equal(ds["rate"].sel(coulomb_model=model).values,
                                      np.take(truth[name], i, axis=axis))
            assert np.array_equal(ds["m0"].values, lay.m0_eV)
            assert np.array_equal(ds["omega"].values, lay.omega_eV)
            assert np.array_equal(ds["alpha31_rad"].values, lay.phases_rad[:, 1])
            assert "alpha21_rad" in ds.coords  # auxiliary coordinate, not a data variable
            for var in list(ds.variables):
                # CF: numbers carry units; string labels have none.
                assert bool(ds[var].attrs.get("units")) == (ds[var].dtype.kind in "iuf"), var
                assert ds[var].attrs.get("long_name"), var
            assert ds["rate"].attrs["units"] == "Hz"
            assert ds.attrs["Z"] == 55
    with open_cube(out, "Xe") as ds:
        assert ds["rate"].shape == layouts[1].shape


def test_readable_by_the_netcdf_c_library(tmp_path):
    netCDF4 = pytest.importorskip("netCDF4")  # optional: the reference netCDF-4 reader
    rng = np.random.default_rng(2)
    with new_partial(tmp_path / "c.partial", [make_layout()]) as writer:
        truth = fill_random(writer, rng)["Cs"]
        writer.finalize(tmp_path / "c.h5")
    with netCDF4.Dataset(tmp_path / "c.h5") as ds:
        rate = ds["Cs"]["rate"]
        assert rate.dimensions == DIMS
        assert rate.units == "Hz"
        assert np.array_equal(rate[...], truth)
        assert list(ds["Cs"]["nature"][:]) == ["majorana", "dirac"]
        assert list(ds["Cs"]["coulomb_model"][:]) == ["thomas-fermi", "valence"]
        assert "units" not in ds["Cs"]["coulomb_model"].ncattrs()  # CF: no units on labels
        assert "DIMENSION_LABELS" not in rate.ncattrs()
        assert "Coulomb" in ds["Cs"]["coulomb_model"].long_name


def test_float32_storage(tmp_path):
    rng = np.random.default_rng(3)
    part = tmp_path / "c.h5.partial"
    with new_partial(part, [make_layout()], dtype="float32") as writer:
        codec = writer.codec("Cs")
        lay = writer.layouts["Cs"]
        full = rng.random(lay.shape).astype(np.float32)
        for i in range(lay.n_blocks):
            block = full[lay.block_selection(i)]
            writer.write_block("Cs", i, codec.encode(block, lay.chunk_rows, lay.chunk_cols,
                                                     np.float32))
        writer.finalize(tmp_path / "c.h5")
    with open_cube(tmp_path / "c.h5") as ds:
        assert ds["rate"].dtype == np.float32
        assert np.array_equal(ds["rate"].values, full)


def test_encoded_and_array_blocks_give_the_same_values(tmp_path):
    rng = np.random.default_rng(11)
    lay = make_layout()
    full = rng.random(lay.shape)
    results = []
    for encoded in (False, True):
        part = tmp_path / f"e{encoded}.h5.partial"
        with new_partial(part, [lay], compression_level=4) as writer:
            codec = writer.codec("Cs")
            assert codec == ChunkCodec(shuffle=True, deflate_level=4)
            for i in range(lay.n_blocks):
                block = full[lay.block_selection(i)]
                data = codec.encode(block, lay.chunk_rows, lay.chunk_cols, np.float64) \
                    if encoded else block
                writer.write_block("Cs", i, data)
            writer.finalize(tmp_path / f"e{encoded}.h5")
        with h5py.File(tmp_path / f"e{encoded}.h5") as f:
            results.append(f["Cs/rate"][...])
    assert np.array_equal(results[0], full)
    assert np.array_equal(results[1], full)


def stored_by_hdf5(path, shape, dtype, options, corner, far_corner):
    """(mask, bytes) HDF5 stores for ``corner`` at chunk (0, 0) and ``far_corner`` at the
    last chunk (offset (4, 6)) of a ``shape`` dataset of 4 x 6 chunks with ``options``."""
    with h5py.File(path, "w") as f:
        d = f.create_dataset("d", shape=shape, chunks=(4, 6), dtype=dtype, fillvalue=np.nan,
                             **options)
        d[:4, :6] = corner
        d[4:, 6:] = far_corner
        return [d.id.read_direct_chunk(offset) for offset in ((0, 0), (4, 6))]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("shuffle,level", [(True, 3), (False, 1), (True, 19)])
def test_zstd_codec_matches_the_hdf5_filter_byte_for_byte(tmp_path, dtype, shuffle, level):
    pytest.importorskip("hdf5plugin")
    rng = np.random.default_rng(4)
    full_block, edge_block = rng.random((4, 6)).astype(dtype), rng.random((3, 5)).astype(dtype)
    stored = stored_by_hdf5(tmp_path / "f.h5", (7, 11), dtype,
                            compression_options("zstd", level, shuffle), full_block, edge_block)
    with new_partial(tmp_path / "c.partial", [make_layout()], compression="zstd",
                     compression_level=level, shuffle=shuffle) as writer:
        codec = writer.codec("Cs")
    assert codec == ChunkCodec(shuffle=shuffle, deflate_level=None, zstd_level=level)
    for block, (mask, native) in zip((full_block, edge_block), stored, strict=True):
        ours = codec.encode(block, 4, 6, dtype)
        assert mask == 0 and bytes(ours) == native
        assert ours.crc32 == zlib.crc32(b"\0\0\0\0" + native)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("shuffle", [True, False])
def test_lzf_codec_matches_the_hdf5_filter_byte_for_byte(tmp_path, dtype, shuffle):
    # Random values do not shrink under lzf without shuffle: the filter declines
    # and HDF5 stores the chunk raw with lzf's bit set in the mask; a smooth
    # block compresses.
    rng = np.random.default_rng(6)
    smooth = np.outer(np.arange(1, 5), np.linspace(0, 1, 6)).astype(dtype)
    noisy = rng.random((4, 6)).astype(dtype)
    stored = stored_by_hdf5(tmp_path / "f.h5", (8, 12), dtype,
                            compression_options("lzf", None, shuffle), smooth, noisy)
    with new_partial(tmp_path / "c.partial", [make_layout()], compression="lzf",
                     shuffle=shuffle) as writer:
        codec = writer.codec("Cs")
    assert codec == ChunkCodec(shuffle=shuffle, deflate_level=None, lzf=True)
    for block, (mask, native) in zip((smooth, noisy), stored, strict=True):
        ours = codec.encode(block, 4, 6, dtype)
        if mask:  # declined by lzf: the values go to HDF5, which stores them as above
            assert ours is block
        else:
            assert bytes(ours) == native and ours.crc32 == zlib.crc32(b"\0\0\0\0" + native)
    assert stored[0][0] == 0 and (shuffle or stored[1][0] == 1)  # both paths taken


def test_a_chunk_lzf_declines_is_stored_as_hdf5_stores_it(tmp_path):
    lay = make_layout()
    full = np.random.default_rng(8).random(lay.shape)  # no shuffle: lzf cannot shrink it
    part = tmp_path / "c.h5.partial"
    with new_partial(part, [lay], compression="lzf", shuffle=False) as writer:
        codec = writer.codec("Cs")
        for i in range(lay.n_blocks):
            block = full[lay.block_selection(i)]
            writer.write_block("Cs", i, codec.encode(block, lay.chunk_rows, lay.chunk_cols,
                                                     np.float64))
        writer.finalize(tmp_path / "c.h5")
    with h5py.File(tmp_path / "c.h5") as f:
        assert np.array_equal(f["Cs/rate"][...], full)
        masks = {f["Cs/rate"].id.read_direct_chunk(lay.block_offset(i))[0]
                 for i in range(lay.n_blocks)}
    assert 1 in masks


def test_lzf_without_its_library_has_no_codec(tmp_path, monkeypatch):
    monkeypatch.setattr(filters, "lzf_available", lambda: False)
    with new_partial(tmp_path / "c.partial", [make_layout()], compression="lzf") as writer:
        assert writer.codec("Cs") is None


def test_unwritten_entries_are_nan_and_partial_is_refused(tmp_path):
    part = tmp_path / "c.h5.partial"
    lay = make_layout()
    with new_partial(part, [lay]) as writer:
        writer.write_block("Cs", 0, np.ones((2, 3)))
        assert writer.n_done() == 1 and writer.n_blocks() == lay.n_blocks
        with pytest.raises(RuntimeError, match="not done"):
            writer.finalize(tmp_path / "c.h5")
    assert not (tmp_path / "c.h5").exists()
    with h5py.File(part) as f:
        rate = f["Cs/rate"][...]
    # Block 0: the first label of every dim, m0 rows 0..1, omega columns 0..2.
    assert np.all(rate[0, 0, 0, 0, 0, :2, :3] == 1.0)
    assert np.isnan(rate).sum() == rate.size - 6
    with pytest.raises(InputError, match="unfinished partial") as err:
        open_cube(part)
    assert err.value.field == "cube"
    info = describe_cube(part)
    assert info["complete"] is False
    assert (info["blocks_done"], info["blocks_total"]) == (1, lay.n_blocks)


def test_resume_keeps_done_blocks_and_refuses_other_scans(tmp_path):
    rng = np.random.default_rng(5)
    part = tmp_path / "c.h5.partial"
    lay = make_layout()
    full = rng.random(lay.shape)
    with new_partial(part, [lay]) as writer:
        for i in range(0, lay.n_blocks, 2):
            writer.write_block("Cs", i, full[lay.block_selection(i)])
    with pytest.raises(InputError, match="different scan") as err:
        open_partial(part, scan_sha256="1" * 64)
    assert err.value.field == "output"
    with open_partial(part, scan_sha256=SHA) as writer:
        done = writer.done_mask("Cs")
        assert np.array_equal(np.flatnonzero(done), np.arange(0, lay.n_blocks, 2))
        assert writer.layouts["Cs"].chunks == lay.chunks
        for i in np.flatnonzero(~done):
            writer.write_block("Cs", int(i), full[lay.block_selection(int(i))])
        writer.finalize(tmp_path / "c.h5")
    with h5py.File(tmp_path / "c.h5") as f:
        assert np.array_equal(f["Cs/rate"][...], full)
        assert f.attrs["run_sessions"] == 2


def test_done_flag_without_stored_chunk_is_cleared_on_resume(tmp_path):
    # A done flag whose chunk never reached the file (cannot happen with the write
    # order, but a resume must not trust it) is recomputed.
    part = tmp_path / "c.h5.partial"
    lay = make_layout()
    with new_partial(part, [lay]) as writer:
        writer.write_block("Cs", 0, np.ones((2, 3)))
    with h5py.File(part, "r+") as f:
        f["_progress/Cs/done"][3] = 1
    with open_partial(part, scan_sha256=SHA) as writer:
        assert np.array_equal(np.flatnonzero(writer.done_mask("Cs")), [0])


def test_foreign_and_damaged_files_are_input_errors(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("hello\n")
    foreign = tmp_path / "foreign.h5"
    with h5py.File(foreign, "w") as f:
        f["x"] = np.arange(3)
    old = tmp_path / "old.h5"
    with new_partial(tmp_path / "old.partial", [make_layout()]) as writer:
        fill_random(writer, np.random.default_rng(0))
        writer.finalize(old)
    with h5py.File(old, "r+") as f:
        f.attrs["format_version"] = FORMAT_VERSION + 1
    cases = {
        tmp_path / "missing.h5": "no such file",
        text: "not an HDF5 file",
        foreign: "not a renp_scan cube",
        old: f"format version {FORMAT_VERSION + 1}; .* upgrade renp_scan",
        tmp_path: "directory",
    }
    for path, message in cases.items():
        with pytest.raises(InputError, match=message) as err:
            open_cube(path)
        assert err.value.field == "cube"
    with pytest.raises(InputError, match="not a renp_scan cube"):
        open_partial(foreign, scan_sha256=SHA)
    with pytest.raises(InputError, match="cannot reopen"):
        open_partial(text, scan_sha256=SHA)


def write_version_1_cube(path):
    """A finished cube as renp_scan wrote it before coulomb_model (format version 1)."""
    with h5py.File(path, "w") as f:
        f.attrs.update(format="renp_scan.cube", format_version=np.int64(1),
                       complete=np.int8(1), scan_sha256=SHA, targets=["Cs"])
        g = f.create_group("Cs")
        g.create_dataset("rate", data=np.ones((1, 1, 1, 1, 2, 3)))  # six dims
        p = f.create_group("_progress/Cs")
        p.create_dataset("done", data=np.ones(1, dtype=np.uint8))


def test_version_1_cube_is_refused_with_one_line(tmp_path):
    old = tmp_path / "v1.h5"
    write_version_1_cube(old)
    assert FORMAT_VERSION == 3
    for read in (open_cube, check_cube, describe_cube):
        with pytest.raises(InputError) as err:
            read(old)
        assert err.value.field == "cube"
        message = err.value.message
        assert "format version 1" in message and "reads versions 2 and 3" in message, message
        assert "re-run the scan" in message and "\n" not in message
    # A version-1 partial is not resumed either.
    part = tmp_path / "v1.h5.partial"
    write_version_1_cube(part)
    with pytest.raises(InputError, match="format version 1; this renp_scan writes version 3"):
        open_partial(part, scan_sha256=SHA)


def test_open_cube_target_selection(tmp_path):
    layouts = [make_layout("Cs"), make_layout("Xe")]
    with new_partial(tmp_path / "c.partial", layouts) as writer:
        fill_random(writer, np.random.default_rng(0))
        writer.finalize(tmp_path / "c.h5")
    with pytest.raises(InputError, match="several targets") as err:
        open_cube(tmp_path / "c.h5")
    assert err.value.field == "atom"
    with pytest.raises(InputError, match="'Rb87' is not in the cube"):
        open_cube(tmp_path / "c.h5", "Rb87")


def test_provenance_attributes(tmp_path):
    with new_partial(tmp_path / "c.partial", [make_layout()]) as writer:
        fill_random(writer, np.random.default_rng(0))
        writer.finalize(tmp_path / "c.h5")
    attrs = describe_cube(tmp_path / "c.h5")["attrs"]
    assert attrs["format"] == "renp_scan.cube"
    assert attrs["format_version"] == FORMAT_VERSION
    assert attrs["complete"] == 1
    assert attrs["scan_sha256"] == SHA
    assert attrs["host"] == socket.gethostname()
    for key in ("package_version", "created_utc", "finished_utc", "python_version",
                "numba_version", "numpy_version", "hdf5_version"):
        assert attrs[key], key
    assert attrs["created_utc"].endswith("+00:00")


# ------------------------------------------------------------------ lock


def test_lock_is_exclusive_and_released(tmp_path):
    path = tmp_path / "c.h5.lock"
    with LockFile(path):
        pid, host = path.read_text().split()[:2]  # then start time and boot id
        assert int(pid) == os.getpid() and host == socket.gethostname()
        with pytest.raises(InputError, match=f"pid {os.getpid()}") as err:
            LockFile(path).acquire()
        assert err.value.field == "output"
    assert not path.exists()


def test_stale_lock_of_a_dead_process_is_taken_over(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    path = tmp_path / "c.h5.lock"
    path.write_text(f"{dead.stdout.strip()} {socket.gethostname()}\n")
    with LockFile(path):
        assert int(path.read_text().split()[0]) == os.getpid()


def test_lock_from_another_host_is_respected(tmp_path):
    path = tmp_path / "c.h5.lock"
    path.write_text("1 some-other-host\n")
    with pytest.raises(InputError, match="some-other-host"):
        LockFile(path).acquire()
    assert path.read_text() == "1 some-other-host\n"


@pytest.mark.parametrize("compression,shuffle", [("zstd", True), ("lzf", True), ("lzf", False),
                                                 ("gzip", True), ("none", True)])
def test_codec_into_lent_dirty_buffers_gives_the_same_bytes(tmp_path, compression, shuffle):
    """Encoding into reused memory (the local runner lends its buffers again) must not
    depend on what that memory held before: lent buffers full of 0xAB give the bytes
    of fresh ones."""
    if compression == "zstd":
        pytest.importorskip("hdf5plugin")
    level = {"zstd": 3, "gzip": 4}.get(compression)
    with new_partial(tmp_path / "c.partial", [make_layout()], compression=compression,
                     compression_level=level, shuffle=shuffle) as writer:
        codec = writer.codec("Cs")
    smooth = np.outer(np.arange(1, 5), np.linspace(0, 1, 6)) ** 3
    lent = []

    def dirty(nbytes):
        lent.append(np.full(nbytes, 0xAB, dtype=np.uint8))
        return lent[-1]

    fresh = codec.encode(smooth, 4, 6, np.float64)
    reused = codec.encode(smooth, 4, 6, np.float64, take=dirty)
    assert bytes(reused) == bytes(fresh) and reused.crc32 == fresh.crc32
    assert lent or compression in ("gzip", "none")  # shuffle/compressor used the lent memory
