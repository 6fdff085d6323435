"""Print the README's Set-up commands, one per line, in order (the source .ci/run runs).

The commands are the non-comment lines of the first ```bash block under "## Set-up".
"""

from __future__ import annotations

import re
import sys
from pathlib import Path


def setup_commands(readme: str) -> list[str]:
    """Return the Set-up block's commands of README text, in order."""
    section = re.search(r"^## Set-up\n(.*?)(?=^## )", readme, re.S | re.M)
    if section is None:
        raise SystemExit("README.md has no '## Set-up' section")
    block = re.search(r"^```bash\n(.*?)^```", section.group(1), re.S | re.M)
    if block is None:
        raise SystemExit("README.md's Set-up section has no ```bash block")
    return [line.strip() for line in block.group(1).splitlines()
            if line.strip() and not line.lstrip().startswith("#")]


if __name__ == "__main__":
    path = Path(sys.argv[1] if len(sys.argv) > 1 else "README.md")
    print("\n".join(setup_commands(path.read_text(encoding="utf-8"))))
