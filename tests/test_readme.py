"""The README's examples run: its scan file parses and its Python snippet executes."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def test_readme_scan_file_parses():
    from renp_scan.sweep.scanfile import parse_scan

    block = re.search(r"```toml\n(.*?)```", README, re.S).group(1)
    spec = parse_scan(block)
    assert spec.targets == ("Cs",)
    assert spec.n_entries() > 0


def test_readme_physics_snippet_runs():
    snippet = next(b for b in re.findall(r"```python\n(.*?)```", README, re.S) if "spectrum(" in b)
    proc = subprocess.run([sys.executable, "-c", snippet], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr


def test_readme_set_up_commands_match_ci():
    ci = (ROOT / ".ci" / "run").read_text()
    test_cmd = 'python -m pip install -e ".[test]" && python -m pytest'
    assert test_cmd in README and test_cmd in ci
    assert "renp-scan run scans/cs_fig4.toml" in README
