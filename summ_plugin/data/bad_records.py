"""What a tool does with a record it cannot use: ``--on-bad-record error`` or ``skip``.

Readers yield a :class:`~summ_plugin.data.records.BadRecordError` in place of a bad record
(and the encoder raises one for a record that turns out unusable); every tool hands it to
one :class:`BadRecordPolicy`, which stops with one line naming the file:line and the
record's id, or counts the record as skipped and goes on. No fairseq import.
"""
import logging
from typing import Callable, Dict, Iterable, Iterator, Optional, Type

from summ_plugin.data.records import BadRecordError, Record

BAD_RECORD_MODES = ("error", "skip")


def describe(err: BadRecordError) -> str:
    """``file:line: reason``, and the record's id when it is known and not named already."""
    text = str(err)
    if err.record_id is not None and f"'{err.record_id}'" not in err.reason:
        text += f" (id '{err.record_id}')"
    return text


class BadRecordPolicy:
    """``error``: raise ``error(describe(err))`` at the first bad record. ``skip``: count it,
    keep the first for the summary line, and pass it to ``on_skip`` (e.g. a skip list)."""

    def __init__(self, mode: str, error: Type[Exception],
                 on_skip: Optional[Callable[[BadRecordError], None]] = None):
        if mode not in BAD_RECORD_MODES:
            raise ValueError(f"--on-bad-record must be {' or '.join(BAD_RECORD_MODES)}, got {mode!r}")
        self.mode = mode
        self.error = error
        self.on_skip = on_skip
        self.skipped = 0
        self.first: Optional[BadRecordError] = None

    def handle(self, err: BadRecordError) -> None:
        if self.mode == "error":
            raise self.error(describe(err))
        self.skipped += 1
        if self.first is None:
            self.first = err
        if self.on_skip is not None:
            self.on_skip(err)

    def records(self, items: Iterable[object]) -> Iterator[Record]:
        """The records of a stream of ``Record | BadRecordError``, each bad one handled."""
        for item in items:
            if isinstance(item, BadRecordError):
                self.handle(item)
            else:
                yield item

    def log_summary(self, logger: logging.Logger, source: str) -> None:
        """One line for the whole input, only when something was skipped."""
        if self.skipped:
            logger.warning("%s: skipped %d bad record(s) (first: %s)", source, self.skipped, describe(self.first))


def with_duplicate_check(items: Iterable[object]) -> Iterator[object]:
    """Pass records through, turning a repeated id into a BadRecordError (in stream order).

    The set of seen ids is the one per-input structure that grows with the corpus: ids
    only, a few bytes each.
    """
    first_seen: Dict[str, str] = {}
    for item in items:
        if isinstance(item, Record):
            if item.id in first_seen:
                item = BadRecordError(item.location, f"duplicate id '{item.id}' (first at {first_seen[item.id]})", item.id)
            else:
                first_seen[item.id] = item.location
        yield item
