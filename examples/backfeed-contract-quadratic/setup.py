"""Packaging for the ``quadratic`` contract kind, a plugin of backfeed-api."""

from pathlib import Path

from setuptools import find_packages, setup

setup(
    name="backfeed-contract-quadratic",
    version="0.1.0",
    description="A Backfeed contract kind with square-root sharing and scoring",
    long_description=Path(__file__).with_name("README.rst").read_text(encoding="utf-8"),
    long_description_content_type="text/x-rst",
    python_requires=">=3.11",
    packages=find_packages(include=["backfeed_quadratic", "backfeed_quadratic.*"]),
    install_requires=["backfeed-api", "numpy>=1.26"],
    entry_points={
        # The group backfeed-api reads its contract kinds from; the name is the kind.
        "backfeed.contracts": ["quadratic = backfeed_quadratic:QuadraticContract"],
    },
)
