"""The oracle retriever: greedy ROUGE against the reference (training data only).

Greedy selection as in extractive-summarization labelling (Nallapati et al. 2017, Liu
and Lapata 2019): repeatedly add the passage that most increases ROUGE-1 F + ROUGE-2 F
of the selected set against the reference, computed with rouge-score's tokenization
(:mod:`summ_plugin.rouge_tokens`), and stop when no passage increases it. F rather than
recall, so that a long passage must earn its length. No fairseq import.
"""
import hashlib
import random
from functools import lru_cache
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..rouge_overlap import ngram_counts
from ..rouge_tokens import tokenize
from .base import Retriever, register_retriever
from .passages import Passage

PAD_MODES = ("none", "lead", "random")


class _OracleTable:
    """One record's passages as sparse counts of the reference's 1- and 2-grams.

    ``rows[k]``/``grams[k]``/``counts[k]``: one entry per (passage, reference n-gram it holds),
    ``caps[k]``: the reference's count of each n-gram, ``lengths[:, k]``: each passage's total
    n-grams (for precision). Each greedy step is then a few numpy operations over all passages.
    """

    def __init__(self, passage_texts: Sequence[str], reference: str):
        references = [ngram_counts(tokenize(reference), n) for n in (1, 2)]
        ids = [{gram: i for i, gram in enumerate(ref)} for ref in references]
        self.caps = [np.array([ref[g] for g in ref], dtype=np.float64) for ref in references]
        rows, grams, counts = ([[], []] for _ in range(3))
        self.lengths = np.zeros((len(passage_texts), 2))
        for row, text in enumerate(passage_texts):
            tokens = tokenize(text)
            self.lengths[row] = (len(tokens), max(len(tokens) - 1, 0))
            unigram_ids = ids[0]
            held = {}
            for token in tokens:
                gram = unigram_ids.get((token,))
                if gram is not None:
                    held[gram] = held.get(gram, 0) + 1
            if not held:
                continue  # no shared word, no shared bigram
            for k, found in ((0, held), (1, _count_ids(zip(tokens, tokens[1:]), ids[1]))):
                rows[k].extend([row] * len(found))
                grams[k].extend(found)
                counts[k].extend(found.values())
        self.rows = [np.asarray(r, dtype=np.int64) for r in rows]
        self.grams = [np.asarray(g, dtype=np.int64) for g in grams]
        self.counts = [np.asarray(c, dtype=np.float64) for c in counts]
        self.has_unigram = np.bincount(self.rows[0], minlength=len(passage_texts)) > 0
        self.reference_totals = [float(cap.sum()) for cap in self.caps]

    def gains(self, k: int, have: np.ndarray) -> np.ndarray:
        """Per passage: reference n-grams it would add to a selection holding ``have``."""
        room = np.maximum(self.caps[k] - have, 0.0)
        added = np.minimum(self.counts[k], room[self.grams[k]])
        return np.bincount(self.rows[k], weights=added, minlength=len(self.lengths))

    def add(self, k: int, have: np.ndarray, row: int) -> None:
        mine = self.rows[k] == row
        np.add.at(have, self.grams[k][mine], self.counts[k][mine])


def _count_ids(grams, ids: Dict) -> Dict[int, int]:
    found: Dict[int, int] = {}
    for gram in grams:
        index = ids.get(gram)
        if index is not None:
            found[index] = found.get(index, 0) + 1
    return found


@lru_cache(maxsize=2)
def _oracle_table(passage_texts: Tuple[str, ...], reference: str) -> _OracleTable:
    # cached for the last records: the oracle retriever runs the greedy search twice (F, then
    # recall) over the same passages, and tokenizing them is the larger cost
    return _OracleTable(passage_texts, reference)


def _f1_array(overlap: np.ndarray, candidate_total: np.ndarray, reference_total: float) -> np.ndarray:
    """ROUGE F1 (2PR / (P + R)) elementwise; 0 where nothing overlaps."""
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = overlap / candidate_total
        recall = overlap / reference_total
        value = 2 * precision * recall / (precision + recall)
    return np.where(overlap > 0, value, 0.0)


