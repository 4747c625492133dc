"""``python -m tools.report``: build the report (see :mod:`tools.report.build`)."""
import sys

from tools.report.build import main

sys.exit(main())
