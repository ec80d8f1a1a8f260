"""Reading an ini file's application settings for the commands that use the database."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .errors import UsageError


def load_settings(ini: str) -> dict[str, Any]:
    """The ``[app:main]`` settings of ``ini``, with logging configured from the file, each
    checked as the service checks them at start-up."""
    from pyramid.paster import get_appsettings, setup_logging

    from ..settings import check

    path = Path(ini)
    if not path.is_file():
        raise UsageError(f"no such settings file: {ini}")
    setup_logging(str(path))
    settings = dict(get_appsettings(str(path)))
    check(settings)
    return settings


@contextmanager
def database(ini: str) -> Iterator[tuple[dict[str, Any], Any]]:
    """The settings of ``ini`` and an engine on its database, disposed of when the block
    ends, also on an error."""
    from ..models import get_engine

    settings = load_settings(ini)
    engine = get_engine(settings)
    try:
        yield settings, engine
    finally:
        engine.dispose()


def add_ini_argument(parser) -> None:
    """The positional settings-file argument shared by the database commands."""
    parser.add_argument("ini", help="settings file, e.g. development.ini or production.ini")
