"""The JSON columns are written compactly by orjson, and by the standard library where
orjson refuses a value."""

from __future__ import annotations

import json

import numpy as np
import sqlalchemy as sa
from webtest import TestApp

from backfeed_api.models import Event
from backfeed_api.models.json_text import dump_json


def test_what_orjson_refuses_is_still_written() -> None:
    document = {"huge": 2**70, "numpy": np.float64(0.25), "nested": [1, "two"]}
    assert json.loads(dump_json(document)) == {"huge": 2**70, "numpy": 0.25, "nested": [1, "two"]}


def test_the_engine_writes_an_events_document_compactly(app: TestApp) -> None:
    app.post_json("/example/users", {"reputation": 1.5})
    engine = app.app.registry["db_engine"]
    with engine.connect() as connection:
        (text,) = connection.execute(sa.select(sa.cast(Event.data, sa.Text))).one()
    assert ", " not in text
    assert '": ' not in text
    assert json.loads(text)["reputation"] == 1.5
