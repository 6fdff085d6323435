"""Every command and code block of README.md and docs/*.md runs as written.

Each document gets a fresh temporary folder holding copies of the repository's ``scans/``
and ``plans/``; its blocks run there in document order, so a command may use a file an
earlier block wrote (the README's loading snippet opens the cube its ``renp-scan run``
made). What a block is depends on its fence:

* ```` ```bash ```` / ```` ```sh ````: each line runs through ``bash`` (a failing line fails
  the block, whichever line it is);
* ```` ```python ````: the block runs as a script with this test's Python;
* ```` ```toml ````: parsed as a scan file (``[scan]``) or a measurement plan (``[plan]``);
* a fence with no language (an output listing, a file layout, a usage line) is not code.

A Markdown comment on the line right above a fence changes that:

* ``<!-- doc-example: skip REASON -->`` the block is not run; REASON is required and says
  why it cannot run here (needs a SLURM cluster, production-sized, an outline);
* ``<!-- doc-example: ci -->`` the block is run by ``.ci/run`` (the README's Set-up
  commands, which install the package), not here; tests/test_readme.py checks the two agree;
* ``<!-- doc-example: before COMMAND -->`` COMMAND runs in the folder first, unseen by the
  reader: it makes an input the example names but does not make (e.g. ``cube.h5``).
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(?P<lang>[\w+-]*)[ \t]*\n(?P<body>.*?)^```[ \t]*$", re.S | re.M)
DIRECTIVE = re.compile(r"<!--\s*doc-example:\s*(?P<kind>skip|ci|before)\b\s*(?P<arg>.*?)\s*-->\s*$")
SHELL = {"bash", "sh", "shell", "console"}
KNOWN = SHELL | {"python", "toml", ""}


@dataclasses.dataclass(frozen=True)
class Block:
    doc: Path
    line: int  # 1-based line of the opening fence
    lang: str
    body: str
    kind: str | None  # "skip", "ci", "before" or None
    arg: str

    @property
    def id(self) -> str:
        return f"{self.doc.name}:{self.line}:{self.lang or 'text'}"

    @property
    def runs(self) -> bool:
        return self.lang in SHELL | {"python", "toml"} and self.kind not in ("skip", "ci")


def blocks_of(doc: Path) -> list[Block]:
    text = doc.read_text(encoding="utf-8")
    found = []
    for m in FENCE.finditer(text):
        before = text[:m.start()].rstrip("\n").rsplit("\n", 1)[-1]
        d = DIRECTIVE.search(before)
        found.append(Block(doc, text.count("\n", 0, m.start()) + 1, m.group("lang"),
                           m.group("body"), d and d.group("kind"), d.group("arg") if d else ""))
    return found


ALL = [b for doc in DOCS for b in blocks_of(doc)]


def _env() -> dict:
    # figures render without a display; everything else is the suite's own environment
    return dict(os.environ, MPLBACKEND="Agg")


def _run(args, cwd: Path, what: str):
    proc = subprocess.run(args, cwd=cwd, env=_env(), capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, (
        f"{what} exited {proc.returncode}\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}")
    return proc


def _shell_lines(body: str) -> list[str]:
    return [ln for ln in body.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]


def execute(block: Block, folder: Path) -> None:
    if block.kind == "before":
        _run(["bash", "-c", block.arg], folder, f"{block.id} (before: {block.arg})")
    if block.lang in SHELL:
        for line in _shell_lines(block.body):
            _run(["bash", "-c", line], folder, f"{block.id}: {line}")
    elif block.lang == "python":
        _run([sys.executable, "-c", block.body], folder, block.id)
    elif block.lang == "toml":
        check_toml(block)


def check_toml(block: Block) -> None:
    from renp_scan.analysis.plan import parse_plan
    from renp_scan.sweep.scanfile import parse_scan

    first = next(ln for ln in block.body.splitlines() if ln.strip() and not ln.startswith("#"))
    if first.startswith("[scan]"):
        assert parse_scan(block.body).n_entries() > 0
    elif first.startswith("[plan]"):
        assert parse_plan(block.body).name
    else:
        raise AssertionError(f"{block.id}: a toml block must be a scan ([scan]) or a plan "
                             "([plan]) file, or carry a doc-example: skip REASON comment")


class DocFolder:
    """A document's temporary folder and how far its blocks have run in it."""

    def __init__(self, path: Path):
        self.path = path
        for name in ("scans", "plans"):
            shutil.copytree(ROOT / name, path / name)
        self.done: set[int] = set()


@pytest.fixture(scope="session")
def folders(tmp_path_factory):
    made = {}

    def folder_for(doc: Path) -> DocFolder:
        if doc not in made:
            made[doc] = DocFolder(tmp_path_factory.mktemp(doc.stem.lower()))
        return made[doc]

    return folder_for


@pytest.mark.parametrize("block", [pytest.param(b, id=b.id) for b in ALL])
def test_doc_block_runs_as_written(block, folders):
    assert block.lang in KNOWN, f"{block.id}: unknown fence language {block.lang!r}"
    if block.kind == "skip":
        assert block.arg, f"{block.id}: doc-example: skip needs a reason"
    if not block.runs:
        return
    folder = folders(block.doc)
    # Blocks run in document order: when this one is selected alone, the shell blocks
    # above it (which make the files it may read) run first.
    for earlier in blocks_of(block.doc):
        if earlier.line >= block.line:
            break
        if earlier.runs and earlier.lang in SHELL and earlier.line not in folder.done:
            execute(earlier, folder.path)
            folder.done.add(earlier.line)
    execute(block, folder.path)
    folder.done.add(block.line)


def test_every_document_has_runnable_examples():
    # the collection above is not silently empty (a fence pattern that matched nothing)
    runnable = {b.doc.name for b in ALL if b.runs}
    assert {"README.md", "cluster.md", "cube_format.md", "sensitivity.md"} <= runnable
