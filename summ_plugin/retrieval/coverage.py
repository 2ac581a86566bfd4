"""ROUGE n-gram statistics computed exactly as rouge-score does, but faster. No fairseq import.

rouge-score lowercases, keeps ``[a-z0-9]+`` tokens and Porter-stems tokens longer than
three characters with NLTK's stemmer; stemming dominates its cost, so stems are cached
here per word. :func:`retrieval_coverage` equals rouge-score's ROUGE-1/2 recall of the
selected text against the reference (tests check this).
"""
from collections import Counter
from functools import lru_cache
from typing import Dict, List

from nltk.stem import porter
from rouge_score import tokenize as rouge_tokenize

_STEMMER = porter.PorterStemmer()
_NON_ALPHANUM = rouge_tokenize.NON_ALPHANUM_RE
_VALID = rouge_tokenize.VALID_TOKEN_RE


@lru_cache(maxsize=200_000)
def _stem(word: str) -> str:
    return _STEMMER.stem(word) if len(word) > 3 else word


def rouge_tokens(text: str) -> List[str]:
    """rouge-score's tokenization with stemming (``tokenize.tokenize(text, stemmer)``)."""
    words = _NON_ALPHANUM.sub(" ", text.lower()).split()
    return [s for s in (_stem(w) for w in words) if _VALID.match(s)]


def ngram_counts(tokens: List[str], n: int) -> Counter:
    return Counter(tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1))


def recall(reference: Counter, candidate: Counter) -> float:
    total = sum(reference.values())
    if total == 0:
        return 0.0
    overlap = sum(min(c, candidate[g]) for g, c in reference.items())
    return overlap / total


def retrieval_coverage(selected_text: str, reference: str) -> Dict[str, float]:
    """How much of the reference the selected source contains: ROUGE-1/2 recall."""
    reference_tokens = rouge_tokens(reference)
    selected_tokens = rouge_tokens(selected_text)
    return {
        "rouge1_recall": recall(ngram_counts(reference_tokens, 1), ngram_counts(selected_tokens, 1)),
        "rouge2_recall": recall(ngram_counts(reference_tokens, 2), ngram_counts(selected_tokens, 2)),
    }
