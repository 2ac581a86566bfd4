"""Per-passage features for the learned selector. No fairseq import.

Everything is computed inside one record, and scores are normalised by the record's
maximum, so that the same model applies to short and long records alike.
"""
import re
from typing import List, Optional

import numpy as np

from .heuristic import lexrank_scores, pseudo_query, relative_positions, MAX_LEXRANK_PASSAGES
from .passages import Passage
from .text import TermIndex, cosine_to_text

FEATURE_NAMES = [
    "position_in_document",      # 0 first .. 1 last passage of its document
    "position_in_paragraph",     # 0 first .. 1 last passage of its paragraph
    "first_in_paragraph",        # 1 for a paragraph's first passage
    "document_index",            # 0 first .. 1 last document of the record
    "log_words",                 # log(1 + words)
    "centrality",                # LexRank score / record maximum
    "bm25",                      # BM25 vs query (or title, or centroid) / record maximum
    "has_query",                 # 1 when the record has a query
    "title_similarity",          # TF-IDF cosine to the title (0 without one)
    "opening_similarity",        # TF-IDF cosine to the first three passages of the record
    "digit_density",             # share of characters that are digits
    "capitalised_density",       # share of words after the first that start uppercase
]

_CAPITALISED = re.compile(r"(?<=\s)[A-Z]")


def _normalised(values: np.ndarray) -> np.ndarray:
    top = values.max() if len(values) else 0.0
    return values / top if top > 0 else np.zeros_like(values)


def _positions_within(groups: List[tuple]) -> np.ndarray:
    """0..1 position of each item within its group (groups given per item, in order)."""
    out = np.zeros(len(groups))
    members = {}
    for i, key in enumerate(groups):
        members.setdefault(key, []).append(i)
    for indices in members.values():
        if len(indices) > 1:
            out[indices] = np.arange(len(indices)) / (len(indices) - 1)
    return out


def passage_features(passages: List[Passage], query: Optional[str], title: Optional[str],
                     k1: float = 1.2, b: float = 0.75) -> np.ndarray:
    """Matrix of shape (len(passages), len(FEATURE_NAMES))."""
    n = len(passages)
    features = np.zeros((n, len(FEATURE_NAMES)))
    if n == 0:
        return features
    texts = [p.text for p in passages]
    index = TermIndex.from_texts(texts)
    tfidf = index.tfidf_matrix()
    paragraphs = [(p.doc, p.paragraph) for p in passages]
    n_docs = max(p.doc for p in passages) + 1
    words = np.array([len(t.split()) for t in texts], dtype=np.float64)

    features[:, 0] = relative_positions(passages)
    features[:, 1] = _positions_within(paragraphs)
    features[:, 2] = [1.0 if i == 0 or paragraphs[i] != paragraphs[i - 1] else 0.0 for i in range(n)]
    features[:, 3] = [p.doc / (n_docs - 1) if n_docs > 1 else 0.0 for p in passages]
    features[:, 4] = np.log1p(words)
    if n <= MAX_LEXRANK_PASSAGES:
        features[:, 5] = _normalised(lexrank_scores(index))
    else:
        features[:, 5] = _normalised(tfidf @ np.asarray(tfidf.sum(axis=0)).ravel())
    _, terms, weights = pseudo_query(index, query, title)
    features[:, 6] = _normalised(index.bm25_matrix(k1, b) @ index.query_vector(terms, weights))
    features[:, 7] = 1.0 if query else 0.0
    features[:, 8] = cosine_to_text(index, tfidf, title) if title else 0.0
    features[:, 9] = cosine_to_text(index, tfidf, " ".join(texts[:3]))
    features[:, 10] = [sum(c.isdigit() for c in t) / max(len(t), 1) for t in texts]
    features[:, 11] = [len(_CAPITALISED.findall(t)) / max(w - 1, 1) for t, w in zip(texts, words)]
    return features
