"""Writing the balances of a run as CSV, in long format: what each step changed.

Columns: ``step,user,reputation,tokens``. Step 0 has a row for every user of the starting
community; every later step has a row for each user whose balances it moved, in the order
users joined, so a user's balances at any step are those of its last row up to that step.
With ``snapshot_every=N`` every N-th step has a row for every user instead, changed or not.
Floats are written with ``repr``, the shortest text that reads back as the same float, so a
CSV holds the engine's exact numbers and two equal runs give byte-identical files. Rows go
to the stream step by step, so memory stays at one step's rows however long the run.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TextIO

import numpy as np

HEADER = "step,user,reputation,tokens\n"


class CsvRecorder:
    """A :class:`~protocol.scenarios.runner.Recorder` that streams balances to a text stream as
    CSV: every user at step 0 and every ``snapshot_every`` steps, otherwise the users moved."""

    def __init__(self, stream: TextIO, snapshot_every: int | None = None) -> None:
        if snapshot_every is not None and snapshot_every < 1:
            raise ValueError("snapshot_every must be at least 1")
        self.stream = stream
        self.snapshot_every = snapshot_every
        self._fields: list[str] = []  # the user names, quoted where CSV needs it
        stream.write(HEADER)

    def record(
        self,
        step: int,
        names: Sequence[str],
        reputation: np.ndarray,
        tokens: np.ndarray,
        changed: np.ndarray | None = None,
    ) -> None:
        """Write the rows of ``step``: every user's, or those of the users in ``changed``."""
        # Users only ever join, so only the names of newcomers need quoting.
        self._fields.extend(csv_field(name) for name in names[len(self._fields) :])
        dense = changed is None or (self.snapshot_every and step % self.snapshot_every == 0)
        if dense:
            fields = self._fields
        else:
            if not changed.size:
                return
            reputation, tokens = reputation[changed], tokens[changed]
            fields = [self._fields[i] for i in changed.tolist()]
        # tolist() turns the columns into Python floats in one pass, whose repr is exact.
        rows = zip(fields, reputation.tolist(), tokens.tolist(), strict=True)
        self.stream.write("".join(f"{step},{name},{rep!r},{tok!r}\n" for name, rep, tok in rows))


def csv_field(text: str) -> str:
    """``text`` as one CSV field: quoted, with quotes doubled, if it holds a separator."""
    if any(character in text for character in ',"\r\n'):
        return '"' + text.replace('"', '""') + '"'
    return text
