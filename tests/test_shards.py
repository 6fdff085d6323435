"""Job-array shards: run --shard I/N, merge; bit for bit the cube of a single run.

The reference is a single ``renp-scan run`` of the same scan (itself checked
against direct ``renp_scan.spectrum`` calls in test_engine.py).
"""

from __future__ import annotations

from types import SimpleNamespace

import h5py
import numpy as np
import pytest
from conftest import small_scan_text
from reliability_support import assert_same_cube, cli, error_line, listing

from renp_scan.cli.main import main

#: Provenance: attributes that say when/where a file was made, not what it holds.
PROVENANCE = {"created_utc", "finished_utc", "host", "platform", "python_version",
              "numpy_version", "numba_version", "h5py_version", "hdf5_version",
              "package_version", "run_sessions"}
#: 16 spectrum lines x 1 block (the reference cost gives 3-row blocks) = 16 blocks.
SCAN = small_scan_text(extra="[engine]\nblock_target_seconds = 0.01\n")


def attrs_of(path):
    """Every attribute of the file, by object path (provenance left out)."""
    found = {}

    def visit(name, obj):
        for key, value in obj.attrs.items():
            if isinstance(value, h5py.Reference) or key in ("DIMENSION_LIST", "REFERENCE_LIST"):
                continue
            found[(name, key)] = value

    with h5py.File(path, "r") as f:
        for key, value in f.attrs.items():
            if key not in PROVENANCE:
                found[("/", key)] = value
        f.visititems(visit)
    return found


def assert_same_file_content(got, want):
    """Same rate data bit for bit, same chunks, same non-provenance attributes."""
    assert_same_cube(got, want)
    with h5py.File(got, "r") as a, h5py.File(want, "r") as b:
        for t in b.attrs["targets"]:
            assert a[t]["rate"].chunks == b[t]["rate"].chunks
            assert a[t]["rate"].compression == b[t]["rate"].compression
    ga, wa = attrs_of(got), attrs_of(want)
    assert sorted(ga) == sorted(wa)
    for key, value in wa.items():
        if isinstance(value, np.ndarray):
            assert np.array_equal(ga[key], value), key
        else:
            assert ga[key] == value, key


@pytest.fixture
def run(capsys, monkeypatch, tmp_path):
    """``renp-scan ARGS`` in this process (in tmp_path): returncode, stdout, stderr."""
    monkeypatch.chdir(tmp_path)

    def _run(*args):
        capsys.readouterr()
        code = main([str(a) for a in args])
        out, err = capsys.readouterr()
        return SimpleNamespace(returncode=code, stdout=out, stderr=err)

    return _run


@pytest.fixture(scope="module")
def single(tmp_path_factory):
    """Scan files and single-run cubes (gzip and lzf) of the shard tests."""
    where = tmp_path_factory.mktemp("single")
    cubes = {}
    for compression in ("gzip", "lzf"):
        scan = where / f"{compression}.toml"
        scan.write_text(SCAN.replace('compression = "gzip"', f'compression = "{compression}"'),
                        encoding="utf-8")
        proc = cli("run", scan, "-o", f"{compression}.h5", "--quiet", "--workers", "1",
                   cwd=where)
        assert proc.returncode == 0, proc.stderr
        cubes[compression] = (scan, where / f"{compression}.h5")
    return cubes


def run_shards(run, scan, out, count, order=None):
    for i in order or range(1, count + 1):
        proc = run("run", scan, "-o", out, "--shard", f"{i}/{count}", "--quiet",
                   "--workers", "1")
        assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("compression", ["gzip", "lzf"])
def test_shards_merge_to_the_single_run_cube(tmp_path, run, single, compression):
    scan, reference = single[compression]
    run_shards(run, scan, "cube.h5", 3, order=[2, 1])
    assert listing(tmp_path) == ["cube.h5.shard-1-of-3.h5", "cube.h5.shard-2-of-3.h5"]
    with h5py.File(tmp_path / "cube.h5.shard-2-of-3.h5", "r") as f:
        assert f.attrs["shard"] == "2/3"
        done = f["_progress/Cs/done"][...]
    assert done.tolist() == [1 if g % 3 == 1 else 0 for g in range(16)]  # blocks 1, 4, 7, ...
    proc = run("run", scan, "-o", "cube.h5", "--shard", "3/3", "--workers", "1")
    assert proc.returncode == 0, proc.stderr
    assert "merged 3 shards into cube.h5: 16 blocks" in proc.stdout
    assert listing(tmp_path) == ["cube.h5"]  # the shards are gone once merged
    assert_same_file_content(tmp_path / "cube.h5", reference)
    again = run("run", scan, "-o", "cube.h5", "--shard", "1/3")
    assert again.returncode == 0 and "already finished" in again.stdout


