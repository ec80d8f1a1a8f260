"""The JSON text the database stores for the JSON columns (events, explanations, stored
answers).

Every committed action stores its event's document, up to thousands of balances long, in
its own transaction, so the time to write that text is part of every vote's latency.
``orjson`` writes it several times faster than the standard library; what it does not take
(an integer beyond 64 bits, a numpy scalar) the standard library writes instead. Both write
the same JSON values.
"""

from __future__ import annotations

import json
from typing import Any

import orjson


def dump_json(value: Any) -> str:
    """``value`` as compact JSON text, for a JSON column."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return json.dumps(value, separators=(",", ":"))
