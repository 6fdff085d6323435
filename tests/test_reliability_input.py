"""Reliability under bad input: malformed scan files, bad API calls, files that are not
finished cubes, and the promise that no NaN or inf is ever written.

The CLI cases run the installed ``renp-scan`` entry point as a user does: each must
print exactly one line ``renp-scan: error: FIELD: message`` naming the field and what
is allowed, exit with status 2, print no traceback and leave no file behind.
Each test records what it observed as a row of docs/reliability.md.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import math
import re
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest
from conftest import assert_input_error, fraction_grid, scan_text, small_scan_text
from reliability_support import (
    CASES,
    DOC,
    EXE,
    GOOD,
    USER_TARGETS_FORMAT,
    assert_clean_cube,
    blocks_done,
    case,
    cli,
    error_line,
    listing,
    record,
)

import renp_scan
from renp_scan.errors import InputError
from renp_scan.sweep import executors
from renp_scan.sweep.engine import run_scan
from renp_scan.sweep.scanfile import parse_scan

needs_cli = pytest.mark.skipif(EXE is None, reason="renp-scan entry point not installed")


#: A user targets file with every field, and one missing A_ug_per_s.
USER_TARGETS = USER_TARGETS_FORMAT.format(e_eV=1.3859, u_eV=2.6986)
BROKEN_TARGETS = USER_TARGETS.replace("A_ug_per_s = 1.0e6\n", "")
#: The package's oscillation table, and one whose normal ordering lacks dm21.
PACKAGE_OSCILLATIONS = (Path(renp_scan.__file__).parent / "data" / "oscillations.toml").read_text()
BROKEN_OSCILLATIONS = PACKAGE_OSCILLATIONS.replace("dm21_sq_eV2 = 7.49e-5\n", "", 1)


def edit(text, old, new):
    assert old in text, old
    return text.replace(old, new)


CS_EPS = float(renp_scan.get_target("Cs").eps_eg_eV)

#: id -> (description, scan text, subcommand, field, a phrase of the allowed values)
SCAN_CASES = {
    "type-count-string": ("omega.count given as a string",
                          edit(GOOD, "count = 10", 'count = "10"'), "validate",
                          "omega.count", "must be an integer"),
    "type-count-float": ("omega.count given as 1e5 (a float)",
                         edit(GOOD, "count = 10", "count = 1e5"), "validate",
                         "omega.count", "write 100_000"),
    "type-targets-string": ("scan.targets given as a string, not an array",
                            edit(GOOD, 'targets = ["Cs"]', 'targets = "Cs"'), "validate",
                            "scan.targets", "must be an array of strings"),
    "type-m0-bool": ("m0 value given as a boolean",
                     edit(GOOD, "[0.0, 0.05]", "[true, 0.05]"), "validate",
                     "m0.values_eV[0]", "must be a number"),
    "missing-name": ("scan.name missing", edit(GOOD, 'name = "good"\n', ""), "validate",
                     "scan.name", "required key is missing"),
    "missing-omega": ("[omega] table missing", GOOD.split("[omega]")[0], "validate",
                      "omega", "is missing"),
    "unknown-key": ("unknown key m0.step_eV", edit(GOOD, "[m0]\n", "[m0]\nstep_eV = 0.1\n"),
                    "validate", "m0.step_eV", "allowed keys"),
    "unknown-table": ("unknown table [engin] (typo of engine)",
                      GOOD + "\n[engin]\nblock_target_seconds = 0.3\n", "validate", "engin",
                      "did you mean 'engine'"),
    "negative-mass": ("negative m0", edit(GOOD, "[0.0, 0.05]", "[-0.01, 0.05]"), "validate",
                      "m0.values_eV[0]", ">= 0 eV"),
    "nan-mass": ("m0 = nan", edit(GOOD, "[0.0, 0.05]", "[nan, 0.05]"), "validate",
                 "m0.values_eV[0]", "must be finite"),
    "inf-omega": ("omega stop = inf", edit(GOOD, "stop_fraction = 1.0", "stop_fraction = inf"),
                  "validate", "omega.stop_fraction", "must be finite"),
    "mass-in-meV": ("m0 = 50 (meV written as eV)", edit(GOOD, "[0.0, 0.05]", "[0.0, 50.0]"),
                    "validate", "m0.values_eV[1]", "not meV"),
    "empty-grid": ("m0.values_eV = []", edit(GOOD, "[0.0, 0.05]", "[]"), "validate",
                   "m0.values_eV", "must not be empty"),
    "unsorted-grid": ("m0 values out of order", edit(GOOD, "[0.0, 0.05]", "[0.05, 0.0]"),
                      "validate", "m0.values_eV[1]", "strictly increasing"),
    "reversed-range": ("omega range reversed (start > stop)",
                       edit(GOOD, "start_fraction = 0.1\nstop_fraction = 1.0",
                            "start_fraction = 0.9\nstop_fraction = 0.2"),
                       "validate", "omega.stop_fraction", "reversed range"),
    "omega-negative": ("omega start below 0",
                       edit(GOOD, "start_fraction = 0.1\nstop_fraction = 1.0",
                            "start_eV = -0.1\nstop_eV = 0.6"),
                       "validate", "omega.start_eV", "must be >= 0"),
    "omega-zero": ("omega range [0, 0]",
                   edit(GOOD, "count = 10\nstart_fraction = 0.1\nstop_fraction = 1.0",
                        "count = 1\nstart_eV = 0.0\nstop_eV = 0.0"),
                   "validate", "omega.stop_eV", "outside the domain"),
    "omega-at-eps": ("omega stop at eps_eg of Cs",
                     edit(GOOD, "start_fraction = 0.1\nstop_fraction = 1.0",
                          f"start_eV = 0.1\nstop_eV = {CS_EPS!r}"),
                     "validate", "omega.stop_eV", "must be <"),
    "omega-beyond-eps": ("omega stop beyond eps_eg (fraction 2.5 of eps_eg/2)",
                         edit(GOOD, "stop_fraction = 1.0", "stop_fraction = 2.5"), "validate",
                         "omega.stop_fraction", "must be < 2"),
    "unknown-target": ("target 'Cz'", edit(GOOD, '["Cs"]', '["Cz"]'), "validate",
                       "scan.targets", "allowed values: Cs"),
    "unknown-hierarchy": ("hierarchy 'normal'", edit(GOOD, '["NH"]', '["normal"]'), "run",
                          "scan.hierarchies", "allowed values: NH, IH"),
    "unknown-dtype": ("output.dtype = float16", GOOD + '\n[output]\ndtype = "float16"\n',
                      "run", "output.dtype", "allowed values: float64, float32"),
    "bad-level": ("gzip level 12", GOOD + '\n[output]\ncompression_level = 12\n', "validate",
                  "output.compression_level", "must be <= 9"),
    "phase-range": ("Majorana phase of 400 degrees",
                    GOOD + '\n[phases]\nunit = "deg"\nvalues = [[400.0, 0.0]]\n', "validate",
                    "phases.values[0]", "outside [-2 pi, 2 pi]"),
    "size-cap": ("10^8 x 10^8 grid (over the 10^12-entry cap)",
                 edit(edit(GOOD, "values_eV = [0.0, 0.05]",
                           "start_eV = 0.0\nstop_eV = 0.1\ncount = 100_000_000"),
                      "count = 10\n", "count = 100_000_000\n"), "run", "scan",
                 "exceed the cap"),
    "toml-syntax": ("malformed TOML (unclosed bracket)", edit(GOOD, "[0.0, 0.05]", "[0.0, 0.05"),
                    "run", "toml", "malformed TOML"),
    "targets-file-missing-field": ("scan.targets_file names a file whose target lacks "
                                   "A_ug_per_s",
                                   edit(GOOD, '["Cs"]\n', '["CsTest"]\n'
                                        'targets_file = "broken_targets.toml"\n'),
                                   "validate", "scan.targets_file",
                                   "targets.CsTest.A_ug_per_s: missing field"),
    "oscillation-file-missing-field": ("physics.oscillation_file names a table without "
                                       "normal.dm21_sq_eV2",
                                       GOOD + '\n[physics]\noscillation_file = "broken_osc.toml"\n',
                                       "run", "physics.oscillation_file",
                                       "normal.dm21_sq_eV2: missing field"),
    "targets-file-absent": ("scan.targets_file names a file that does not exist",
                            edit(GOOD, '["Cs"]\n', '["Cs"]\ntargets_file = "nope.toml"\n'),
                            "run", "scan.targets_file", "no such file"),
}
for _id, (_what, _text, _cmd, _field, _allowed) in SCAN_CASES.items():
    case(f"input-{_id}", f"`renp-scan {_cmd}` on a scan file with {_what}",
         f"one line naming `{_field}` and what is allowed, exit 2, no traceback, no file")


def run_cli_case(directory, case_id):
    what, text, command, field, allowed = SCAN_CASES[case_id]
    work = directory / case_id
    work.mkdir()
    (work / "scan.toml").write_text(text, encoding="utf-8")
    (work / "broken_targets.toml").write_text(BROKEN_TARGETS, encoding="utf-8")
    (work / "broken_osc.toml").write_text(BROKEN_OSCILLATIONS, encoding="utf-8")
    before = listing(work)
    args = ["validate", "scan.toml"] if command == "validate" else \
        ["run", "scan.toml", "-o", "out.h5"]
    proc = cli(*args, cwd=work)
    return proc, before, listing(work)


@pytest.fixture(scope="module")
def cli_results(tmp_path_factory):
    """Every SCAN_CASES case run through the CLI, two at a time (they are independent)."""
    if EXE is None:
        pytest.skip("renp-scan entry point not installed")
    directory = tmp_path_factory.mktemp("input")
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        futures = {cid: pool.submit(run_cli_case, directory, cid) for cid in SCAN_CASES}
        return {cid: future.result() for cid, future in futures.items()}


@needs_cli
@pytest.mark.parametrize("case_id", list(SCAN_CASES))
def test_bad_scan_file_is_one_line_exit_2(cli_results, case_id):
    _what, _text, _command, field, allowed = SCAN_CASES[case_id]
    proc, before, after = cli_results[case_id]
    line = error_line(proc, field)
    assert allowed in line, line
    assert proc.stdout == ""
    assert after == before  # no cube, partial, lock or reserve file
    record(f"input-{case_id}", f"exit 2; `{line}`")


# ------------------------------------------------------------------ sizes vs. free disk

case("input-does-not-fit-disk", "`renp-scan run` on a scan under the entry cap whose cube "
     "(5 x 10^11 float64 entries, 4 TB) exceeds the free disk",
     "refused before any file is created: one line naming `output` with the needed and free "
     "sizes, exit 2")


@needs_cli
def test_cube_larger_than_the_free_disk_is_refused(tmp_path):
    text = scan_text("huge", hierarchies=("NH", "IH"), natures=("majorana", "dirac"),
                     channels=("nucleus", "core"),
                     m0={"start_eV": 0.0, "stop_eV": 0.1, "count": 250_000},
                     omega=fraction_grid(250_000, 0.0), output={"compression": "none"})
    need = parse_scan(text).n_bytes()
    assert need == 8 * 250_000**2 * 8  # 8 lines of 250 000 x 250 000 float64: 4 TB
    free = shutil.disk_usage(tmp_path).free
    if need <= free:
        pytest.skip(f"this disk has {free / 1e12:.1f} TB free, more than the 4 TB cube")
    (tmp_path / "huge.toml").write_text(text)
    before = listing(tmp_path)
    proc = cli("run", "huge.toml", "-o", "huge.h5", cwd=tmp_path)
    line = error_line(proc, "output")
    assert f"needs about {need / 1e9:.3g} GB" in line and "free" in line, line
    assert listing(tmp_path) == before
    record("input-does-not-fit-disk", f"exit 2; `{line}`")


# ------------------------------------------------------------------ CLI arguments

ARG_CASES = {
    "workers-zero": (["run", "good.toml", "-o", "x.h5", "--workers", "0"], "workers",
                     "integer >= 1"),
    "workers-text": (["run", "good.toml", "-o", "x.h5", "--workers", "two"], "arguments",
                     "invalid int value"),
    "no-output": (["run", "good.toml"], "arguments", "-o/--output"),
    "scan-missing": (["run", "missing.toml", "-o", "x.h5"], "path", "cannot read scan file"),
    "scan-directory": (["validate", "."], "path", "cannot read scan file"),
    "scan-not-utf8": (["validate", "latin1.toml"], "path", "not UTF-8"),
    "output-is-directory": (["run", "good.toml", "-o", "."], "output", "is a directory"),
    "output-dir-missing": (["run", "good.toml", "-o", "nodir/x.h5"], "output", "does not exist"),
}
for _id, (_args, _field, _allowed) in ARG_CASES.items():
    case(f"args-{_id}", f"`renp-scan {' '.join(_args)}`",
         f"one line naming `{_field}`, exit 2, no traceback, no file")


@needs_cli
def test_bad_arguments_are_one_line_exit_2(tmp_path):
    (tmp_path / "good.toml").write_text(GOOD)
    (tmp_path / "latin1.toml").write_bytes(GOOD.replace("good", "g\xf6\xf6d").encode("latin-1"))
    before = listing(tmp_path)

    def one(case_id):
        return case_id, cli(*ARG_CASES[case_id][0], cwd=tmp_path)

    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        results = dict(pool.map(one, ARG_CASES))
    for case_id, proc in results.items():
        _args, field, allowed = ARG_CASES[case_id]
        line = error_line(proc, field)
        assert allowed in line, line
        record(f"args-{case_id}", f"exit 2; `{line}`")
    assert listing(tmp_path) == before


# ------------------------------------------------------------------ API calls

OMEGA = np.linspace(0.2, 0.6, 5)
API_CASES = {
    "spectrum-nan-mass": (lambda: renp_scan.spectrum("Cs", OMEGA, math.nan), "m0_eV"),
    "spectrum-negative-mass": (lambda: renp_scan.spectrum("Cs", OMEGA, -0.1), "m0_eV"),
    "spectrum-omega-zero": (lambda: renp_scan.spectrum("Cs", [0.0, 0.3], 0.1), "omega_eV"),
    "spectrum-omega-at-eps": (lambda: renp_scan.spectrum("Cs", [0.3, CS_EPS], 0.1), "omega_eV"),
    "spectrum-omega-empty": (lambda: renp_scan.spectrum("Cs", [], 0.1), "omega_eV"),
    "spectrum-omega-nan": (lambda: renp_scan.spectrum("Cs", [0.3, math.nan], 0.1), "omega_eV"),
    "spectrum-unknown-target": (lambda: renp_scan.spectrum("Unobtainium", OMEGA, 0.1), "atom"),
    "spectrum-unknown-hierarchy": (lambda: renp_scan.spectrum("Cs", OMEGA, 0.1, hierarchy="XH"),
                                   "hierarchy"),
    "spectrum-negative-density": (lambda: renp_scan.spectrum("Cs", OMEGA, 0.1, density_cm3=-1),
                                  "density_cm3"),
    "spectrum-eta-above-1": (lambda: renp_scan.spectrum("Cs", OMEGA, 0.1, eta=2.0), "eta"),
    "spectrum-out-wrong-shape": (lambda: renp_scan.spectrum("Cs", OMEGA, 0.1, out=np.empty(3)),
                                 "out"),
    "masses-unknown-hierarchy": (lambda: renp_scan.neutrino_masses(0.1, "XX"), "hierarchy"),
    "parse-scan-bytes": (lambda: parse_scan(GOOD.encode()), "text"),
}
for _id, (_call, _field) in API_CASES.items():
    case(f"api-{_id}", f"API call `{_id}` with an invalid argument",
         f"InputError (a ValueError) naming `{_field}`")


@pytest.mark.parametrize("case_id", list(API_CASES))
def test_bad_api_call_raises_input_error(case_id):
    call, field = API_CASES[case_id]
    error = assert_input_error(field, call)
    assert isinstance(error, ValueError)
    record(f"api-{case_id}", f"InputError `{error.field}: {error.message}`")


RUN_SCAN_CASES = {
    "workers-string": ({"workers": "2"}, "workers"),
    "block-rows-zero": ({"block_rows": 0}, "block_rows"),
    "workers-and-scheduler": ({"workers": 2, "scheduler": "tcp://127.0.0.1:9"}, "workers"),
}
for _id, (_kw, _field) in RUN_SCAN_CASES.items():
    case(f"api-run_scan-{_id}", f"`run_scan(spec, out, **{_kw})`",
         f"InputError naming `{_field}`, nothing created")


@pytest.mark.parametrize("case_id", list(RUN_SCAN_CASES))
def test_bad_run_scan_arguments_create_nothing(tmp_path, case_id):
    kwargs, field = RUN_SCAN_CASES[case_id]
    with pytest.raises(InputError) as err:
        run_scan(parse_scan(GOOD), tmp_path / "c.h5", progress=False, **kwargs)
    assert err.value.field == field
    assert listing(tmp_path) == []
    record(f"api-run_scan-{case_id}", f"InputError `{err.value.field}: {err.value.message}`; "
           "directory still empty")


# ------------------------------------------------------------------ files that are not cubes


@pytest.fixture(scope="module")
def not_cubes(tmp_path_factory):
    """A foreign HDF5 file, a text file, cubes of format_version 1 (older: no coulomb_model
    dim) and 4 (newer), a truncated cube, a partial."""
    d = tmp_path_factory.mktemp("notcubes")
    (d / "notes.txt").write_text("not a cube\n")
    with h5py.File(d / "foreign.h5", "w") as f:
        f["x"] = np.arange(3)
    spec = parse_scan(small_scan_text())
    run_scan(spec, d / "cube.h5", workers=1, progress=False)
    assert_clean_cube(d / "cube.h5")
    for version in (1, 4):  # this renp_scan writes version 3 and reads 2 and 3
        shutil.copyfile(d / "cube.h5", d / f"v{version}.h5")
        with h5py.File(d / f"v{version}.h5", "r+") as f:
            f.attrs["format_version"] = version
    data = (d / "cube.h5").read_bytes()
    (d / "halfcopy.h5").write_bytes(data[: len(data) // 2])  # a copy stopped half-way
    with pytest.MonkeyPatch.context() as mp:
        real = executors.compute_block
        calls = []

        def stop_after_five(task, *lent):
            if len(calls) >= 5:
                raise KeyboardInterrupt
            calls.append(task.index)
            return real(task, *lent)

        mp.setattr(executors, "compute_block", stop_after_five)
        with pytest.raises(KeyboardInterrupt):
            run_scan(spec, d / "part.h5", workers=1, progress=False, handle_signals=False)
    return d


READER_CASES = {
    "foreign-hdf5": ("foreign.h5", "not a renp_scan cube"),
    "text-file": ("notes.txt", "not an HDF5 file"),
    "format-version-1": ("v1.h5", "format version 1; this renp_scan reads versions 2 and 3; "
                                  "re-run the scan"),
    "format-version-4": ("v4.h5", "format version 4; this renp_scan reads versions 2 and 3; "
                                  "it was written by a newer renp_scan"),
    "half-copied": ("halfcopy.h5", "truncated"),
}
for _id, (_name, _phrase) in READER_CASES.items():
    case(f"reader-{_id}", f"`open_cube` and `renp-scan info` on {_name} ({_id})",
         "InputError naming `cube` / one line naming `cube`, exit 2")
case("reader-partial", "`open_cube` and `renp-scan info` on an unfinished partial (5 of 16 "
     "blocks)", "open_cube refuses, saying how many blocks are done and how to finish; info "
     "exits 0 and reports PARTIAL with the count")


@pytest.mark.parametrize("case_id", list(READER_CASES))
def test_open_cube_and_info_on_files_that_are_not_cubes(not_cubes, case_id):
    name, phrase = READER_CASES[case_id]
    with pytest.raises(InputError) as err:
        renp_scan.open_cube(not_cubes / name, "Cs")
    assert err.value.field == "cube" and phrase in err.value.message, err.value.message
    observed = f"open_cube: `{err.value.field}: {err.value.message}`"
    if EXE is not None:
        line = error_line(cli("info", name, cwd=not_cubes), "cube")
        assert phrase in line
        observed += f"; info: exit 2, `{line}`"
    record(f"reader-{case_id}", observed)


def test_open_cube_and_info_on_a_partial(not_cubes):
    partial = not_cubes / "part.h5.partial"
    assert blocks_done(partial) == 5
    with pytest.raises(InputError, match=r"unfinished partial cube \(5 of 16 blocks done\); "
                                         "rerun the same `renp-scan run`") as err:
        renp_scan.open_cube(partial, "Cs")
    observed = f"open_cube: `{err.value.field}: {err.value.message}`"
    if EXE is not None:
        info = cli("info", partial.name, cwd=not_cubes)
        assert info.returncode == 0, info.stderr
        first = info.stdout.splitlines()[0]
        assert "PARTIAL: 5 of 16 blocks done (31.2%)" in first
        observed += f"; info: exit 0, `{first}`"
    record("reader-partial", observed)


# ------------------------------------------------------------------ never NaN or inf

case("nan-never-written", "the spectrum returns NaN (or inf) for one m0 row of one block "
     "(injected)", "the engine refuses to store it: the run stops with an error naming the "
     "block, no finished cube; every stored block is finite")


@pytest.mark.parametrize("bad", [math.nan, math.inf], ids=["nan", "inf"])
def test_non_finite_values_are_never_written(tmp_path, monkeypatch, bad):
    from renp_scan.sweep import blocks

    real = blocks.rate_line

    def poisoned(target, omega, m0, physics, out=None):
        out = real(target, omega, m0, physics, out=out)
        if physics.hierarchy == "IH" and m0 == 0.05 and physics.channel == "core":
            out[3] = bad
        return out

    monkeypatch.setattr(blocks, "rate_line", poisoned)
    out = tmp_path / "c.h5"
    with pytest.raises(FloatingPointError, match="not finite") as err:
        run_scan(parse_scan(small_scan_text()), out, workers=1, progress=False)
    assert not out.exists()
    partial = out.with_name(out.name + ".partial")
    with h5py.File(partial, "r") as f:
        done = f["_progress/Cs/done"][...].astype(bool)
        rate = f["Cs/rate"][...]
    stored = rate.reshape(-1, *rate.shape[-2:])[done]  # one block per (m0, omega) line
    assert done.sum() >= 1 and np.all(np.isfinite(stored))
    assert not np.isinf(rate).any()
    record("nan-never-written", f"{bad}: `FloatingPointError: {err.value}`; "
           f"{int(done.sum())} stored blocks all finite; no OUT")


# ------------------------------------------------------------------ the record


def test_doc_lists_every_case():
    """docs/reliability.md has one row per case id of the suite, and no stale ids."""
    import test_reliability_edges  # noqa: F401  (importing them defines their case ids)
    import test_reliability_faults  # noqa: F401

    text = DOC.read_text(encoding="utf-8")
    text = text.split("<!-- cases:start -->", 1)[1].split("<!-- cases:end -->", 1)[0]
    documented = set(re.findall(r"^\| `([A-Za-z0-9\-_.]+)` \|", text, flags=re.M))
    assert documented == set(CASES), (sorted(set(CASES) - documented),
                                      sorted(documented - set(CASES)))


# ------------------------------------------------------------------ a user targets file

case("targets-file-used", "`[scan] targets_file` names a user file defining target CsTest "
     "(Cs levels, A_ug = 1.0e6 /s); run, kill -9 at block 1, edit the file, rerun",
     "the cube is computed from the file (rate = Cs rate x A ratio, Gamma prop. to A_ug, "
     "eq. 19), the file's sha256 is in the provenance; a resume after the file changed is "
     "refused, never mixed")


@needs_cli
def test_user_targets_file_is_used_recorded_and_checked(tmp_path):
    (tmp_path / "targets.toml").write_text(USER_TARGETS)
    text = edit(edit(GOOD, '["Cs"]\n', '["CsTest"]\ntargets_file = "targets.toml"\n'),
                'name = "good"', 'name = "user"')
    scans = tmp_path / "scans"
    scans.mkdir()
    (scans / "user.toml").write_text(text)  # the path is relative to the scan file
    proc = cli("run", "scans/user.toml", "-o", "user.h5", "--quiet", cwd=tmp_path)
    assert proc.returncode != 0  # targets.toml is not next to scans/user.toml
    error_line(proc, "scan.targets_file")
    (scans / "targets.toml").write_text(USER_TARGETS)
    proc = cli("run", "scans/user.toml", "-o", "user.h5", "--quiet", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    rates = assert_clean_cube(tmp_path / "user.h5")["CsTest"]
    spec = parse_scan(GOOD)
    cs = np.array([renp_scan.spectrum("Cs", spec.omega_eV["Cs"], m0) for m0 in spec.m0_eV])
    open_ = cs > 0
    assert open_.sum() > 10
    # Gamma is proportional to A_ug (eq. 19); everything else is Cs.
    line = rates[0, 0, 0, 0, 0]  # NH, majorana, nucleus, thomas-fermi, phase row 0
    ratio = line[open_] / cs[open_]
    assert np.allclose(ratio, 1.0e6 / 7.93e5, rtol=1e-12, atol=0)
    assert np.all(line[~open_] == 0)
    with h5py.File(tmp_path / "user.h5") as f:
        assert f.attrs["targets_file_sha256"] == hashlib.sha256(
            (scans / "targets.toml").read_bytes()).hexdigest()
        assert f["CsTest"].attrs["A_ug_per_s"] == 1.0e6
    killed = cli("run", "scans/user.toml", "-o", "user2.h5", "--quiet", cwd=tmp_path,
                 kill_at="after-block-1")
    assert killed.returncode == -9
    (scans / "targets.toml").write_text(USER_TARGETS.replace("1.0e6", "1.1e6"))
    refused = cli("run", "scans/user.toml", "-o", "user2.h5", cwd=tmp_path)
    line = error_line(refused, "output")
    assert "targets_file" in line and "--overwrite" in line
    record("targets-file-used", f"rate/rate(Cs) = A ratio to 1e-12 at every open point; "
           f"sha256 recorded; after editing the file: `{line}`")


case("oscillation-file-used", "`[physics] oscillation_file` names a copy of the package's "
     "table with normal-ordering dm21 = 8.0e-5 eV^2", "the cube equals `renp_scan.spectrum(..., "
     "oscillation_data=<that file>)` bit for bit (and differs from the package table's), the "
     "file's values and sha256 are in the provenance")


@needs_cli
def test_user_oscillation_file_is_used_and_recorded(tmp_path):
    from renp_scan.model.oscillations import load_oscillation_data

    osc = PACKAGE_OSCILLATIONS.replace("dm21_sq_eV2 = 7.49e-5", "dm21_sq_eV2 = 8.0e-5", 1)
    assert osc != PACKAGE_OSCILLATIONS
    (tmp_path / "osc.toml").write_text(osc)
    text = edit(GOOD, '["nucleus"]', '["core"]') + '\n[physics]\noscillation_file = "osc.toml"\n'
    (tmp_path / "osc_scan.toml").write_text(text)
    proc = cli("run", "osc_scan.toml", "-o", "osc.h5", "--quiet", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    # (m0, omega) of NH, majorana, core, thomas-fermi, phase row 0
    rates = assert_clean_cube(tmp_path / "osc.h5")["Cs"][0, 0, 0, 0, 0]
    spec = parse_scan(GOOD)
    data = load_oscillation_data(tmp_path / "osc.toml")
    assert data.normal.dm21_sq_eV2 == 8.0e-5
    want = np.array([renp_scan.spectrum("Cs", spec.omega_eV["Cs"], m0, channel="core",
                                        oscillation_data=data) for m0 in spec.m0_eV])
    default = np.array([renp_scan.spectrum("Cs", spec.omega_eV["Cs"], m0, channel="core")
                        for m0 in spec.m0_eV])
    assert rates.tobytes() == want.tobytes()
    assert not np.array_equal(rates, default)
    with h5py.File(tmp_path / "osc.h5") as f:
        assert f.attrs["oscillation_normal_dm21_sq_eV2"] == 8.0e-5
        assert f.attrs["oscillation_file_sha256"] == hashlib.sha256(osc.encode()).hexdigest()
    changed = int(np.count_nonzero(rates != default))
    record("oscillation-file-used", f"rate equals spectrum(oscillation_data=file) bit for bit; "
           f"{changed} of {rates.size} entries differ from the package table's; dm21 and "
           "sha256 recorded")