def greedy_oracle(passage_texts: List[str], reference: str, max_picks: Optional[int] = None,
                  objective: str = "f", start: Sequence[int] = ()) -> List[int]:
    """Indices in the order the greedy oracle picks them (only passages that add ROUGE).

    ``objective`` "f" maximises ROUGE-1 F + ROUGE-2 F (the labels); "recall" maximises
    ROUGE-1 + ROUGE-2 recall, used to go on after "f" stops (``start`` = its picks)
    so that the oracle ranks every passage that still adds reference n-grams. Each step
    takes the passage that raises the objective most (the first of equals), and stops when
    none raises it.
    """
    if objective not in ("f", "recall"):
        raise ValueError(f"objective must be 'f' or 'recall', got {objective!r}")
    table = _oracle_table(tuple(passage_texts), reference)
    totals_ref = table.reference_totals
    if not totals_ref[0]:
        return []
    active = [k for k in (0, 1) if totals_ref[k]]

    def values(overlaps_, lengths_):
        if objective == "recall":
            return sum(overlaps_[k] / totals_ref[k] for k in active)
        return sum(_f1_array(overlaps_[k], lengths_[k], totals_ref[k]) for k in active)

    have = [np.zeros(len(cap)) for cap in table.caps]
    overlaps = [0.0, 0.0]
    lengths = [0.0, 0.0]
    for index in start:
        for k in (0, 1):
            overlaps[k] += float(table.gains(k, have[k])[index])
            table.add(k, have[k], index)
            lengths[k] += table.lengths[index, k]
    best_objective = float(values([np.array([o]) for o in overlaps], [np.array([t]) for t in lengths])[0]) \
        if start else 0.0
    picked: List[int] = []
    remaining = table.has_unigram.copy()
    remaining[list(start)] = False
    while remaining.any() and (max_picks is None or len(picked) < max_picks):
        gains = [table.gains(k, have[k]) for k in (0, 1)]
        # a passage that adds no reference n-gram now never will (the selection only grows):
        # it cannot raise recall and it lowers F; drop it from the search
        remaining &= (gains[0] > 0) | (gains[1] > 0)
        if not remaining.any():
            break
        scores = values([overlaps[k] + gains[k] for k in (0, 1)],
                        [lengths[k] + table.lengths[:, k] for k in (0, 1)])
        scores = np.where(remaining, scores, -np.inf)
        best = int(np.argmax(scores))
        if not scores[best] > best_objective + 1e-12:
            break
        for k in (0, 1):
            overlaps[k] += float(gains[k][best])
            table.add(k, have[k], best)
            lengths[k] += table.lengths[best, k]
        best_objective = float(scores[best])
        picked.append(best)
        remaining[best] = False
    return picked


@register_retriever("oracle")
class OracleRetriever(Retriever):
    """Greedy ROUGE-F picks first, then passages that still add ROUGE recall, then the rest of the budget is padded per ``pad``:
    ``lead`` (default) the leading unselected passages, ``random`` the others in a
    random order seeded by the record's content (deterministic), ``none`` nothing."""

    needs_reference = True

    def __init__(self, *, pad: str = "lead"):
        if pad not in PAD_MODES:
            raise ValueError(f"oracle pad must be one of {', '.join(PAD_MODES)}, got {pad!r}")
        self.pad = pad

    def rank(self, passages: List[Passage], query, reference, title) -> List[int]:
        if not (reference and reference.strip()):
            raise ValueError("the oracle retriever needs the reference summary (training data only)")
        texts = [p.text for p in passages]
        picked = greedy_oracle(texts, reference)
        # then whatever still adds reference n-grams, most recall first: the oracle is
        # the coverage upper bound of the evaluation, F alone stops too early for that
        picked += greedy_oracle(texts, reference, objective="recall", start=picked)
        if self.pad == "none":
            return picked
        chosen = set(picked)
        rest = [i for i in range(len(passages)) if i not in chosen]
        if self.pad == "random":
            digest = hashlib.sha256("\x00".join([reference] + [p.text for p in passages])
                                    .encode("utf-8", "surrogatepass")).digest()
            random.Random(int.from_bytes(digest[:8], "big")).shuffle(rest)
        return picked + rest
