"""Run the reliability suite and write its table of cases into docs/reliability.md.

Usage::

    python scripts/reliability_doc.py            # run the suite, rewrite the table
    python scripts/reliability_doc.py --check    # only check the doc lists every case

Every test of ``tests/test_reliability_{faults,input,edges}.py``
records what it observed for its case id (``tests/reliability_support.record``) when
``RENP_SCAN_RELIABILITY_ROWS`` names a file. This script sets it, runs pytest on the two
modules, and replaces the table between the ``<!-- cases:start -->`` and
``<!-- cases:end -->`` markers of the doc (the prose around it is kept). It refuses to
write when a test fails. A case whose test was skipped here is listed as not run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TESTS = ROOT / "tests"
DOC = ROOT / "docs" / "reliability.md"
MODULES = ("test_reliability_faults.py", "test_reliability_input.py",
           "test_reliability_edges.py")
START, END = "<!-- cases:start -->", "<!-- cases:end -->"


def catalogue() -> dict[str, tuple[str, str]]:
    """Case id -> (what is done, what is promised), as the test modules define them."""
    sys.path.insert(0, str(TESTS))
    import reliability_support

    for module in MODULES:
        __import__(module[:-3])
    return dict(reliability_support.CASES)


def run_suite(rows: Path) -> int:
    env = dict(os.environ, RENP_SCAN_RELIABILITY_ROWS=str(rows))
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs",
               *(str(TESTS / m) for m in MODULES),
               # checks the doc this run is about to write
               "--deselect", "tests/test_reliability_input.py::test_doc_lists_every_case"]
    return subprocess.run(command, cwd=ROOT, env=env).returncode


def cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def table(cases: dict, observed: dict) -> str:
    lines = ["| case | what was done | what is promised | what was observed |",
             "|---|---|---|---|"]
    for case_id, (done, promise) in cases.items():
        seen = "; ".join(observed.get(case_id, [])) or "not run here (skipped; see pytest -rs)"
        lines.append(f"| `{case_id}` | {cell(done)} | {cell(promise)} | {cell(seen)} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="do not run the suite; fail if the doc misses a case id")
    args = parser.parse_args(argv)
    cases = catalogue()
    text = DOC.read_text(encoding="utf-8")
    if args.check:
        missing = [c for c in cases if f"| `{c}` |" not in text]
        print("missing:", ", ".join(missing) if missing else "none")
        return 1 if missing else 0
    with tempfile.TemporaryDirectory() as tmp:
        rows_file = Path(tmp) / "rows.jsonl"
        status = run_suite(rows_file)
        if status != 0:
            print(f"reliability suite failed (exit {status}); {DOC} not written", file=sys.stderr)
            return status
        observed: dict[str, list[str]] = {}
        if rows_file.exists():
            for line in rows_file.read_text(encoding="utf-8").splitlines():
                row = json.loads(line)
                observed.setdefault(row["id"], []).append(row["observed"])
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    DOC.write_text(f"{head}{START}\n{table(cases, observed)}\n{END}{tail}", encoding="utf-8")
    print(f"wrote {DOC}: {len(cases)} cases, {sum(c in observed for c in cases)} observed here")
    return 0


if __name__ == "__main__":
    sys.exit(main())
