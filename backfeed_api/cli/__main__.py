"""``python -m backfeed_api.cli``: the same as the ``backfeed`` console script."""

import sys

from . import main

sys.exit(main())
