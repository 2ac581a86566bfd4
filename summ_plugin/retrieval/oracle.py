"""The oracle retriever: greedy ROUGE against the reference (training data only).

Greedy selection as in extractive-summarization labelling (Nallapati et al. 2017, Liu
and Lapata 2019): repeatedly add the passage that most increases ROUGE-1 F + ROUGE-2 F
of the selected set against the reference, computed with rouge-score's tokenizer and
stemmer, and stop when no passage increases it. F rather than recall, so that a long
passage must earn its length. No fairseq import.
"""
import hashlib
import random
from functools import lru_cache
from typing import Dict, List, Optional, Sequence, Tuple

from .base import Retriever, register_retriever
from .coverage import ngram_counts, rouge_tokens
from .passages import Passage

PAD_MODES = ("none", "lead", "random")


def _f1(overlap: float, candidate_total: float, reference_total: float) -> float:
    if overlap <= 0:
        return 0.0
    precision = overlap / candidate_total
    recall = overlap / reference_total
    return 2 * precision * recall / (precision + recall)


@lru_cache(maxsize=2)
def _oracle_candidates(passage_texts: Tuple[str, ...], reference: str):
    """The reference's 1-/2-gram counts and, per passage, its n-gram counts restricted to the
    reference (others never overlap) and its total n-gram counts (for precision).

    Cached for the last records: the oracle retriever runs the greedy search twice (F, then
    recall) over the same passages, and tokenizing them is half the cost.
    """
    references = [ngram_counts(rouge_tokens(reference), n) for n in (1, 2)]
    unigrams, bigrams = references
    candidates = []
    for text in passage_texts:
        tokens = rouge_tokens(text)
        useful_1: Dict[tuple, int] = {}
        for token in tokens:
            gram = (token,)
            if gram in unigrams:
                useful_1[gram] = useful_1.get(gram, 0) + 1
        useful_2: Dict[tuple, int] = {}
        if useful_1:  # no shared word, no shared bigram
            for gram in zip(tokens, tokens[1:]):
                if gram in bigrams:
                    useful_2[gram] = useful_2.get(gram, 0) + 1
        candidates.append(([useful_1, useful_2], [len(tokens), max(len(tokens) - 1, 0)]))
    return references, candidates


def greedy_oracle(passage_texts: List[str], reference: str, max_picks: Optional[int] = None,
                  objective: str = "f", start: Sequence[int] = ()) -> List[int]:
    """Indices in the order the greedy oracle picks them (only passages that add ROUGE).

    ``objective`` "f" maximises ROUGE-1 F + ROUGE-2 F (the labels); "recall" maximises
    ROUGE-1 + ROUGE-2 recall, used to go on after "f" stops (``start`` = its picks)
    so that the oracle ranks every passage that still adds reference n-grams.
    """
    if objective not in ("f", "recall"):
        raise ValueError(f"objective must be 'f' or 'recall', got {objective!r}")
    references, candidates = _oracle_candidates(tuple(passage_texts), reference)
    reference_totals = [sum(r.values()) for r in references]
    if not reference_totals[0]:
        return []

    def value_of(overlaps_, totals_):
        if objective == "recall":
            return sum(overlaps_[k] / reference_totals[k] for k in (0, 1) if reference_totals[k])
        return sum(_f1(overlaps_[k], totals_[k], reference_totals[k]) for k in (0, 1) if reference_totals[k])

    selected_counts = [dict(), dict()]
    overlaps = [0, 0]
    totals = [0, 0]
    for index in start:
        useful, cand_totals = candidates[index]
        for k in (0, 1):
            chosen = selected_counts[k]
            for gram, count in useful[k].items():
                have = chosen.get(gram, 0)
                overlaps[k] += max(0, min(references[k][gram], have + count) - have)
                chosen[gram] = have + count
            totals[k] += cand_totals[k]
    best_objective = value_of(overlaps, totals)
    picked: List[int] = []
    already = set(start)
    remaining = [i for i, (useful, _) in enumerate(candidates) if useful[0] and i not in already]
    while remaining and (max_picks is None or len(picked) < max_picks):
        best_index, best_value, best_state = None, best_objective, None
        still_useful = []
        for index in remaining:
            useful, cand_totals = candidates[index]
            new_overlaps = list(overlaps)
            for k in (0, 1):
                reference, chosen = references[k], selected_counts[k]
                for gram, count in useful[k].items():
                    have = chosen.get(gram, 0)
                    cap = reference[gram]
                    if have < cap:
                        new_overlaps[k] += min(cap, have + count) - have
            if new_overlaps == overlaps:
                # adds no reference n-gram now, so never will (the selection only grows): it
                # cannot raise recall, and it lowers F; drop it from the search (same picks)
                continue
            still_useful.append(index)
            value = value_of(new_overlaps, [totals[k] + cand_totals[k] for k in (0, 1)])
            if value > best_value + 1e-12:
                best_index, best_value, best_state = index, value, new_overlaps
        remaining = still_useful
        if best_index is None:
            break
        useful, cand_totals = candidates[best_index]
        for k in (0, 1):
            for gram, count in useful[k].items():
                selected_counts[k][gram] = selected_counts[k].get(gram, 0) + count
            totals[k] += cand_totals[k]
        overlaps, best_objective = best_state, best_value
        picked.append(best_index)
        remaining.remove(best_index)
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
