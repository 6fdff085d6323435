"""``python -m renp_scan`` runs the ``renp-scan`` command line."""

import sys

from renp_scan.cli.main import main

sys.exit(main())
