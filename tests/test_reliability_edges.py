"""Reliability at the edges: every failure path ends in one line, nothing is clobbered,
cubes can be verified, and the API is as strict as scan files.

Each path is driven for real where the machine allows: a TCP server that is not a dask
scheduler, a dask scheduler process killed mid-run, a read-only tmpfs mount, an
address-space limit set on a running process, planted symbolic links, a cube held open
by another writer, flipped bytes in a finished cube. A write failing with EROFS/EIO in
the middle of a run is simulated by the test hook ``RENP_SCAN_TEST_OSERROR_AT`` (a
mounted file system cannot be remounted read-only while a file is open for writing).
Each test records what it observed as a row of docs/reliability.md.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
from cluster_support import process_env, start_scheduler, start_workers, stop
from conftest import assert_input_error, fraction_grid, scan_text, small_scan_text
from reliability_support import (
    EXE,
    GOOD,
    USER_TARGETS_FORMAT,
    assert_clean_cube,
    assert_same_cube,
    blocks_done,
    case,
    cli,
    cli_reference,
    error_line,
    listing,
    one_error_line,
    record,
    small_workdir,
    start,
    wait_for_blocks,
)

import renp_scan
from renp_scan.errors import InputError, one_line

needs_cli = pytest.mark.skipif(EXE is None, reason="renp-scan entry point not installed")
N_BLOCKS = 16  # the small scan: 16 lines of 3 m0 x 30 omega, one block each


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    d = small_workdir(tmp_path_factory, "edges")
    (d / "good.toml").write_text(GOOD, encoding="utf-8")
    return d


@pytest.fixture(scope="module")
def reference(workdir):
    """An uninterrupted run of small.toml."""
    if EXE is None:
        pytest.skip("renp-scan entry point not installed")
    return cli_reference(workdir, "--workers", "1")


# ---------------------------------------------------------- --scheduler at a non-dask server


class FakeServer:
    """A TCP server on 127.0.0.1 that accepts and then never answers, or sends a banner."""

    def __init__(self, banner: bytes | None):
        self.banner = banner
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.conns.append(conn)
            if self.banner is not None:
                conn.sendall(self.banner)

    def close(self):
        self.stop.set()
        self.thread.join(timeout=5)
        for conn in self.conns:
            conn.close()
        self.sock.close()


SERVERS = {
    "silent": (None, "sent no dask handshake within 10 s"),
    "banner": (b"SSH-2.0-OpenSSH_9.6\r\n", "not a dask handshake"),
}
for _id, (_banner, _said) in SERVERS.items():
    case(f"scheduler-{_id}-server", "`renp-scan run --scheduler tcp://127.0.0.1:PORT` where a "
         "TCP server " + ("accepts and never answers" if _banner is None else
                          "sends an SSH banner") + " (closed after the test)",
         "one line naming `scheduler` within the 10 s connect timeout (handshake included), "
         "exit 2; no OUT.lock, no partial")


@needs_cli
@pytest.mark.parametrize("kind", list(SERVERS))
def test_scheduler_that_is_not_dask(workdir, kind):
    pytest.importorskip("distributed")
    banner, said = SERVERS[kind]
    work = workdir / f"server-{kind}"
    work.mkdir()
    shutil.copyfile(workdir / "good.toml", work / "good.toml")
    server = FakeServer(banner)
    try:
        began = time.monotonic()
        proc = cli("run", "good.toml", "-o", "x.h5", "--scheduler",
                   f"tcp://127.0.0.1:{server.port}", cwd=work, timeout=90)
        seconds = time.monotonic() - began
    finally:
        server.close()
    line = one_error_line(proc, 2, "scheduler")
    assert said in line, line
    assert listing(work) == ["good.toml"]
    record(f"scheduler-{kind}-server", f"exit 2 after {seconds:.0f} s (process start "
           f"included); `{re.sub(r':[0-9]+', ':PORT', line)}`; directory unchanged")


case("scheduler-killed", "a `dask scheduler` process (127.0.0.1) and one worker; `renp-scan "
     "run --scheduler`; the scheduler is SIGKILLed after >= 3 of 16 blocks; then the same "
     "command without --scheduler",
     "one line naming `scheduler` with the blocks kept, exit 1; the partial resumes to the "
     "reference cube bit for bit")


@needs_cli
def test_scheduler_killed_mid_run(workdir, reference):
    pytest.importorskip("distributed")
    work = workdir / "killed-scheduler"
    work.mkdir()
    shutil.copyfile(workdir / "small.toml", work / "small.toml")
    env = process_env()
    scheduler, address = start_scheduler(work, env)
    procs = [scheduler]
    try:
        procs.append(start_workers(address, work, process_env(RENP_SCAN_TEST_BLOCK_DELAY=0.7)))
        proc = start("run", "small.toml", "-o", "out.h5", "--quiet", "--scheduler", address,
                     cwd=work)
        wait_for_blocks(work / "out.h5.partial", 3, proc, limit=120)
        scheduler.send_signal(signal.SIGKILL)
        scheduler.wait(timeout=30)
        _, stderr = proc.communicate(timeout=120)
    finally:
        stop(procs)
    proc.stderr = stderr
    line = one_error_line(proc, 1, "scheduler")
    assert "blocks are kept in out.h5.partial" in line, line
    assert not (work / "out.h5.lock").exists() and not (work / "out.h5").exists()
    kept = blocks_done(work / "out.h5.partial")
    assert kept >= 3
    rerun = cli("run", "small.toml", "-o", "out.h5", "--quiet", "--workers", "1", cwd=work)
    assert rerun.returncode == 0, rerun.stderr
    assert_same_cube(work / "out.h5", reference)
    record("scheduler-killed", f"exit 1; `{re.sub(r':[0-9]+', ':PORT', line)}`; rerun: exit "
           f"0, {kept} blocks resumed, rate bit-identical")


# ------------------------------------------------------------------ storage: EROFS, EIO

FAULTS = {
    "erofs-after-block-3": ("after-block-3:EROFS", "Read-only file system", 3),
    "eio-in-write-5": ("after-chunk-5:EIO", "Input/output error", 4),
}
for _id, (_hook, _said, _kept) in FAULTS.items():
    case(f"storage-{_id}", f"the file system fails with {_said} (simulated: "
         f"`RENP_SCAN_TEST_OSERROR_AT={_hook}` raises OSError where the next write would), "
         "then the same command again",
         "one line naming `output` with the blocks kept, exit 1; rerun resumes to the "
         "reference cube bit for bit")


@needs_cli
@pytest.mark.parametrize("fault", list(FAULTS))
def test_storage_failure_mid_run(workdir, reference, fault):
    hook, said, kept = FAULTS[fault]
    out = workdir / f"{fault}.h5"
    proc = cli("run", "small.toml", "-o", out.name, "--quiet", "--workers", "1", cwd=workdir,
               env={"RENP_SCAN_TEST_OSERROR_AT": hook})
    line = one_error_line(proc, 1, "output")
    assert said in line and f"{kept} of {N_BLOCKS} blocks are kept" in line, line
    assert not out.exists() and not out.with_name(out.name + ".lock").exists()
    assert not out.with_name(out.name + ".reserve").exists()
    rerun = cli("run", "small.toml", "-o", out.name, "--quiet", "--workers", "1", cwd=workdir)
    assert rerun.returncode == 0, rerun.stderr
    assert_same_cube(out, reference)
    record(f"storage-{fault}", f"exit 1; `{line}`; rerun: exit 0, rate bit-identical")


case("storage-read-only-mount", "a partial (5 of 16 blocks) on a tmpfs that is then remounted "
     "read-only (`mount -o remount,ro`, as root); the same command; remount rw; again",
     "one line naming `output` saying the file system is read-only, exit 1, partial "
     "untouched; after remounting rw the rerun resumes to the reference cube")


@needs_cli
def test_read_only_mount(workdir, reference, tmp_path):
    mount = tmp_path / "ro"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        shutil.copyfile(workdir / "small.toml", mount / "small.toml")
        killed = cli("run", "small.toml", "-o", "out.h5", "--quiet", "--workers", "1",
                     cwd=mount, kill_at="after-block-5")
        assert killed.returncode == -9
        before = hashlib.sha256((mount / "out.h5.partial").read_bytes()).hexdigest()
        (mount / "out.h5.reserve").unlink(missing_ok=True)  # a kill -9 leaves it
        subprocess.run(["mount", "-o", "remount,ro", str(mount)], check=True)
        proc = cli("run", "small.toml", "-o", "out.h5", "--quiet", "--workers", "1",
                   cwd=mount)
        line = one_error_line(proc, 1, "output")
        assert "read-only" in line, line
        assert hashlib.sha256((mount / "out.h5.partial").read_bytes()).hexdigest() == before
        subprocess.run(["mount", "-o", "remount,rw", str(mount)], check=True)
        rerun = cli("run", "small.toml", "-o", "out.h5", "--quiet", "--workers", "1",
                    cwd=mount)
        assert rerun.returncode == 0, rerun.stderr
        assert_same_cube(mount / "out.h5", reference)
    finally:
        subprocess.run(["umount", str(mount)], check=True)
    record("storage-read-only-mount", f"exit 1; `{line}`; partial unchanged (sha256); after "
           "remount rw: exit 0, rate bit-identical")


# ------------------------------------------------------------------ memory

MEMORY_SCAN = scan_text("mem", m0={"values_eV": [0.0, 0.01, 0.02, 0.03, 0.04, 0.05]},
                        omega=fraction_grid(1_000_000, 0.1), output={"compression": "none"})

#: Size of one block of MEMORY_SCAN (one m0 row of 10^6 float64) [bytes].
MEMORY_BLOCK = 8 * 10**6

case("memory-address-space-limit", "a run of 6 blocks of 8 MB each, large allocations "
     "mapped fresh each time (MALLOC_MMAP_THRESHOLD_); after 2 blocks its address-space "
     "limit (RLIMIT_AS, as `ulimit -v`) is lowered to 128 MB below what it has mapped "
     "(prlimit on the running process), so its next large allocation fails; then the "
     "same command with no limit",
     "one line naming `memory` with the blocks kept, exit 1, no traceback; the rerun "
     "finishes a clean cube, resuming the kept blocks")


@needs_cli
@pytest.mark.skipif(not hasattr(resource, "prlimit"), reason="needs resource.prlimit (Linux)")
def test_address_space_limit(workdir):
    (workdir / "mem.toml").write_text(MEMORY_SCAN)
    partial = workdir / "mem.h5.partial"
    proc = start("run", "mem.toml", "-o", "mem.h5", "--quiet", "--workers", "1", cwd=workdir,
                 delay=0.5, env={"MALLOC_ARENA_MAX": "2", "MALLOC_MMAP_THRESHOLD_": "131072"})
    wait_for_blocks(partial, 2, proc, limit=240)
    status = Path(f"/proc/{proc.pid}/status").read_text()
    mapped = int(re.search(r"VmSize:\s+(\d+) kB", status).group(1)) * 1024
    limit = mapped - 16 * MEMORY_BLOCK
    resource.prlimit(proc.pid, resource.RLIMIT_AS, (limit, limit))
    _, stderr = proc.communicate(timeout=240)
    proc.stderr = stderr
    line = one_error_line(proc, 1, "memory")
    assert "blocks are kept in mem.h5.partial" in line, line
    kept = blocks_done(partial)
    assert kept >= 2
    rerun = cli("run", "mem.toml", "-o", "mem.h5", "--quiet", "--workers", "1", cwd=workdir,
                timeout=600)
    assert rerun.returncode == 0, rerun.stderr
    assert_clean_cube(workdir / "mem.h5")
    (workdir / "mem.h5").unlink()
    record("memory-address-space-limit", f"exit 1; `{line}`; rerun: exit 0, clean cube "
           f"({kept} blocks resumed)")


def test_memory_error_from_a_run_keeps_the_partial(tmp_path, monkeypatch):
    """A MemoryError in a block task (as numpy raises it) ends the run keeping its blocks."""
    from conftest import small_scan_text as text

    from renp_scan.sweep import engine, executors
    from renp_scan.sweep.scanfile import parse_scan

    real = executors.compute_block
    calls = []

    def failing(task, *lent):
        calls.append(task.index)
        if len(calls) > 5:
            raise MemoryError("Unable to allocate 2.82 EiB for an array")
        return real(task, *lent)

    monkeypatch.setattr(executors, "compute_block", failing)
    with pytest.raises(MemoryError) as err:
        engine.run_scan(parse_scan(text()), tmp_path / "m.h5", workers=1, progress=False,
                        handle_signals=False)
    assert "blocks are kept in" in str(err.value) and "2.82 EiB" in str(err.value)
    assert blocks_done(tmp_path / "m.h5.partial") >= 1


# ------------------------------------------------------------------ files beside the output

case("beside-reserve-symlink", "`OUT.reserve` planted as a symbolic link to a victim file, "
     "then `renp-scan run`", "the victim is untouched (same bytes); the link is removed "
     "(and replaced by the run's own file where it needs one); the cube is finished")
case("beside-reserve-directory", "`OUT.reserve` is a directory, then `renp-scan run`",
     "refused with one line naming `output`, exit 2; no OUT.lock, no partial left")
case("beside-partial-symlink", "`OUT.partial` planted as a dangling symbolic link to "
     "victim.h5, then `renp-scan run`", "refused with one line naming `output`, exit 2; "
     "victim.h5 not created; no OUT.lock left")


@needs_cli
def test_files_beside_the_output_never_follow_links(workdir):
    work = workdir / "beside"
    work.mkdir()
    shutil.copyfile(workdir / "good.toml", work / "good.toml")
    victim = work / "victim.txt"
    victim.write_text("precious\n" * 100)
    (work / "a.h5.reserve").symlink_to("victim.txt")
    proc = cli("run", "good.toml", "-o", "a.h5", "--quiet", cwd=work)
    assert proc.returncode == 0, proc.stderr
    assert victim.read_text() == "precious\n" * 100
    assert not os.path.lexists(work / "a.h5.reserve")
    assert_clean_cube(work / "a.h5")
    record("beside-reserve-symlink", "exit 0; victim unchanged (1000 bytes); link removed, "
           "cube clean")

    (work / "b.h5.reserve").mkdir()
    proc = cli("run", "good.toml", "-o", "b.h5", "--quiet", cwd=work)
    line = one_error_line(proc, 2, "output")
    assert not (work / "b.h5.lock").exists() and not (work / "b.h5.partial").exists()
    record("beside-reserve-directory", f"exit 2; `{line}`; no b.h5.lock, no partial")

    (work / "c.h5.partial").symlink_to("victim.h5")
    proc = cli("run", "good.toml", "-o", "c.h5", "--quiet", cwd=work)
    line = one_error_line(proc, 2, "output")
    assert "symbolic link" in line
    assert not (work / "victim.h5").exists() and not (work / "c.h5.lock").exists()
    record("beside-partial-symlink", f"exit 2; `{line}`; victim.h5 not created")


# ------------------------------------------------------------------ no command clobbers

PLAN = """\
[plan]
name = "p"
"""

CLOBBER = {
    "sensitivity-over-cube": (["sensitivity", "cube.h5", "--plan", "plan.toml", "-o",
                               "cube.h5", "--overwrite"], "output", "input"),
    "sensitivity-over-plan": (["sensitivity", "cube.h5", "--plan", "plan.toml", "-o", "out.h5",
                               "--plot", "plan.toml", "--overwrite"], "plot", "input"),
    "sensitivity-existing": (["sensitivity", "cube.h5", "--plan", "plan.toml", "-o",
                              "existing.h5"], "output", "--overwrite"),
    "fit-over-cube-link": (["fit", "cube.h5", "--plan", "plan.toml", "--asimov", "NH",
                            "majorana", "0.05", "-o", "cube-link.h5", "--overwrite"],
                           "output", "input"),
    "fit-existing": (["fit", "cube.h5", "--plan", "plan.toml", "--asimov", "NH", "majorana",
                      "0.05", "-o", "existing.h5"], "output", "--overwrite"),
    "plot-over-cube": (["plot", "cube.h5", "-o", "cube.h5", "--overwrite"], "output", "input"),
    "plot-existing": (["plot", "cube.h5", "-o", "existing.png"], "output", "--overwrite"),
}
for _id, (_args, _field, _said) in CLOBBER.items():
    case(f"clobber-{_id}", f"`renp-scan {' '.join(_args)}`"
         + (" (cube-link.h5 is a symbolic link to cube.h5)" if "link" in _id else ""),
         f"refused with one line naming `{_field}`, exit 2; every file unchanged")


@needs_cli
def test_no_command_overwrites_without_asking_or_its_input(workdir, reference):
    work = workdir / "clobber"
    work.mkdir()
    shutil.copyfile(reference, work / "cube.h5")
    (work / "cube-link.h5").symlink_to("cube.h5")
    (work / "plan.toml").write_text(PLAN)
    (work / "existing.h5").write_bytes(b"mine")
    (work / "existing.png").write_bytes(b"mine")

    def digest():
        return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
                for p in sorted(work.iterdir())}

    before = digest()
    for case_id, (args, field, said) in CLOBBER.items():
        proc = cli(*args, cwd=work)
        line = one_error_line(proc, 2, field)
        assert said in line, line
        assert digest() == before, case_id
        record(f"clobber-{case_id}", f"exit 2; `{line}`; files unchanged")


# ------------------------------------------------------------------ one line, whatever the text

QUOTING = {
    "newline-in-output": (["run", "good.toml", "-o", "no\nsuch/x.h5"], "output"),
    "newline-in-scan-path": (["validate", "bad\nrenp-scan: error: forged.toml"], "path"),
    "escape-in-scan-path": (["validate", "\x1b[31mred.toml"], "path"),
}
for _id, (_args, _field) in QUOTING.items():
    case(f"quote-{_id}", f"`renp-scan {' '.join(map(repr, _args))}`",
         f"exactly one stderr line naming `{_field}`, the control characters escaped, exit 2")


@needs_cli
def test_control_characters_in_user_text_stay_one_line(workdir):
    for case_id, (args, field) in QUOTING.items():
        proc = cli(*args, cwd=workdir)
        line = one_error_line(proc, 2, field)
        assert "\x1b" not in proc.stderr and "\x00" not in proc.stderr
        assert "\\n" in line or "\\x1b" in line, line
        record(f"quote-{case_id}", f"exit 2; `{line}`")


def test_one_line_escapes_every_control_character():
    text = "".join(chr(c) for c in range(0x00, 0xA0)) + "\u2028\u2029é"
    escaped = one_line(text)
    assert escaped.isprintable()
    assert "\\n" in escaped and "\\x00" in escaped and "\\x1b" in escaped
    assert escaped.endswith("é")


# ------------------------------------------------------------------ scan files and their strings

SCAN_EDGES = {
    "nul-in-description": (GOOD.replace('name = "good"\n', 'name = "good"\n'
                                        'description = "a\\u0000b"\n'), "run",
                           "scan.description", "control character"),
    "newline-in-targets-file": (GOOD.replace('targets = ["Cs"]\n', 'targets = ["Cs"]\n'
                                             'targets_file = "x\\nrenp-scan: error: y"\n'),
                                "validate", "scan.targets_file", "control character"),
    "density-1e300": (GOOD + "\n[physics]\ndensity_cm3 = 1e300\n", "run",
                      "physics.density_cm3", "overflows float64"),
    "volume-1.7e308": (GOOD + "\n[physics]\nvolume_cm3 = 1.7e308\n", "validate",
                       "physics.volume_cm3", "overflows float64"),
    "float32-overflow": (GOOD + '\n[physics]\ndensity_cm3 = 1e40\n[output]\ndtype = "float32"\n',
                         "run", "physics.density_cm3", "beyond what float32 holds"),
    "targets-e-1e300": (GOOD.replace('targets = ["Cs"]\n', 'targets = ["CsTest"]\n'
                                     'targets_file = "huge.toml"\n'), "run",
                        "scan.targets_file", "outside float64"),
    "targets-file-directory": (GOOD.replace('targets = ["Cs"]\n', 'targets = ["Cs"]\n'
                                            'targets_file = "adir"\n'), "validate",
                               "scan.targets_file", "is a directory"),
}
for _id, (_text, _cmd, _field, _said) in SCAN_EDGES.items():
    case(f"scan-{_id}", f"`renp-scan {_cmd}` on a scan file with {_id.replace('-', ' ')}",
         f"one line naming `{_field}`, exit 2, never inf or OverflowError; no file")

SCAN_FILES = {
    "dev-zero": ("/dev/zero", "not a regular file"),
    "fifo": ("fifo.toml", "not a regular file"),
    "bom": ("bom.toml", "byte-order mark"),
}
for _id, (_name, _said) in SCAN_FILES.items():
    case(f"scan-file-{_id}", f"`renp-scan validate {_name}`"
         + (" (a FIFO nobody writes to)" if _id == "fifo" else "")
         + (" (UTF-8 with a BOM)" if _id == "bom" else ""),
         "one line naming `path` at once (nothing read forever), exit 2")


@needs_cli
def test_edge_scan_files(workdir):
    work = workdir / "scans"
    work.mkdir()
    (work / "huge.toml").write_text(USER_TARGETS_FORMAT.format(e_eV="1e300", u_eV="2e300"))
    (work / "adir").mkdir()
    os.mkfifo(work / "fifo.toml")
    (work / "bom.toml").write_bytes(b"\xef\xbb\xbf" + GOOD.encode())
    for case_id, (text, command, field, said) in SCAN_EDGES.items():
        (work / "scan.toml").write_text(text, encoding="utf-8")
        before = listing(work)
        args = ["validate", "scan.toml"] if command == "validate" else \
            ["run", "scan.toml", "-o", "out.h5"]
        proc = cli(*args, cwd=work)
        line = error_line(proc, field)
        assert said in line, line
        assert "inf" not in line.replace("info", "")
        assert listing(work) == before
        record(f"scan-{case_id}", f"exit 2; `{line}`")
    for case_id, (name, said) in SCAN_FILES.items():
        proc = cli("validate", name, cwd=work, timeout=60)
        line = error_line(proc, "path")
        assert said in line, line
        record(f"scan-file-{case_id}", f"exit 2; `{line}`")


# ------------------------------------------------------------------ the API as strict as scan files

OMEGA = np.linspace(0.2, 0.6, 5)
API_EDGES = {
    "density-1e300": (lambda: renp_scan.spectrum("Cs", OMEGA, 0.1, density_cm3=1e300),
                      "density_cm3"),
    "volume-1e308": (lambda: renp_scan.spectrum("Cs", OMEGA, 0.1, volume_cm3=1e308),
                     "volume_cm3"),
    "hierarchy-nh": (lambda: renp_scan.spectrum("Cs", OMEGA, 0.1, hierarchy="nh"), "hierarchy"),
    "hierarchy-normal": (lambda: renp_scan.spectrum("Cs", OMEGA, 0.1, hierarchy="normal"),
                         "hierarchy"),
    "channel-Core": (lambda: renp_scan.spectrum("Cs", OMEGA, 0.1, channel="Core"), "channel"),
    "majorana-Dirac": (lambda: renp_scan.spectrum("Cs", OMEGA, 0.1, majorana="Dirac"),
                       "majorana"),
    "m0-bool": (lambda: renp_scan.spectrum("Cs", OMEGA, True), "m0_eV"),
    "m0-complex": (lambda: renp_scan.spectrum("Cs", OMEGA, 0.1 + 0j), "m0_eV"),
    "omega-complex": (lambda: renp_scan.spectrum("Cs", OMEGA + 0j, 0.1), "omega_eV"),
    "omega-bool": (lambda: renp_scan.spectrum("Cs", [True], 0.1), "omega_eV"),
    "density-bool": (lambda: renp_scan.spectrum("Cs", OMEGA, 0.1, density_cm3=True),
                     "density_cm3"),
}
for _id, (_call, _field) in API_EDGES.items():
    case(f"api-strict-{_id}", f"`renp_scan.spectrum` with {_id.replace('-', ' = ', 1)}",
         f"InputError naming `{_field}` (no warning-only acceptance, no inf, no "
         "OverflowError)")


@pytest.mark.parametrize("case_id", list(API_EDGES))
def test_api_is_as_strict_as_scan_files(case_id):
    call, field = API_EDGES[case_id]
    error = assert_input_error(field, call)
    record(f"api-strict-{case_id}", f"InputError `{error.field}: {error.message}`")


def test_exact_labels_still_work():
    base = renp_scan.spectrum("Cs", OMEGA, 0.1, hierarchy="NH", majorana=True,
                              channel="nucleus")
    named = renp_scan.spectrum("Cs", OMEGA, 0.1, hierarchy="NH", majorana="majorana",
                               channel="nucleus")
    assert np.array_equal(base, named)
    assert np.all(np.isfinite(renp_scan.spectrum("Cs", OMEGA, 0.1, density_cm3=1e90)))


# ------------------------------------------------------------------ verifying finished cubes

case("verify-intact", "`renp-scan verify` on a finished cube",
     "exit 0, one line saying every CRC-32 matches")
case("verify-flipped-byte", "one byte flipped inside a stored chunk of an uncompressed "
     "finished cube; `renp-scan verify`, `open_cube(verify=True)`, plain `open_cube`",
     "verify: one line naming the block, exit 1; open_cube(verify=True): InputError naming "
     "the block; plain open_cube trusts the file (documented)")
case("reader-external-link", "a cube whose `Cs/rate` is an HDF5 external link to another "
     "file", "open_cube (which plot, sensitivity and fit go through) and verify refuse it, "
     "naming `cube`")


@pytest.fixture(scope="module")
def raw_cube(workdir):
    if EXE is None:
        pytest.skip("renp-scan entry point not installed")
    (workdir / "raw.toml").write_text(small_scan_text(compression="none"))
    proc = cli("run", "raw.toml", "-o", "raw.h5", "--quiet", "--workers", "1", cwd=workdir)
    assert proc.returncode == 0, proc.stderr
    return workdir / "raw.h5"


@needs_cli
def test_verify_finds_a_flipped_byte(workdir, raw_cube):
    proc = cli("verify", raw_cube.name, cwd=workdir)
    assert proc.returncode == 0, proc.stderr
    assert "every CRC-32 matches" in proc.stdout and f"{N_BLOCKS} blocks" in proc.stdout
    record("verify-intact", f"exit 0; `{proc.stdout.strip()}`")

    flipped = workdir / "flipped.h5"
    shutil.copyfile(raw_cube, flipped)
    with h5py.File(flipped, "r") as f:
        rate = f["Cs/rate"]
        info = rate.id.get_chunk_info(5)
        block5 = tuple(int(x) for x in info.chunk_offset)
    with open(flipped, "r+b") as fh:
        fh.seek(info.byte_offset + 100)
        byte = fh.read(1)
        fh.seek(info.byte_offset + 100)
        fh.write(bytes([byte[0] ^ 0x10]))
    proc = cli("verify", flipped.name, cwd=workdir)
    line = one_error_line(proc, 1, "cube")
    assert "damaged" in line and "block" in line, line
    with pytest.raises(InputError) as err:
        renp_scan.open_cube(flipped, "Cs", verify=True)
    assert err.value.field == "cube" and "damaged" in err.value.message
    with renp_scan.open_cube(flipped, "Cs") as ds:
        plain = ds["rate"].values
    with h5py.File(raw_cube, "r") as f:
        good = f["Cs/rate"][...]
    differs = int(np.count_nonzero(plain != good))
    assert differs == 1  # the default read trusts HDF5: one silently different value
    record("verify-flipped-byte", f"chunk at {block5}: verify exit 1, `{line}`; "
           f"open_cube(verify=True): InputError; plain open_cube: {differs} value differs "
           "(not checked by default)")


@needs_cli
def test_external_link_is_refused(workdir, raw_cube):
    linked = workdir / "linked.h5"
    shutil.copyfile(raw_cube, linked)
    with h5py.File(linked, "r+") as f:
        del f["Cs/rate"]
        f["Cs/rate"] = h5py.ExternalLink(str(raw_cube), "/Cs/rate")
    with pytest.raises(InputError) as err:
        renp_scan.open_cube(linked, "Cs")
    assert err.value.field == "cube" and "ExternalLink" in err.value.message
    proc = cli("verify", linked.name, cwd=workdir)
    line = one_error_line(proc, 2, "cube")
    record("reader-external-link", f"open_cube: InputError `{err.value.message}`; verify: "
           f"exit 2, `{line}`")


case("reader-held-open", "a finished cube open for writing in another process (h5py, mode "
     "r+, which holds HDF5's file lock); open_cube, plot, info",
     "open_cube and plot say the file is open in another process and is not damaged; info "
     "reads it (exit 0)")


@needs_cli
def test_cube_held_open_by_a_writer_is_not_called_damaged(workdir, raw_cube):
    held = workdir / "held.h5"
    shutil.copyfile(raw_cube, held)
    holder = subprocess.Popen([sys.executable, "-c", "import h5py, sys\n"
                               f"f = h5py.File({str(held)!r}, 'r+')\n"
                               "print('open', flush=True)\nsys.stdin.read()"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "open"
        with pytest.raises(InputError) as err:
            renp_scan.open_cube(held, "Cs")
        plot = cli("plot", held.name, "-o", "held.png", cwd=workdir)
        info = cli("info", held.name, cwd=workdir)
    finally:
        holder.communicate("", timeout=30)
    assert "open for writing in another process" in err.value.message
    assert "damaged" not in err.value.message.replace("not damaged", "")
    line = one_error_line(plot, 2, "cube")
    assert "open for writing in another process" in line, line
    assert info.returncode == 0, info.stderr
    record("reader-held-open", f"open_cube: `{err.value.message}`; plot: exit 2, `{line}`; "
           "info: exit 0")


# ------------------------------------------------------------------ the mapping itself

case("internal-error-one-line", "a command that fails with an exception no layer expects "
     "(a ZeroDivisionError injected into `renp-scan targets`)",
     "one line `renp-scan: error: internal: ...` asking for a report, exit 1, no traceback")


def test_unexpected_exception_is_one_line(monkeypatch, capsys):
    import importlib

    cli_main = importlib.import_module("renp_scan.cli.main")

    def broken(args):
        return 1 / 0

    monkeypatch.setattr(cli_main, "_cmd_targets", broken)
    status = cli_main.main(["targets"])
    err = capsys.readouterr().err
    assert status == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err
    assert lines[0].startswith("renp-scan: error: internal: ZeroDivisionError"), lines[0]
    assert "please report it" in lines[0]
    record("internal-error-one-line", f"exit 1; `{lines[0]}`")


def test_failure_table_covers_every_environment_error():
    from renp_scan.cli.failures import classify
    from renp_scan.cube.space import OutOfSpace
    from renp_scan.errors import ClusterError, CubeDamaged

    table = {
        InputError("x", "bad"): 2,
        OSError(errno.EROFS, "Read-only file system"): 1,
        OSError(errno.EIO, "Input/output error"): 1,
        OSError(errno.EACCES, "Permission denied"): 2,  # a file the user named
        OutOfSpace(28, "full"): 1,
        ClusterError("lost"): 1,
        CubeDamaged("bad block"): 1,
        MemoryError(): 1,
        KeyboardInterrupt(): 130,
        RuntimeError("bug"): 1,
    }
    for exc, status in table.items():
        line, got = classify(exc)
        assert got == status, (exc, line)
        assert line is not None and "\n" not in line


case("output-finished-meanwhile", "while a run validates its scan (before it takes OUT.lock), "
     "another run finishes OUT (simulated in-process: the reference cube is copied to OUT "
     "during the validation)",
     "the run re-checks OUT once it holds the lock and refuses (one line naming `output`); "
     "OUT is not replaced; no OUT.lock left")


def test_output_finished_while_validating_is_not_replaced(tmp_path, reference, monkeypatch):
    from renp_scan.sweep import engine
    from renp_scan.sweep.scanfile import parse_scan

    out = tmp_path / "c.h5"
    real = engine.preflight

    def finished_meanwhile(spec):
        costs = real(spec)
        shutil.copyfile(reference, out)
        return costs

    monkeypatch.setattr(engine, "preflight", finished_meanwhile)
    before = hashlib.sha256(reference.read_bytes()).hexdigest()
    with pytest.raises(InputError) as err:
        engine.run_scan(parse_scan(small_scan_text()), out, workers=1, progress=False,
                        handle_signals=False)
    assert err.value.field == "output" and "finished cube" in err.value.message
    assert hashlib.sha256(out.read_bytes()).hexdigest() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.h5"]
    record("output-finished-meanwhile", f"InputError `{err.value.field}: "
           f"{err.value.message.replace(str(tmp_path) + '/', '')}`; OUT unchanged; no lock")


case("finished-cube-stale-lock", "`OUT` is this scan's finished cube and `OUT.lock` was left "
     "by a run on this host that is gone (killed between its rename and its lock release); "
     "beside another copy, an `OUT.lock` of another host",
     "the rerun reports nothing to do (exit 0) and removes the stale lock; the other host's "
     "lock is left as it is")


@needs_cli
def test_rerun_of_a_finished_cube_removes_its_stale_lock(workdir, reference):
    from renp_scan.cube.lock import owner_line

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    out = workdir / "finished-stale.h5"
    shutil.copyfile(reference, out)
    lock = out.with_name(out.name + ".lock")
    lock.write_text(owner_line(int(dead.stdout)))
    proc = cli("run", "small.toml", "-o", out.name, "--workers", "1", cwd=workdir)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().endswith("nothing to do"), proc.stdout
    assert not lock.exists()
    assert_same_cube(out, reference)

    foreign = workdir / "finished-foreign.h5"
    shutil.copyfile(reference, foreign)
    other = foreign.with_name(foreign.name + ".lock")
    other.write_text("4242 node17.cluster 123 x\n")
    again = cli("run", "small.toml", "-o", foreign.name, "--workers", "1", cwd=workdir)
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip().endswith("nothing to do"), again.stdout
    assert other.read_text() == "4242 node17.cluster 123 x\n"
    record("finished-cube-stale-lock", f"lock of dead pid {dead.stdout.strip()}: exit 0, "
           "nothing to do, lock removed; lock of host node17.cluster: exit 0, lock kept")


case("overwrite-discards-pieces", "a piece file of an earlier `--write-on-workers` run of the "
     "same scan beside the output (its block 0 holds twice the true rates), then "
     "`--write-on-workers --overwrite`",
     "the piece is discarded, never collected: every block is computed again, the cube equals "
     "an uninterrupted run bit for bit and no piece is left (without --overwrite the piece's "
     "blocks are taken, as a resume)")


def plant_piece(spec, out) -> Path:
    """Write a piece of ``spec`` beside ``out`` whose block 0 holds twice the true rates."""
    from renp_scan.cube.hdf5 import open_locked
    from renp_scan.cube.writer import CubeWriter, create_partial
    from renp_scan.sweep import pieces
    from renp_scan.sweep.blocks import block_task, compute_block
    from renp_scan.sweep.planning import plan_layouts
    from renp_scan.sweep.provenance import physics_provenance

    layouts = plan_layouts(spec)
    piece = out.with_name(out.name + ".piece-earlier-1-0.partial")
    create_partial(piece, layouts, target_attrs={},
                   root_attrs={"scan_sha256": spec.sha256,
                               pieces.PIECE_ATTR: pieces.physics_digest(physics_provenance(spec))},
                   dtype=spec.dtype, compression=spec.compression,
                   compression_level=spec.compression_level, shuffle=spec.shuffle).close()
    with open_locked(piece, "r+") as f:
        writer = CubeWriter(f, piece, {lay.name: lay for lay in layouts})
        writer.write_block(layouts[0].name, 0, 2 * compute_block(block_task(spec, layouts[0], 0)))
    return piece


def test_overwrite_discards_pieces_of_earlier_runs(tmp_path, reference):
    distributed = pytest.importorskip("distributed")
    from renp_scan.sweep.pieces import run_writing_on_workers
    from renp_scan.sweep.scanfile import parse_scan

    spec = parse_scan(small_scan_text())
    out = tmp_path / "cube.h5"
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        plant_piece(spec, out)
        taken, _ = run_writing_on_workers(spec, out, scheduler=client, progress=False,
                                          handle_signals=False)
        assert taken.blocks_computed == N_BLOCKS - 1  # the planted block was collected
        with h5py.File(out, "r") as got, h5py.File(reference, "r") as want:
            assert not np.array_equal(got["Cs/rate"][...], want["Cs/rate"][...])
        plant_piece(spec, out)
        report, _ = run_writing_on_workers(spec, out, scheduler=client, progress=False,
                                           handle_signals=False, overwrite=True)
    assert report.blocks_computed == report.blocks_total == N_BLOCKS
    assert_same_cube(out, reference)
    assert listing(tmp_path) == ["cube.h5"]
    record("overwrite-discards-pieces", f"without --overwrite: {taken.blocks_computed} of "
           f"{N_BLOCKS} blocks computed (the piece's block taken); with --overwrite: "
           f"{report.blocks_computed} of {N_BLOCKS} computed, rate bit-identical, no piece left")
