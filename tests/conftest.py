"""Shared fixtures: small scan files for the engine, cube and CLI tests."""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
import textwrap
from pathlib import Path

import pytest

from renp_scan.errors import InputError

# The CLI is tested as a user runs it, through the installed `renp-scan` entry point. pip puts
# it next to the interpreter (a virtual environment's bin/), so that folder goes first on PATH
# for every test and subprocess: the suite finds the command without an activated environment,
# and never a `renp-scan` of another installation.
os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent),
                                      os.environ.get("PATH", os.defpath)])

#: The repository root (the folder holding renp_scan/, scripts/ and docs/).
ROOT = Path(__file__).resolve().parents[1]


def pytest_configure(config):
    if shutil.which("renp-scan") is None:
        raise pytest.UsageError(
            "the renp-scan command is not installed next to this Python "
            f"({Path(sys.executable).parent}); install the package first: "
            'python -m pip install -e ".[test]"')

#: A scan of 2 x 2 x 2 x 2 x 3 x ~30 entries (16 lines), a few hundred ms to compute.
SMALL_SCAN = """\
[scan]
name = "small"
description = "small test scan"
targets = ["Cs"]
hierarchies = ["NH", "IH"]
natures = ["majorana", "dirac"]
channels = ["nucleus", "core"]

[m0]
values_eV = [0.0, 0.05, 0.1]

[phases]
unit = "deg"
values = [[0.0, 0.0], [90.0, 180.0]]

[omega]
count = 30
start_fraction = 0.0
stop_fraction = 1.0

[output]
dtype = "{dtype}"
compression = "{compression}"
"""


def small_scan_text(dtype="float64", compression="gzip", extra="") -> str:
    """Text of :data:`SMALL_SCAN` with the given output settings and extra TOML appended."""
    return SMALL_SCAN.format(dtype=dtype, compression=compression) + textwrap.dedent(extra)


#: Two targets, one line each: exercises several groups in one cube.
TWO_TARGET_SCAN = """\
[scan]
name = "two"
targets = ["Cs", "Xe"]
hierarchies = ["NH"]
natures = ["majorana"]
channels = ["nucleus"]

[m0]
values_eV = [0.05, 0.1]

[omega]
count = 20
start_fraction = 0.1
stop_fraction = 1.0
"""


def load_script(relative: str):
    """Import the script at ``ROOT/relative`` (not part of the package); return the module."""
    path = ROOT / relative
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def assert_bad_files_named(load, folder, field: str, malformed: str) -> InputError:
    """``load`` of a missing file and of the TOML text ``malformed`` raise InputError(field).

    Returns the error of the malformed file.
    """
    with pytest.raises(InputError) as err:
        load(Path(folder) / "nope.toml")
    assert err.value.field == field
    broken = Path(folder) / "broken.toml"
    broken.write_text(malformed, encoding="utf-8")
    with pytest.raises(InputError) as err:
        load(broken)
    assert err.value.field == field
    return err.value


@pytest.fixture
def write_scan(tmp_path):
    """Write scan text to ``tmp_path/name`` and return its path."""

    def _write(text: str, name: str = "scan.toml"):
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return _write
