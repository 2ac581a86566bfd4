"""Retrieval coverage: how much of the reference the selected source contains. No fairseq import.

:func:`retrieval_coverage` is rouge-score's ROUGE-1/2 recall of the selected text against the
reference (tests check this), from the project's one ROUGE tokenizer and n-gram counts.
"""
from typing import Dict

from ..rouge_overlap import ngram_counts, score_ngram_counts
from ..rouge_tokens import tokenize

_RECALL = 1  # index of the recall in a (precision, recall, fmeasure) score


def retrieval_coverage(selected_text: str, reference: str) -> Dict[str, float]:
    """How much of the reference the selected source contains: ROUGE-1/2 recall."""
    reference_tokens = tokenize(reference)
    selected_tokens = tokenize(selected_text)
    return {
        f"rouge{n}_recall": score_ngram_counts(ngram_counts(reference_tokens, n), ngram_counts(selected_tokens, n))[_RECALL]
        for n in (1, 2)
    }
