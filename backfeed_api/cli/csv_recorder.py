"""Writing every user's balances after every step as CSV, in long format.

Columns: ``step,user,reputation,tokens``; one row per user who exists at that step, users in
the order they joined. Floats are written with ``repr``, the shortest text that reads back
as the same float, so a CSV holds the engine's exact numbers and two equal runs give
byte-identical files. Rows go to the stream step by step, so memory stays at one step's rows
however long the run.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TextIO

import numpy as np

HEADER = "step,user,reputation,tokens\n"


class CsvRecorder:
    """A :class:`~protocol.scenarios.runner.Recorder` that streams balances to a text stream as
    CSV."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self._fields: list[str] = []  # the user names, quoted where CSV needs it
        stream.write(HEADER)

    def record(
        self, step: int, names: Sequence[str], reputation: np.ndarray, tokens: np.ndarray
    ) -> None:
        """Write one row per user for ``step``."""
        # Users only ever join, so only the names of newcomers need quoting.
        self._fields.extend(csv_field(name) for name in names[len(self._fields) :])
        # tolist() turns the columns into Python floats in one pass, whose repr is exact.
        rows = zip(self._fields, reputation.tolist(), tokens.tolist(), strict=True)
        self.stream.write("".join(f"{step},{name},{rep!r},{tok!r}\n" for name, rep, tok in rows))


def csv_field(text: str) -> str:
    """``text`` as one CSV field: quoted, with quotes doubled, if it holds a separator."""
    if any(character in text for character in ',"\r\n'):
        return '"' + text.replace('"', '""') + '"'
    return text
