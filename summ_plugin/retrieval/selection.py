"""select_source: the one function that turns one raw record into one source. No fairseq import.

Training data, validation and inference on raw documents all call it, so the model
always sees sources made the same way. The caller BPE-encodes the query and each
selected passage separately and concatenates the ids::

    enc(query) + [separator] + enc(p1) + enc(p2) + ...

so token counts add up exactly, and guarantees::

    (count(query) + separator_tokens if query else 0) + sum(count(p) for p in passages)
        + reserved_tokens  ==  n_tokens  <=  max_positions

A passage longer than the whole passage budget is cut into consecutive windows that
fit (by words; by characters for a single enormous word) before ranking; each window
keeps its passage's id, so ``Selection.passage_ids`` may repeat an id.
"""
from dataclasses import dataclass, replace
from typing import Callable, List, Optional, Tuple

from .base import Retriever, TokenCounter, cut_into_windows, longest_fitting_prefix
from .budget import DEFAULT_SPLIT_MODE, RESERVED_TOKENS, SEPARATOR_TOKENS
from .passages import Passage, split_passages


@dataclass
class Selection:
    passage_ids: List[int]  # ids of the chosen passages (or windows of them), original order
    passages: List[str]  # their texts, original order
    query: Optional[str]  # the query as it will be emitted (possibly shortened)
    n_tokens: int  # query + separator + passages + reserved, see the module docstring
    retriever: str
    # how many over-long passages were cut into windows, and whether the query was shortened
    windows_cut: int = 0
    query_shortened: bool = False
    n_passages: Optional[int] = None  # passages the document was split into, before selection


def _windowed(passages: List[Passage], budget: int, count: TokenCounter):
    """Replace each passage longer than ``budget`` by windows that fit (same id)."""
    out: List[Passage] = []
    cut = 0
    for passage in passages:
        if count.surely_fits(passage.text, budget) or count(passage.text) <= budget:
            out.append(passage)
            continue
        cut += 1
        pieces = cut_into_windows(passage.text, budget, count)
        out.extend(replace(passage, text=piece) for piece in pieces)
    return out, cut


def select_source(
    documents: List[str],
    *,
    query: Optional[str],
    reference: Optional[str],
    title: Optional[str],
    retriever: Retriever,
    max_positions: int,
    count_tokens: Callable[[str], int],
    split_mode: str = DEFAULT_SPLIT_MODE,
    reserved_tokens: int = RESERVED_TOKENS,
    separator_tokens: int = SEPARATOR_TOKENS,
    token_bounds: Optional[Callable[[str], Tuple[int, int]]] = None,
) -> Selection:
    """Pick the passages of one record that fit ``max_positions``; see the module docstring.

    ``reserved_tokens`` are the positions the caller adds around the source (BOS/EOS);
    ``separator_tokens`` the ids between the query and the passages. A query longer than
    half the budget is shortened to half. Passages are chosen by ``retriever`` and
    emitted in original order, the query first.
    """
    if reserved_tokens < 0 or separator_tokens < 0:
        raise ValueError("reserved_tokens and separator_tokens must be >= 0")
    budget = max_positions - reserved_tokens
    if budget < 1:
        raise ValueError(f"max_positions ({max_positions}) leaves no room after "
                         f"{reserved_tokens} reserved tokens")
    if retriever.needs_reference and not (reference and reference.strip()):
        raise ValueError(f"retriever {retriever.name!r} needs the reference summary "
                         f"(it is for training data only)")
    count = TokenCounter(count_tokens, token_bounds)

    # the query: first, shortened to half the budget when longer
    emitted_query = query.strip() if query and query.strip() else None
    query_shortened = False
    if emitted_query is not None:
        half = budget // 2
        if count(emitted_query) + separator_tokens > half:
            shortened = longest_fitting_prefix(emitted_query, half - separator_tokens, count)
            emitted_query = shortened or None
            query_shortened = True
    used_by_query = count(emitted_query) + separator_tokens if emitted_query else 0
    passage_budget = budget - used_by_query

    passages = split_passages(documents, mode=split_mode)
    n_passages = len(passages)
    passages, windows_cut = _windowed(passages, passage_budget, count)
    chunks = retriever.select(passages, query=emitted_query, reference=reference, title=title,
                              budget=passage_budget, count=count) if passages else []
    # original order; sorted() is stable, so windows of one passage keep their order
    chunks = sorted((c for c in chunks if c[1].strip()), key=lambda chunk: chunk[0])
    texts = [text for _, text in chunks]
    n_tokens = used_by_query + sum(count(text) for text in texts) + reserved_tokens
    if n_tokens > max_positions:
        # a retriever's select() broke its contract; never hand out an over-long source
        raise RuntimeError(f"retriever {retriever.name!r} selected {n_tokens} tokens "
                           f"for a budget of {max_positions}")
    return Selection(
        passage_ids=[passages[index].id for index, _ in chunks],
        passages=texts,
        query=emitted_query,
        n_tokens=n_tokens,
        retriever=retriever.name,
        windows_cut=windows_cut,
        query_shortened=query_shortened,
        n_passages=n_passages,
    )
