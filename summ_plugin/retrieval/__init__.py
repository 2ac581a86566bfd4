"""Retrieval stage: passages, retrievers and budgeted source selection.

No fairseq import anywhere in this package, so that it is testable and fast alone.
Importing it registers the built-in retrievers: lead, bm25, centrality, oracle,
hybrid, learned.
"""
from .base import (Retriever, TokenCounter, available_retrievers, build_retriever,
                   register_retriever, retriever_options)
from .coverage import retrieval_coverage
from .passages import SPLIT_MODES, Passage, split_passages, split_sentences
from .selection import Selection, select_source
from .tokens import approx_token_count

# imported for their @register_retriever side effect
from . import heuristic  # noqa: F401,E402
from . import oracle  # noqa: F401,E402
from . import hybrid  # noqa: F401,E402
from . import learned  # noqa: F401,E402

__all__ = [
    "Passage", "split_passages", "split_sentences", "SPLIT_MODES", "Retriever",
    "register_retriever", "build_retriever", "available_retrievers", "retriever_options",
    "Selection", "select_source", "retrieval_coverage", "TokenCounter", "approx_token_count",
]
