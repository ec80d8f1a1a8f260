"""A small text progress bar for long commands, drawn on one terminal line."""

from __future__ import annotations

from types import TracebackType
from typing import TextIO

WIDTH = 30


class ProgressBar:
    """``[#######.......]  45%  4500/10000`` redrawn in place as work advances.

    It redraws only when the shown percentage changes, so updating it after every one of
    millions of steps costs next to nothing. A disabled bar draws nothing at all.
    """

    def __init__(self, total: int, stream: TextIO, *, enabled: bool = True) -> None:
        self.total = max(total, 0)
        self.stream = stream
        self.enabled = enabled and self.total > 0
        self._shown = -1

    def update(self, done: int) -> None:
        """Show that ``done`` of ``total`` units of work are finished."""
        if not self.enabled:
            return
        percent = 100 * min(done, self.total) // self.total
        if percent == self._shown:
            return
        self._shown = percent
        filled = WIDTH * percent // 100
        bar = "#" * filled + "." * (WIDTH - filled)
        self.stream.write(f"\r[{bar}] {percent:3d}%  {done}/{self.total}")
        self.stream.flush()

    def close(self) -> None:
        """End the bar's line, so what is printed next starts on a fresh one."""
        if self.enabled and self._shown >= 0:
            self.stream.write("\n")
            self.stream.flush()
        self.enabled = False

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
