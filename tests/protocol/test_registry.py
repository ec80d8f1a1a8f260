"""Finding contract kinds through the ``backfeed.contracts`` entry points.

The plugin tests install a real (if tiny) distribution: a module and a ``.dist-info``
directory with ``METADATA`` and ``entry_points.txt``, on a temporary ``sys.path`` entry, so
discovery goes through :mod:`importlib.metadata` exactly as for an installed package.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import protocol
from protocol import ContractLoadError, Simulation, UnknownContractKind
from protocol.contracts import ExampleContract
from protocol.registry import ENTRY_POINT_GROUP, installed_kinds, load_kind, refresh

SHIPPED = {"example", "dmag", "whitepaper1"}

PLUGIN_MODULE = '''
"""A third-party contract kind: everyone's vote moves one unit of reputation to the author."""

from protocol import BalanceChanges, Contract, ContractParameters, ContributionType
from protocol import EvaluationEffects


class TinyContract(Contract):
    kind = "tiny"
    defaults = ContractParameters(
        user_initial_tokens=3,
        user_initial_reputation=7,
        types={"post": ContributionType(name="post", fee=1, evaluation_set=(0, 1))},
    )

    def evaluate(self, state):
        value = self.check_value(state.contribution_type, state.value)
        if self.repeats_active_vote(state):
            return self.unchanged(state, recorded=False)
        changes = BalanceChanges.combine([state.contributor.id], [value], [0.0])
        return EvaluationEffects(
            recorded=True,
            changes=changes,
            max_score=state.max_score,
            token_fund=state.token_fund,
        )


NOT_A_CONTRACT = 42


class NotAContract:
    pass
'''

Installer = Callable[..., None]


@pytest.fixture
def install_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Installer]:
    """Install a distribution declaring the given entry points; uninstall it afterwards.

    A call writes the plugin module (named after the test) and a ``.dist-info`` into
    ``tmp_path``, puts that directory first on ``sys.path`` and, unless ``refresh=False``,
    refreshes the registry. Entry point values may use ``{module}`` for the module's name.
    """
    module = "backfeed_test_plugin_" + re.sub(r"\W", "_", tmp_path.name)
    (tmp_path / f"{module}.py").write_text(PLUGIN_MODULE, encoding="utf-8")
    info = tmp_path / "backfeed_test_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: backfeed-test-plugin\nVersion: 1.0\n", encoding="utf-8"
    )

    def install(entry_points: dict[str, str], *, refresh_registry: bool = True) -> None:
        lines = [f"{name} = {value.format(module=module)}" for name, value in entry_points.items()]
        (info / "entry_points.txt").write_text(
            f"[{ENTRY_POINT_GROUP}]\n" + "\n".join(lines) + "\n", encoding="utf-8"
        )
        monkeypatch.syspath_prepend(str(tmp_path))
        if refresh_registry:
            refresh()

    yield install
    monkeypatch.undo()
    sys.modules.pop(module, None)
    refresh()


def test_shipped_kinds_are_installed() -> None:
    """The package's own entry points declare the three shipped kinds."""
    assert set(installed_kinds()) >= SHIPPED
    assert installed_kinds() == sorted(installed_kinds())
    assert load_kind("example") is ExampleContract
    for kind in SHIPPED:
        assert load_kind(kind).kind == kind


def test_plugin_is_found_after_refresh(install_plugin: Installer) -> None:
    """A newly installed kind is listed, loaded and usable like a shipped one."""
    assert "tiny" not in installed_kinds()

    install_plugin({"tiny": "{module}:TinyContract"})

    assert "tiny" in installed_kinds()
    assert set(installed_kinds()) >= SHIPPED
    contract_class = load_kind("tiny")
    assert contract_class.kind == "tiny"
    contract = protocol.create_contract("tiny", {"post.fee": 2}, name="mine")
    assert isinstance(contract, protocol.Contract)
    assert contract.name == "mine"
    assert contract.params.types["post"].fee == 2

    simulation = Simulation(contract, clock=lambda: 0.0)
    author = simulation.create_user()
    voter = simulation.create_user()
    post = simulation.create_contribution(author)
    simulation.evaluate(voter, post, 1)
    assert simulation.users.reputation.tolist() == [8.0, 7.0]
    assert simulation.users.tokens.tolist() == [1.0, 3.0]


def test_registry_is_cached_until_refresh(install_plugin: Installer) -> None:
    """Entry points are read once; a plugin appears only when the registry is refreshed."""
    assert "tiny" not in installed_kinds()  # the registry has read the entry points

    install_plugin({"tiny": "{module}:TinyContract"}, refresh_registry=False)
    assert "tiny" not in installed_kinds()
    with pytest.raises(UnknownContractKind):
        load_kind("tiny")

    refresh()
    assert "tiny" in installed_kinds()


def test_missing_module_is_a_load_error(install_plugin: Installer) -> None:
    """An entry point naming a module that does not exist: listed, but fails to load."""
    install_plugin({"ghost": "backfeed_no_such_module_anywhere:GhostContract"})

    assert "ghost" in installed_kinds()
    with pytest.raises(ContractLoadError) as raised:
        load_kind("ghost")
    message = raised.value.message
    assert "'ghost'" in message
    assert "backfeed_no_such_module_anywhere:GhostContract" in message
    assert "No module named" in message
    assert isinstance(raised.value.__cause__, ImportError)


def test_missing_attribute_is_a_load_error(install_plugin: Installer) -> None:
    """An entry point naming a class the module does not define."""
    install_plugin({"absent": "{module}:AbsentContract"})

    with pytest.raises(ContractLoadError, match=r"'absent'.*could not be loaded"):
        load_kind("absent")


@pytest.mark.parametrize("target", ["NOT_A_CONTRACT", "NotAContract"])
def test_non_contract_is_a_load_error(install_plugin: Installer, target: str) -> None:
    """An entry point that loads, but to something that is not a Contract subclass."""
    install_plugin({"impostor": f"{{module}}:{target}"})

    with pytest.raises(ContractLoadError) as raised:
        protocol.create_contract("impostor")
    assert "'impostor'" in raised.value.message
    assert "not a Contract subclass" in raised.value.message


def test_broken_plugin_does_not_hide_the_others(install_plugin: Installer) -> None:
    """One broken entry point leaves every other kind loadable."""
    install_plugin(
        {"ghost": "backfeed_no_such_module_anywhere:X", "tiny": "{module}:TinyContract"}
    )

    with pytest.raises(ContractLoadError):
        load_kind("ghost")
    assert load_kind("tiny").kind == "tiny"
    assert load_kind("example") is ExampleContract


def test_unknown_kind_names_the_installed_ones() -> None:
    """Asking for a kind nobody installed says which kinds there are."""
    with pytest.raises(UnknownContractKind) as raised:
        protocol.create_contract("no-such-kind")
    message = raised.value.message
    assert "'no-such-kind'" in message
    for kind in SHIPPED:
        assert kind in message
    assert raised.value.field == "kind"
    assert isinstance(raised.value, protocol.ConfigurationError)
