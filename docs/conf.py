"""Sphinx configuration of the backfeed-api documentation.

Build with ``.venv/bin/sphinx-build -W -b html docs docs/_build/html``: no network is
needed, and every warning is an error. The local extensions live in ``docs/_ext``.
"""

from __future__ import annotations

import sys
import warnings
from importlib import metadata
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path[:0] = [str(DOCS / "_ext"), str(ROOT)]

# pyramid, cornice and colander still import pkg_resources; its deprecation notice is noise.
warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)
warnings.filterwarnings("ignore", category=DeprecationWarning, module="pkg_resources")

project = "backfeed-api"
author = "the backfeed-api contributors"
copyright = "the backfeed-api contributors"
try:
    release = metadata.version("backfeed-api")
except metadata.PackageNotFoundError:  # a source tree that was never installed
    release = "0.0.0"
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.mathjax",
    "cornice_sphinx",
    "api_reference",
    "examples",
    "parameters",
    "settings_reference",
]

root_doc = "index"
exclude_patterns = ["_build"]
templates_path: list[str] = []
highlight_language = "none"
pygments_style = "sphinx"

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True}

html_theme = "alabaster"
html_static_path: list[str] = []
html_title = f"backfeed-api {release}"
