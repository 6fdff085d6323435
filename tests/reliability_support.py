"""Helpers of the reliability suite (test_reliability_*.py) and the CLI tests.

* :func:`cli` / :func:`start` run the installed ``renp-scan`` entry point as a user
  does, with the test-only fault variables when asked;
* :func:`small_workdir` and :func:`cli_reference` give a module its folder with the
  small test scan and the uninterrupted run every resumed cube is compared with;
* :func:`assert_clean_cube` is the check every produced cube goes through: a
  finished cube, every ``rate`` entry finite (no NaN, no inf);
* :data:`CASES` is the catalogue of reliability cases: one row each of
  ``docs/reliability.md``. Each test calls :func:`record` with its case id and
  what it observed; ``scripts/reliability_doc.py`` runs the suite with
  ``RENP_SCAN_RELIABILITY_ROWS`` set and writes the table from those rows.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import h5py
import numpy as np
from conftest import fraction_grid, scan_text, small_scan_text

EXE = shutil.which("renp-scan")
#: One error line of the CLI: ``renp-scan: error: FIELD: message``.
ERROR_LINE = re.compile(r"^renp-scan: error: [\w.\-\[\]]+: \S.*$")
#: Where :func:`record` appends its rows (JSON lines), when set.
ROWS_ENV = "RENP_SCAN_RELIABILITY_ROWS"
#: Test-only variables of the engine (renp_scan/_faults.py).
DELAY_ENV = "RENP_SCAN_TEST_BLOCK_DELAY"
KILL_ENV = "RENP_SCAN_TEST_KILL_AT"
DOC = Path(__file__).resolve().parents[1] / "docs" / "reliability.md"


# ------------------------------------------------------------------ the catalogue

#: case id -> (what is done, what is promised). Observations come from the tests.
CASES: dict[str, tuple[str, str]] = {}


def case(case_id: str, done: str, promise: str) -> str:
    """Add a case to :data:`CASES` (at import of a test module) and return its id."""
    if case_id in CASES and CASES[case_id] != (done, promise):
        raise ValueError(f"case {case_id} defined twice with different text")
    CASES[case_id] = (done, promise)
    return case_id


def record(case_id: str, observed: str) -> None:
    """Record what a test observed for ``case_id`` (a row of docs/reliability.md)."""
    if case_id not in CASES:
        raise KeyError(f"unknown reliability case {case_id!r}")
    rows = os.environ.get(ROWS_ENV)
    if rows:
        with open(rows, "a", encoding="utf-8") as fh:
            fh.write(json.dumps({"id": case_id, "observed": observed}) + "\n")


# ------------------------------------------------------------------ running the CLI


def _env(delay=None, kill_at=None, extra=None):
    env = dict(os.environ)
    for key in (DELAY_ENV, KILL_ENV):
        env.pop(key, None)
    if delay is not None:
        env[DELAY_ENV] = str(delay)
    if kill_at is not None:
        env[KILL_ENV] = kill_at
    env.update(extra or {})
    return env


def cli(*args, cwd, delay=None, kill_at=None, env=None, preexec_fn=None, timeout=120):
    """Run ``renp-scan ARGS`` to completion; return the CompletedProcess (text)."""
    return subprocess.run([EXE, *map(str, args)], cwd=cwd, env=_env(delay, kill_at, env),
                          capture_output=True, text=True, timeout=timeout,
                          preexec_fn=preexec_fn)


def start(*args, cwd, delay=None, env=None, preexec_fn=None):
    """Start ``renp-scan ARGS`` in the background; return the Popen."""
    return subprocess.Popen([EXE, *map(str, args)], cwd=cwd, env=_env(delay, None, env),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=preexec_fn)


def small_workdir(tmp_path_factory, name: str) -> Path:
    """A new folder holding ``small.toml``, the small test scan (16 blocks)."""
    folder = tmp_path_factory.mktemp(name)
    (folder / "small.toml").write_text(small_scan_text(), encoding="utf-8")
    return folder


def cli_reference(workdir, *options) -> Path:
    """Run ``renp-scan run small.toml -o reference.h5 --quiet OPTIONS`` in ``workdir``.

    The uninterrupted run that resumed and cluster runs must equal bit for bit; it
    must succeed and, being quiet, print nothing. Returns the cube's path.
    """
    proc = cli("run", "small.toml", "-o", "reference.h5", "--quiet", *options, cwd=workdir)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "" and proc.stderr == ""
    return Path(workdir) / "reference.h5"


def one_error_line(proc, status, field=None) -> str:
    """Assert ``proc`` ended with ``status`` and exactly one error line; return it."""
    assert proc.returncode == status, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert ERROR_LINE.match(lines[0]), lines[0]
    if field is not None:
        assert lines[0].startswith(f"renp-scan: error: {field}: "), lines[0]
    return lines[0]


def error_line(proc, field=None) -> str:
    """Assert ``proc`` failed with exit 2 and one error line (naming ``field``); return it."""
    return one_error_line(proc, 2, field)


def blocks_done(partial) -> int:
    """Done-block count of a partial (0 if it cannot be read, e.g. while being created)."""
    try:
        with h5py.File(partial, "r", locking=False) as f:
            return int(sum(np.count_nonzero(f["_progress"][t]["done"][...])
                           for t in f["_progress"]))
    except (OSError, KeyError):
        return 0


def wait_for_blocks(partial, n, proc, limit=60.0) -> int:
    """Wait until ``partial`` has ``n`` done blocks while ``proc`` runs; return the count."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"run ended early: {proc.returncode} {proc.stderr.read()}")
        if Path(partial).exists():
            done = blocks_done(partial)
            if done >= n:
                return done
        time.sleep(0.05)
    raise AssertionError("run made no progress")


