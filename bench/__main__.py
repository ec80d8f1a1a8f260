"""``python -m bench``: the benchmark suite (see :mod:`bench.run`)."""

import sys
import warnings

# Pyramid imports pkg_resources, which warns on every start; the report has no use for it.
warnings.filterwarnings("ignore", "pkg_resources is deprecated")

from .run import main  # noqa: E402  (after the filter: it imports Pyramid)

sys.exit(main())