def test_merge_command_and_one_shard(tmp_path, run, single):
    scan, reference = single["gzip"]
    run_shards(run, scan, "cube.h5", 1)  # N = 1: the shard merges itself
    assert_same_file_content(tmp_path / "cube.h5", reference)
    proc = run("merge", "cube.h5")
    assert proc.returncode == 0 and "already a finished cube" in proc.stderr


def test_merge_refuses_missing_foreign_damaged_and_mixed(tmp_path, run, single, write_scan):
    scan, reference = single["gzip"]
    assert "no finished shards" in error_line(run("merge", "cube.h5"), "shard")
    run_shards(run, scan, "cube.h5", 3, order=[1, 3])
    line = error_line(run("merge", "cube.h5"), "shard")
    assert "1 of 3 shards are not finished (shard 2" in line
    # Shards made elsewhere (alone there, so not merged), then moved in as shard 2.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    other = write_scan(SCAN.replace("[0.0, 0.05, 0.1]", "[0.0, 0.05, 0.2]"), "other.toml")
    run_shards(run, other, elsewhere / "other.h5", 3, order=[2])
    run_shards(run, scan, elsewhere / "cube.h5", 3, order=[2])
    run_shards(run, scan, elsewhere / "cube.h5", 2, order=[1])
    shard2 = tmp_path / "cube.h5.shard-2-of-3.h5"
    (elsewhere / "other.h5.shard-2-of-3.h5").rename(shard2)
    line = error_line(run("merge", "cube.h5"), "shard")
    assert "cube.h5.shard-2-of-3.h5 is a shard of another scan" in line
    assert "--shard 2/3" in line
    # A shard with one stored chunk byte flipped.
    good = (elsewhere / "cube.h5.shard-2-of-3.h5").read_bytes()
    with h5py.File(elsewhere / "cube.h5.shard-2-of-3.h5", "r") as f:
        info = f["Cs/rate"].id.get_chunk_info_by_coord((0, 0, 0, 0, 1, 0, 0))  # block 1
    raw = bytearray(good)
    raw[info.byte_offset + info.size // 2] ^= 0x40
    shard2.write_bytes(bytes(raw))
    line = error_line(run("merge", "cube.h5"), "shard")
    assert "cube.h5.shard-2-of-3.h5 is damaged" in line and "CRC-32" in line
    assert not (tmp_path / "cube.h5").exists()
    # A truncated shard.
    shard2.write_bytes(good[: len(good) // 2])
    assert "is damaged" in error_line(run("merge", "cube.h5"), "shard")
    shard2.write_bytes(good)
    # Shards of two counts side by side.
    (elsewhere / "cube.h5.shard-1-of-2.h5").rename(tmp_path / "cube.h5.shard-1-of-2.h5")
    line = error_line(run("merge", "cube.h5"), "shard")
    assert "several counts N = 2, 3" in line
    (tmp_path / "cube.h5.shard-1-of-2.h5").unlink()
    # The merge resumes the partial the refused merges left and gives the same cube.
    proc = run("merge", "cube.h5")
    assert proc.returncode == 0, proc.stderr
    assert listing(tmp_path) == ["cube.h5", "elsewhere", "other.toml"]
    assert_same_file_content(tmp_path / "cube.h5", reference)


@pytest.mark.parametrize("text", ["0/3", "4/3", "a/b", "3", "1/0", "-1/2"])
def test_bad_shard_argument(tmp_path, run, single, text):
    scan, _ = single["gzip"]
    line = error_line(run("run", scan, "-o", "cube.h5", f"--shard={text}"), "shard")
    assert repr(text) in line
    assert listing(tmp_path) == []


def test_shard_resumes_after_kill_9_and_merge_after_kill_9(tmp_path, single):
    scan, reference = single["gzip"]
    killed = cli("run", scan, "-o", "cube.h5", "--shard", "1/2", "--workers", "1", "--quiet",
                 cwd=tmp_path, kill_at="after-block-3")
    assert killed.returncode == -9
    assert "cube.h5.shard-1-of-2.h5.partial" in listing(tmp_path)
    resumed = cli("run", scan, "-o", "cube.h5", "--shard", "1/2", "--workers", "1",
                  cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert "5 of 8 blocks computed" in resumed.stdout  # 3 came from the kept partial
    # The last shard computes its 8 blocks, then its merge is killed after copying 12
    # (the merge's writer counts its own blocks); `merge` resumes it.
    killed = cli("run", scan, "-o", "cube.h5", "--shard", "2/2", "--workers", "1", "--quiet",
                 cwd=tmp_path, kill_at="after-block-12")
    assert killed.returncode == -9
    assert "cube.h5.partial" in listing(tmp_path)
    merged = cli("merge", "cube.h5", cwd=tmp_path)
    assert merged.returncode == 0, merged.stderr
    assert ": 4 blocks" in merged.stdout  # 12 were kept in cube.h5.partial
    assert listing(tmp_path) == ["cube.h5"]
    assert_same_file_content(tmp_path / "cube.h5", reference)
