"""The README's Set-up commands are what CI runs, and its scan-file example is a valid scan.

Every other README block runs in tests/test_docs_examples.py; the Set-up block installs the
package, so ``.ci/run`` runs it (in a new virtual environment) instead of the test suite.
"""

import re

from conftest import ROOT, load_script

README = (ROOT / "README.md").read_text()
CI = (ROOT / ".ci" / "run").read_text()


def _readme_setup():
    return load_script(".ci/readme_setup.py")


def test_readme_scan_file_parses():
    from renp_scan.sweep.scanfile import parse_scan

    block = re.search(r"```toml\n(.*?)```", README, re.S).group(1)
    spec = parse_scan(block)
    assert spec.targets == ("Cs",)
    assert spec.n_entries() > 0


def test_set_up_commands_are_the_two_documented_steps_in_order():
    commands = _readme_setup().setup_commands(README)
    assert commands == [
        'python -m pip install ".[plot]" && renp-scan run scans/cs_fig4.toml -o cs_fig4.h5',
        'python -m pip install -e ".[test]" && python -m pytest',
    ]


def test_ci_runs_the_readme_set_up_block_not_a_copy():
    # .ci/run reads the commands from README.md and holds none of them itself
    assert "readme_setup.py README.md" in CI
    for command in _readme_setup().setup_commands(README):
        assert command not in CI
    # a new environment in a temporary folder, nothing installed beforehand
    assert "-m venv" in CI and "mktemp -d" in CI
    assert "pip install" not in CI
    # the block carries the marker that keeps tests/test_docs_examples.py from running it
    assert re.search(r"## Set-up\n.*?<!-- doc-example: ci -->\n```bash\n", README, re.S)
