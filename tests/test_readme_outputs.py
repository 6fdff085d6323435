"""The README's headline sensitivity example: what it shows is what the tool prints.

The example must run without any note or warning from the tool (no interpolation in
the threshold window), and every infinite exposure it shows must say why.
"""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from renp_scan.cli.main import main

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _section(title: str) -> str:
    start = README.index(f"## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start:end if end > 0 else None]


def test_headline_sensitivity_example_prints_what_the_readme_shows(tmp_path, monkeypatch,
                                                                    capsys):
    section = _section("Sensitivity and fits")
    commands = re.search(r"```bash\n(.*?)```", section, re.S).group(1).splitlines()
    shown = re.search(r"prints.*?\n```\n(.*?)```", section, re.S).group(1)
    run = next(c for c in commands if c.startswith("renp-scan run "))
    sens = next(c for c in commands if c.startswith("renp-scan sensitivity "))
    for folder in ("plans", "scans"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    monkeypatch.chdir(tmp_path)
    assert main([*shlex.split(run)[1:], "--quiet"]) == 0
    capsys.readouterr()
    assert main(shlex.split(sens)[1:]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert "note:" not in out and "warning" not in out.lower()
    assert out == shown
    # Every inf says why, in the line itself.
    for line in out.splitlines():
        for cell in line.split(", m0=")[1:]:
            if ": inf" in cell:
                assert "unreachable: all 30 plan frequencies closed" in line, line


def test_inf_reason_names_the_cause():
    from renp_scan.cli.sensitivity import unreachable_reason

    class Source:
        def __init__(self, value):
            self.value = value

        def rates_Hz(self, hierarchy, nature, m0_eV, omega_eV):
            return np.full((1, len(omega_eV)), self.value)

    plan = SimpleNamespace(omega_eV=np.linspace(0.6, 0.65, 4))
    assert "same counts" in unreachable_reason(Source(1.0), plan, "NH", "dirac", 0.0)
    closed = unreachable_reason(Source(0.0), plan, "NH", "dirac", 0.2)
    assert closed.startswith("unreachable: all 4 plan frequencies closed at m0=0.2 eV")


def test_layout_says_why_kernels_are_inside_the_package():
    layout = _section("Layout")
    assert "renp_scan/kernels/" in layout
    for reason in ("`kernels` belongs to another project on PyPI", "compat mode",
                   "static analysers"):
        assert reason in layout, reason
    assert (ROOT / "renp_scan" / "kernels" / "__init__.py").is_file()
    assert not (ROOT / "kernels").exists()


def test_readme_states_the_coincidence_tolerance_the_plots_use():
    from renp_scan.plotting import COINCIDE_RTOL

    section = " ".join(_section("The paper's figures, reproduced through the CLI").split())
    assert f"within {100 * COINCIDE_RTOL:g} % of the peak" in section
