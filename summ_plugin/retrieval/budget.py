"""The source budget: how many positions a selected source may take, and how they are counted.

A leaf module (no import from the rest of the package at import time but the import-free
errors.py), so that every layer
can take its numbers from here: the retrieval functions' defaults, summ-prepare's settings and
its record in ``prepare.json``, the ExampleEncoder. No fairseq import.

The layout it counts (see :mod:`summ_plugin.retrieval.selection`)::

    [query] [separator] passage passage ... </s>   <= max_positions

``RESERVED_TOKENS``: fairseq appends </s> to the source; one more position is kept free as a
margin for a <s> that a model variant may prepend. ``SEPARATOR_TOKENS``: the </s> that follows
a query. ``DEFAULT_SPLIT_MODE``: how documents are cut into passages unless a tool is told
otherwise (``SPLIT_MODES`` in passages.py lists the others).
"""
import numbers
from dataclasses import dataclass
from typing import Callable, Optional, Tuple

from summ_plugin.errors import UserError

RESERVED_TOKENS = 2
SEPARATOR_TOKENS = 1
DEFAULT_SPLIT_MODE = "sentence"


class BudgetError(UserError, ValueError):
    """A source budget that cannot hold a passage (``--max-positions -1``)."""


@dataclass
class Budget:
    """How ``select_source`` is called: the same numbers as the data-bin is prepared with
    (``summ_plugin.data.encoder.ExampleEncoder.budget`` builds it for every tool).

    ``count_tokens``: the exact token count of a text (its BPE ids); ``token_bounds``: cheap
    lower/upper bounds on it, when the counter has them (see ``TokenCounter``).
    """

    max_positions: int
    count_tokens: Callable[[str], int]
    split_mode: str = DEFAULT_SPLIT_MODE
    reserved_tokens: int = RESERVED_TOKENS
    separator_tokens: int = SEPARATOR_TOKENS
    token_bounds: Optional[Callable[[str], Tuple[int, int]]] = None

    def __post_init__(self) -> None:
        # refused when the budget is made (a tool's start), not at the first record: summ-train-selector
        # trained and wrote its selector before --max-positions 0 failed with a traceback
        smallest = self.reserved_tokens + self.separator_tokens + 2
        if isinstance(self.max_positions, bool) or not isinstance(self.max_positions, numbers.Integral) \
                or self.max_positions < smallest:
            raise BudgetError(f"max_positions ({self.max_positions}) leaves no room: a source budget needs at "
                              f"least {smallest} positions (the reserved </s>, a query separator, a token)")

    def select(self, record, retriever, reference: Optional[str] = None):
        """``select_source`` for ``record`` under this budget. ``reference``: the summary, for
        the retrievers that read it (training data only); None everywhere else."""
        # imported here, not at the top: selection.py takes its defaults from this module
        from .selection import select_source

        return select_source(record.documents, query=record.query, reference=reference, title=record.title,
                             retriever=retriever, max_positions=self.max_positions,
                             count_tokens=self.count_tokens, split_mode=self.split_mode,
                             reserved_tokens=self.reserved_tokens, separator_tokens=self.separator_tokens,
                             token_bounds=self.token_bounds)
