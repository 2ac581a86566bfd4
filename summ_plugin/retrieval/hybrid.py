"""The hybrid retriever: a share of the budget for the opening, the rest for the best
passages of a scorer (issue 9). No fairseq import."""
from typing import List

from .base import Chunk, build_retriever, fill_in_order, register_retriever, Retriever
from .heuristic import ScoringRetriever

SCORERS = ("bm25", "centrality", "learned")


@register_retriever("hybrid")
class HybridRetriever(Retriever):
    """``lead_share`` of the passage budget goes to leading passages (whole ones, in
    order, while they fit), the rest to the best-scored remaining passages of
    ``scorer``; all are emitted in document order. Other options (``k1``, ``b``,
    ``selector``, ``damping``, ``position_prior``) go to the scorer.
    Without a budget (``rank``) it ranks as its scorer does."""

    def __init__(self, *, lead_share: float = 0.3, scorer: str = "bm25", **scorer_options):
        self.lead_share = float(lead_share)
        if not 0.0 <= self.lead_share <= 1.0:
            raise ValueError(f"hybrid lead_share must be in [0, 1], got {lead_share!r}")
        if scorer not in SCORERS:
            raise ValueError(f"hybrid scorer must be one of {', '.join(SCORERS)}, got {scorer!r}")
        self.scorer = build_retriever(scorer, **scorer_options)
        assert isinstance(self.scorer, ScoringRetriever)

    def rank(self, passages, query, reference, title) -> List[int]:
        return self.scorer.rank(passages, query, reference, title)

    def select(self, passages, *, query, reference, title, budget, count) -> List[Chunk]:
        lead_budget = int(self.lead_share * budget)
        chosen: List[Chunk] = []
        used = 0
        for index, passage in enumerate(passages):
            if count.surely_exceeds(passage.text, lead_budget - used):
                break
            cost = count(passage.text)
            if used + cost > lead_budget:
                break
            chosen.append((index, passage.text))
            used += cost
        taken = {index for index, _ in chosen}
        order = [i for i in self.scorer.rank(passages, query, reference, title) if i not in taken]
        chosen.extend(fill_in_order(order, passages, budget, count, used=used))
        return chosen
