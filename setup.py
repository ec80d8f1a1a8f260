"""Packaging for backfeed-api: the scoring engine (``protocol``) and the web service."""

from pathlib import Path

from setuptools import find_packages, setup

install_requires = [
    "numpy>=1.26",
    # pyramid, cornice and cornice_swagger import pkg_resources at import time; setuptools 81
    # deprecates it and 82 removed it, so the runtime stays below 81 until they stop.
    "setuptools>=65,<81",
    "pyramid>=2.0,<3",
    "cornice>=6.1,<7",
    "cornice_swagger>=1.0.1,<2",
    "colander>=2.0,<3",
    "SQLAlchemy>=2.0.30,<2.2",
    "zope.sqlalchemy>=3.1",
    "transaction>=4.0",
    # pyramid_tm 2.6 is the first release that cooperates with pyramid_retry's retryable
    # errors the way we rely on (vetoing failed responses, retrying serialization failures).
    "pyramid_tm>=2.6",
    "pyramid_retry>=2.1",
    # waitress serves development.ini (one process); production.ini is served by gunicorn.
    "waitress>=3.0",
    "gunicorn>=23.0",
    "alembic>=1.13",
    "psycopg[binary]>=3.1",
    "PyYAML>=6.0",
    # The JSON text of the events (backfeed_api/models/json_text.py), written on every action.
    "orjson>=3.9",
    # Rate limits (backfeed_api/pipeline/ratelimits.py): counted in memory, or in Redis when
    # several processes serve.
    "limits>=5.0,<6",
    "redis>=5.0",
    # The Python client (backfeed_api/client/), on a maintained HTTP library.
    "httpx>=0.27",
    "matplotlib>=3.8",
    # Its list of the 30,000 most common passwords refuses easily guessed ones.
    "zxcvbn>=4.4,<5",
    # Webhook deliveries: sent with httpcore, the engine of httpx (its network backend lets
    # every wait of an attempt end by one deadline), signed by the Standard Webhooks
    # reference library their receivers verify with.
    "httpx>=0.27,<1",
    "httpcore>=1.0,<2",
    "standardwebhooks>=1.1,<2",
    # The dashboard's pages (backfeed_api/api/dashboard/) are Jinja2 templates.
    "pyramid_jinja2>=2.10",
]

tests_require = [
    "pytest>=8",
    "pytest-xdist>=3.5",
    "hypothesis>=6.100",
    "WebTest>=3.0",
    "ruff>=0.6",
    "requests>=2.31",
    "schemathesis>=3.30",
    "http-sf>=1.0",  # an independent parser of the RateLimit header fields
    "import-linter>=2.17",  # the layer contracts of pyproject.toml (tests/test_layers.py)
    # Drives Chromium (Debian's chromium package, installed by make test) in the dashboard's
    # browser tests; its own browser downloads are never used.
    "playwright>=1.45",
]

docs_require = [
    "Sphinx>=7",
    "cornice_sphinx>=0.4",
]

setup(
    name="backfeed-api",
    version="0.1.0",
    description="A JSON web service for reputation-and-token economies (Backfeed protocol)",
    long_description=Path(__file__).with_name("README.rst").read_text(encoding="utf-8"),
    long_description_content_type="text/x-rst",
    python_requires=">=3.11",
    packages=find_packages(include=["protocol", "protocol.*", "backfeed_api", "backfeed_api.*"]),
    # The Alembic environment and migrations are data files, not packages.
    package_data={
        "backfeed_api": [
            "migrations/alembic/*.py",
            "migrations/alembic/*.mako",
            "migrations/alembic/versions/*.py",
            "api/dashboard/templates/*.jinja2",
            "api/dashboard/static/*",
        ]
    },
    zip_safe=False,
    install_requires=install_requires,
    extras_require={"test": tests_require, "docs": docs_require},
    entry_points={
        "backfeed.contracts": [
            "example = protocol.contracts.example:ExampleContract",
            "dmag = protocol.contracts.dmag:DMagContract",
            "whitepaper1 = protocol.contracts.whitepaper1:Whitepaper1Contract",
        ],
        "paste.app_factory": ["main = backfeed_api:main"],
        "paste.filter_factory": ["proxy = backfeed_api.proxy:filter_factory"],
        "console_scripts": ["backfeed = backfeed_api.cli:main"],
    },
    classifiers=[
        "Programming Language :: Python :: 3.11",
        "Framework :: Pyramid",
    ],
)