def sigkill(proc) -> None:
    """SIGKILL ``proc`` and reap it."""
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL


# ------------------------------------------------------------------ cube checks


def assert_clean_cube(path) -> dict[str, np.ndarray]:
    """Assert ``path`` is a finished cube with only finite rates; return rate per target.

    Every cube the reliability suite produces goes through this: the engine must
    never write NaN or inf, and a finished cube has every chunk stored.
    """
    with h5py.File(path, "r") as f:
        assert f.attrs["format"] == "renp_scan.cube"
        assert int(f.attrs["complete"]) == 1, f"{path} is not marked complete"
        rates = {}
        for name in f.attrs["targets"]:
            rate = f[name]["rate"]
            assert rate.id.get_num_chunks() == int(f["_progress"][name]["done"].size)
            values = rate[...]
            assert np.all(np.isfinite(values)), f"{path}:{name} has NaN/inf"
            assert np.all(values >= 0.0), f"{path}:{name} has negative rates"
            rates[str(name)] = values
    return rates


def assert_same_cube(path, reference) -> dict[str, np.ndarray]:
    """Assert ``path`` is clean and its rates equal ``reference``'s bit for bit."""
    got, want = assert_clean_cube(path), assert_clean_cube(reference)
    assert sorted(got) == sorted(want)
    for name in want:
        assert got[name].dtype == want[name].dtype
        # Bit for bit: compare the bytes, so even -0.0 vs 0.0 would count.
        assert got[name].tobytes() == want[name].tobytes(), name
    return got


def listing(directory) -> list[str]:
    """Sorted names in ``directory``."""
    return sorted(p.name for p in Path(directory).iterdir())


#: A valid one-target scan file, the base of the bad-input cases.
GOOD = scan_text("good", m0={"values_eV": [0.0, 0.05]}, omega=fraction_grid(10, 0.1))


#: A user targets file with every field: Cs levels with A_ug changed. Fill in
#: ``e_eV`` and ``u_eV`` with :meth:`str.format`.
USER_TARGETS_FORMAT = """\
format_version = 1

[targets.CsTest]
scheme = "alkali"
isotope = "133Cs"
Z = 55
N = 78
g_label = "6s"
g_eV = 0.0
e_label = "6p"
e_eV = {e_eV}
u_label = "7p"
u_eV = {u_eV}
A_ug_per_s = 1.0e6
source = "test: Cs levels with A_ug changed"
"""
