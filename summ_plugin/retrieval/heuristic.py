"""Unsupervised retrievers: lead (truncation), bm25 and centrality. No fairseq import."""
import math
from typing import List, Optional

import numpy as np

from .base import Chunk, Retriever, TokenCounter, longest_fitting_prefix, register_retriever
from .passages import Passage
from .text import TermIndex, tokenize_terms


@register_retriever("lead")
class LeadRetriever(Retriever):
    """The baseline: passages in document order, exactly like truncating the source.

    When the next passage does not fit, its leading words that fit are taken, so lead
    fills the budget as ``--truncate-source`` would.
    """

    def rank(self, passages, query, reference, title):
        return list(range(len(passages)))

    def select(self, passages, *, query, reference, title, budget, count) -> List[Chunk]:
        return truncate_in_order(range(len(passages)), passages, budget, count)


def truncate_in_order(order, passages: List[Passage], budget: int, count: TokenCounter,
                      used: int = 0) -> List[Chunk]:
    chosen: List[Chunk] = []
    for index in order:
        if budget - used <= 0:
            break
        text = passages[index].text
        cost = count(text)
        if used + cost <= budget:
            chosen.append((index, text))
            used += cost
            continue
        prefix = longest_fitting_prefix(text, budget - used, count)
        if prefix:
            chosen.append((index, prefix))
        break
    return chosen


def relative_positions(passages: List[Passage]) -> np.ndarray:
    """Each passage's position within its own document, 0 (first) to 1 (last)."""
    positions = np.zeros(len(passages))
    by_doc = {}
    for i, passage in enumerate(passages):
        by_doc.setdefault(passage.doc, []).append(i)
    for members in by_doc.values():
        if len(members) > 1:
            positions[members] = np.arange(len(members)) / (len(members) - 1)
    return positions


class ScoringRetriever(Retriever):
    """A retriever that scores each passage; rank = descending score, earlier first on ties.

    ``position_prior`` (>= 0, default 0 = off) multiplies each score by
    ``exp(-position_prior * relative position in its document)``, favouring the opening
    the way news writing does.
    """

    def __init__(self, *, position_prior: float = 0.0):
        self.position_prior = float(position_prior)
        if not self.position_prior >= 0 or math.isinf(self.position_prior):
            raise ValueError(f"position_prior must be a finite number >= 0, got {position_prior!r}")

    def score(self, passages: List[Passage], query: Optional[str], reference: Optional[str],
              title: Optional[str]) -> np.ndarray:
        raise NotImplementedError

    def weighted_scores(self, passages, query, reference, title) -> np.ndarray:
        scores = np.asarray(self.score(passages, query, reference, title), dtype=np.float64)
        if self.position_prior > 0 and len(passages):
            scores = scores * np.exp(-self.position_prior * relative_positions(passages))
        return scores

    def rank(self, passages, query, reference, title):
        if not passages:
            return []
        scores = self.weighted_scores(passages, query, reference, title)
        return [int(i) for i in np.argsort(-scores, kind="stable")]


def pseudo_query(index: TermIndex, query: Optional[str], title: Optional[str]):
    """Terms and weights to score against: the query, else the title, else the centroid."""
    for source, text in (("query", query), ("title", title)):
        if text:
            terms = [t for t in tokenize_terms(text) if t in index.vocabulary]
            if terms:
                return source, terms, None
    terms, weights = index.centroid_terms()
    return "centroid", terms, weights


@register_retriever("bm25")
class BM25Retriever(ScoringRetriever):
    """Okapi BM25 against the query; without one, against the title when present, else
    the document's own top TF-IDF terms (its "centroid")."""

    def __init__(self, *, k1: float = 1.2, b: float = 0.75, position_prior: float = 0.0):
        super().__init__(position_prior=position_prior)
        self.k1, self.b = float(k1), float(b)
        if not (self.k1 >= 0 and 0 <= self.b <= 1):
            raise ValueError(f"bm25 needs k1 >= 0 and 0 <= b <= 1, got k1={k1!r} b={b!r}")

    def score(self, passages, query, reference, title):
        index = TermIndex.from_texts([p.text for p in passages])
        source, terms, weights = pseudo_query(index, query, title)
        return index.bm25_matrix(self.k1, self.b) @ index.query_vector(terms, weights)


def lexrank_scores(index: TermIndex, damping: float = 0.85, iterations: int = 100,
                   tolerance: float = 1e-10) -> np.ndarray:
    """Continuous LexRank: stationary distribution of the cosine-similarity graph."""
    n = index.n_passages
    tfidf = index.tfidf_matrix()
    similarity = (tfidf @ tfidf.T).toarray()
    np.fill_diagonal(similarity, 0.0)
    row_sums = similarity.sum(axis=1)
    # a passage similar to nothing links to every passage equally (a dangling node)
    dangling = row_sums == 0
    row_sums[dangling] = 1.0
    transition = similarity / row_sums[:, None]
    transition[dangling] = 1.0 / n
    scores = np.full(n, 1.0 / n)
    for _ in range(iterations):
        updated = (1.0 - damping) / n + damping * (transition.T @ scores)
        if np.abs(updated - scores).sum() < tolerance:
            scores = updated
            break
        scores = updated
    return scores


# Above this many passages the n x n similarity matrix gets large; use the cheaper
# similarity-to-centroid centrality instead (same idea, one sparse product).
MAX_LEXRANK_PASSAGES = 2000


@register_retriever("centrality")
class CentralityRetriever(ScoringRetriever):
    """TF-IDF LexRank centrality: passages most similar to the rest of the record."""

    def __init__(self, *, damping: float = 0.85, position_prior: float = 0.0):
        super().__init__(position_prior=position_prior)
        self.damping = float(damping)
        if not 0 < self.damping < 1:
            raise ValueError(f"centrality damping must be in (0, 1), got {damping!r}")

    def score(self, passages, query, reference, title):
        index = TermIndex.from_texts([p.text for p in passages])
        if index.n_passages <= MAX_LEXRANK_PASSAGES:
            return lexrank_scores(index, self.damping)
        tfidf = index.tfidf_matrix()
        centroid = np.asarray(tfidf.sum(axis=0)).ravel()
        return tfidf @ centroid
