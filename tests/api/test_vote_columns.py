"""The vote path reads its rows by column name: the names it uses are the statements'."""

from __future__ import annotations

import pytest

from backfeed_api.domain.evaluations import PARTY_COLUMNS, _parties_statement
from backfeed_api.domain.vote_store import _vote_statement


@pytest.mark.parametrize("lateral", [True, False])
def test_the_parties_are_read_in_the_named_columns(lateral):
    assert tuple(_parties_statement(lateral).selected_columns.keys()) == PARTY_COLUMNS


def test_the_stored_vote_is_read_by_name():
    names = tuple(_vote_statement().selected_columns.keys())
    assert names == ("evaluation_id", "user_id", "reputation", "tokens")
