"""Retrieval coverage: how much of the reference the selected source contains. No fairseq import.

:func:`retrieval_coverage` is rouge-score's ROUGE-1/2 recall of the selected text against the
reference (tests check this), from the project's one ROUGE tokenizer and n-gram counts.
"""
from typing import Dict, Sequence, Union

from ..rouge_overlap import ngram_counts, score_ngram_counts
from ..rouge_tokens import tokenize

_RECALL = 1  # index of the recall in a (precision, recall, fmeasure) score


def retrieval_coverage(selected_text: str, reference: Union[str, Sequence[str]]) -> Dict[str, float]:
    """How much of the reference the selected source contains: ROUGE-1/2 recall.

    Several references (a list): the best over them, per figure (each reference is a way to
    answer; the source covers the one it covers best)."""
    references = [reference] if isinstance(reference, str) else list(reference)
    if not references:
        raise ValueError("retrieval_coverage needs at least one reference")
    selected_tokens = tokenize(selected_text)
    selected = {n: ngram_counts(selected_tokens, n) for n in (1, 2)}
    best = {"rouge1_recall": 0.0, "rouge2_recall": 0.0}
    for text in references:
        reference_tokens = tokenize(text)
        for n in (1, 2):
            recall = score_ngram_counts(ngram_counts(reference_tokens, n), selected[n])[_RECALL]
            best[f"rouge{n}_recall"] = max(best[f"rouge{n}_recall"], recall)
    return best
