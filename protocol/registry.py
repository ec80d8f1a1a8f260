"""Finding contract kinds: every class registered in the ``backfeed.contracts`` entry points.

A third party adds a kind by installing a distribution that declares an entry point in that
group; nothing here changes. The installed entry points are read once and cached; call
:func:`refresh` after installing a plugin into a running interpreter.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from .contracts.base import ContractRules
from .errors import ContractLoadError, UnknownContractKind

ENTRY_POINT_GROUP = "backfeed.contracts"


@functools.cache
def _entry_points() -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


@functools.cache
def _load(name: str) -> type[ContractRules]:
    entry_point = _entry_points()[name]
    try:
        loaded = entry_point.load()
    except Exception as error:
        raise ContractLoadError(
            f"contract kind {name!r} ({entry_point.value}) could not be loaded: {error}"
        ) from error
    if not (isinstance(loaded, type) and issubclass(loaded, ContractRules)):
        raise ContractLoadError(
            f"contract kind {name!r} ({entry_point.value}) is not a Contract subclass"
        )
    return loaded


def installed_kinds() -> list[str]:
    """The names of every installed contract kind, sorted."""
    return sorted(_entry_points())


def load_kind(name: str) -> type[ContractRules]:
    """The contract class registered as ``name``.

    Raises :class:`UnknownContractKind` (naming the installed kinds) or
    :class:`ContractLoadError` when the plugin is broken.
    """
    if name not in _entry_points():
        known = ", ".join(installed_kinds()) or "none"
        raise UnknownContractKind(
            f"unknown contract kind {name!r}; installed kinds: {known}", "kind"
        )
    return _load(name)


def create_contract(
    kind: str, overrides: Mapping[str, Any] | None = None, *, name: str | None = None
) -> ContractRules:
    """An instance of the kind ``kind`` with parameter overrides, named ``name``."""
    return load_kind(kind)(overrides, name=name)


def refresh() -> None:
    """Forget the cached entry points, so plugins installed since are found."""
    _entry_points.cache_clear()
    _load.cache_clear()
