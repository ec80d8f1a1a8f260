"""The errors a :class:`~backfeed_api.client.Client` raises: the service's error document,
read into exceptions that carry its statuses and codes."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ErrorItem:
    """One error of the document: where (``location``, ``name``), what, and its stable
    ``code`` (empty from a service that gives none)."""

    location: str
    name: str
    description: str
    code: str = ""

    @classmethod
    def of(cls, data: dict) -> ErrorItem:
        """An item of the ``errors`` list of the document."""
        return cls(
            location=str(data.get("location", "")),
            name=str(data.get("name", "")),
            description=str(data.get("description", "")),
            code=str(data.get("code", "") or ""),
        )


@dataclass(frozen=True)
class FailedItem:
    """A refused item of a batch: its index in the batch and its errors."""

    index: int
    errors: tuple[ErrorItem, ...]


class ApiError(Exception):
    """An answer of 400 or more: its ``status``, its ``errors``, and ``retry_after`` (seconds)
    when the service said how long to wait."""

    def __init__(
        self, status: int, errors: tuple[ErrorItem, ...], retry_after: float | None = None
    ) -> None:
        summary = "; ".join(f"{e.name or e.location}: {e.description}" for e in errors)
        super().__init__(f"{status}: {summary}" if summary else str(status))
        self.status = status
        self.errors = errors
        self.retry_after = retry_after

    @property
    def codes(self) -> list[str]:
        """The ``code`` of every error, in order."""
        return [error.code for error in self.errors]


class BatchRefused(ApiError):
    """A batch of votes refused whole: ``failed`` lists the refused votes by index."""

    def __init__(
        self,
        status: int,
        errors: tuple[ErrorItem, ...],
        failed: tuple[FailedItem, ...],
        retry_after: float | None = None,
    ) -> None:
        super().__init__(status, errors, retry_after)
        self.failed = failed


def error_from(status: int, body: object, retry_after: float | None) -> ApiError:
    """The exception of an error answer, from its JSON body (anything else: no items)."""
    document = body if isinstance(body, dict) else {}
    raw = document.get("errors")
    errors = (
        tuple(ErrorItem.of(e) for e in raw if isinstance(e, dict)) if isinstance(raw, list) else ()
    )
    failed = document.get("failed")
    if isinstance(failed, list):
        items = tuple(
            FailedItem(
                int(f.get("index", -1)), tuple(ErrorItem.of(e) for e in f.get("errors", []))
            )
            for f in failed
            if isinstance(f, dict)
        )
        return BatchRefused(status, errors, items, retry_after)
    return ApiError(status, errors, retry_after)


def _items(raw: object) -> tuple[ErrorItem, ...]:
    """The error items of a list of the document (none from anything else)."""
    if not isinstance(raw, list):
        return ()
    return tuple(ErrorItem.of(item) for item in raw if isinstance(item, dict))
