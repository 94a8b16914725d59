"""``python -m paper_repro ...``: see :mod:`paper_repro.cli`."""
import sys

from .cli import main

sys.exit(main())
