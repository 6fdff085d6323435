"""Write the JSON Schemas of scan and plan files (docs/schemas/) for editors.

The schemas come from the parsers' own declarations (``SCAN_FILE`` in
``renp_scan/sweep/scanfile.py``, ``PLAN_FILE`` in ``renp_scan/analysis/plan.py``);
``tests/test_config.py`` checks that the committed files are current. Rules that
tie keys together (ranges, one of several keys) are the parsers' and not in the
schemas. Run: ``python scripts/json_schema.py``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from renp_scan.analysis.plan import PLAN_FILE
from renp_scan.sweep.scanfile import SCAN_FILE

OUT = Path(__file__).resolve().parents[1] / "docs" / "schemas"
SCHEMAS = {"scan.schema.json": SCAN_FILE, "plan.schema.json": PLAN_FILE}


def render(section) -> str:
    """Return the JSON text of one file kind's schema."""
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema",
              **section.json_schema()}
    return json.dumps(schema, indent=2) + "\n"


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, section in SCHEMAS.items():
        (OUT / name).write_text(render(section), encoding="utf-8")
        print(OUT / name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
