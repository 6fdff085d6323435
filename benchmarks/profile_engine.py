"""Profile the sweep's single writer thread (cProfile), e.g. for compression "none".

Usage::

    python benchmarks/profile_engine.py [none|gzip|lzf|zstd] [m0_count]

Writes ``results/profile_engine_<compression>.txt``: the top functions by cumulative
time in the calling (writer) thread; worker threads are not profiled.
"""

from __future__ import annotations

import cProfile
import io
import pstats
import sys
import tempfile
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.bench_sweep import engine, scan_text  # noqa: E402
from benchmarks.common import RESULTS, utc_now  # noqa: E402
from renp_scan.sweep.scanfile import parse_scan  # noqa: E402


def profile(compression="none", m0_count=200, top=30) -> str:
    with tempfile.TemporaryDirectory(prefix="renp-profile-") as tmp:
        work = Path(tmp)
        engine(parse_scan(scan_text(2, compression)), work / "warm.h5", repeat=False)
        spec = parse_scan(scan_text(m0_count, compression))
        prof = cProfile.Profile()
        prof.enable()
        result = engine(spec, work / "cube.h5", repeat=False)
        prof.disable()
    buf = io.StringIO()
    pstats.Stats(prof, stream=buf).sort_stats("cumulative").print_stats(top)
    head = (
        f"# {utc_now()} python benchmarks/profile_engine.py {compression} {m0_count}\n"
        f"# engine: {result}\n"
    )
    return head + buf.getvalue()


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    compression = argv[0] if argv else "none"
    m0_count = int(argv[1]) if len(argv) > 1 else 200
    text = profile(compression, m0_count)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"profile_engine_{compression}.txt"
    out.write_text(text)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
