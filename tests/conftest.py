"""Shared fixtures: small scan files for the engine, cube and CLI tests."""

from __future__ import annotations

import importlib.util
import json
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

def _toml(value) -> str:
    """``value`` (str, bool, int, float or a list of them) as a TOML value."""
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(map(_toml, value)) + "]"
    return repr(value)


def scan_text(name: str, *, targets=("Cs",), hierarchies=("NH",), natures=("majorana",),
              channels=("nucleus",), description: str | None = None, **tables) -> str:
    """Text of a scan file: ``[scan]`` with these axes, then one table per keyword.

    ``m0={"values_eV": [0.0, 0.05]}, omega={...}, output={...}`` become ``[m0]``,
    ``[omega]``, ``[output]`` in that order, one ``key = value`` line per entry and
    a blank line between tables (the layout of docs/scan_schema.md).
    """
    scan = {"name": name, "description": description, "targets": list(targets),
            "hierarchies": list(hierarchies), "natures": list(natures),
            "channels": list(channels)}
    blocks = []
    for table, entries in {"scan": scan, **tables}.items():
        lines = [f"{key} = {_toml(value)}" for key, value in entries.items() if value is not None]
        blocks.append("\n".join([f"[{table}]", *lines]) + "\n")
    return "\n".join(blocks)


def fraction_grid(count: int, start: float, stop: float = 1.0) -> dict:
    """An ``[omega]`` table: ``count`` points from ``start`` to ``stop`` times eps_eg/2."""
    return {"count": count, "start_fraction": start, "stop_fraction": stop}


def small_scan_text(dtype="float64", compression="gzip", extra="") -> str:
    """A scan of 2 x 2 x 2 x 2 x 3 x 30 entries (16 lines), a few hundred ms to compute.

    With the given output settings and ``extra`` TOML appended.
    """
    return scan_text("small", description="small test scan", hierarchies=("NH", "IH"),
                     natures=("majorana", "dirac"), channels=("nucleus", "core"),
                     m0={"values_eV": [0.0, 0.05, 0.1]},
                     phases={"unit": "deg", "values": [[0.0, 0.0], [90.0, 180.0]]},
                     omega=fraction_grid(30, 0.0),
                     output={"dtype": dtype, "compression": compression},
                     ) + textwrap.dedent(extra)


#: Two targets, one line each: exercises several groups in one cube.
TWO_TARGET_SCAN = scan_text("two", targets=("Cs", "Xe"), m0={"values_eV": [0.05, 0.1]},
                            omega=fraction_grid(20, 0.1))


def load_script(relative: str):
    """Import the script at ``ROOT/relative`` (not part of the package); return the module."""
    path = ROOT / relative
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def assert_input_error(field: str, call, *args, **kwargs) -> InputError:
    """Assert ``call(*args, **kwargs)`` raises InputError naming ``field``; return it."""
    with pytest.raises(InputError) as err:
        call(*args, **kwargs)
    assert err.value.field == field
    return err.value


def assert_bad_files_named(load, folder, field: str, malformed: str) -> InputError:
    """``load`` of a missing file and of the TOML text ``malformed`` raise InputError(field).

    Returns the error of the malformed file.
    """
    assert_input_error(field, load, Path(folder) / "nope.toml")
    broken = Path(folder) / "broken.toml"
    broken.write_text(malformed, encoding="utf-8")
    return assert_input_error(field, load, broken)


@pytest.fixture
def write_scan(tmp_path):
    """Write scan text to ``tmp_path/name`` and return its path."""

    def _write(text: str, name: str = "scan.toml"):
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return _write
