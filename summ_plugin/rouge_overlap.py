"""ROUGE-N, ROUGE-L and summary-level ROUGE-L (rougeLsum) of token lists. No fairseq import.

Each function returns ``(precision, recall, fmeasure)`` equal, to the last bit, to rouge-score
0.1.2's ``rouge_scorer`` on the same tokens (tests compare them): the same counts and the same
float expressions. What differs is the speed of the longest common subsequence: rouge-score
fills a Python list-of-lists table per sentence pair; here the table's rows are bit vectors
(Hyyro's bit-parallel LCS, one big-int step per reference token), and the one LCS that
rougeLsum takes per sentence pair is read back from them with rouge-score's own tie-breaking,
since which of several LCSs it takes changes the summary-level hit count.

``target`` is the reference and ``prediction`` the hypothesis, in rouge-score's order.
"""
from collections import Counter
from typing import Dict, List, Sequence, Tuple

Score = Tuple[float, float, float]


def fmeasure(precision: float, recall: float) -> float:
    # rouge_score.scoring.fmeasure
    if precision + recall > 0:
        return 2 * precision * recall / (precision + recall)
    return 0.0


def ngram_counts(tokens: Sequence[str], n: int) -> Counter:
    """``{n-gram tuple: occurrences}`` of ``tokens``."""
    return Counter(tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1))


def ngram_overlap(target: Counter, prediction: Counter) -> int:
    """n-grams of ``target`` also in ``prediction``, each counted at most as often as there."""
    return sum(min(count, prediction[gram]) for gram, count in target.items())


def score_ngram_counts(target: Counter, prediction: Counter) -> Score:
    overlap = ngram_overlap(target, prediction)
    precision = overlap / max(sum(prediction.values()), 1)
    recall = overlap / max(sum(target.values()), 1)
    return precision, recall, fmeasure(precision, recall)


def score_ngrams(target_tokens: Sequence[str], prediction_tokens: Sequence[str], n: int) -> Score:
    """ROUGE-N (``rouge1``, ``rouge2``, ...)."""
    return score_ngram_counts(ngram_counts(target_tokens, n), ngram_counts(prediction_tokens, n))


def _position_masks(tokens: Sequence[str]) -> Dict[str, int]:
    """token -> bit mask of its positions in ``tokens``."""
    masks: Dict[str, int] = {}
    for j, token in enumerate(tokens):
        masks[token] = masks.get(token, 0) | (1 << j)
    return masks


def _lcs_rows(target: Sequence[str], masks: Dict[str, int], width: int) -> List[int]:
    """The LCS table of ``target`` (rows) against the prediction of ``masks`` (``width`` columns),
    one bit vector per row: ``table[i][j] = j - popcount(rows[i] & (2**j - 1))``."""
    full = (1 << width) - 1
    row = full
    rows = [row]
    for token in target:
        matches = row & masks.get(token, 0)
        if matches:
            row = ((row + matches) | (row - matches)) & full
        rows.append(row)
    return rows


def lcs_length(target: Sequence[str], prediction: Sequence[str]) -> int:
    if not target or not prediction:
        return 0
    return len(prediction) - _lcs_rows(target, _position_masks(prediction), len(prediction))[-1].bit_count()


def lcs_target_indices(target: Sequence[str], prediction: Sequence[str], masks: Dict[str, int]) -> List[int]:
    """rouge-score's ``lcs_ind(target, prediction)``: target positions of one LCS, the one its
    backtracking picks (diagonal on a match, else left only when strictly better, else up)."""
    width = len(prediction)
    if not target or not width:
        return []
    rows = _lcs_rows(target, masks, width)
    remaining = width - rows[-1].bit_count()
    found = []
    i, j = len(target), width
    while remaining and i > 0 and j > 0:
        token = target[i - 1]
        if token == prediction[j - 1]:
            found.append(i - 1)
            remaining -= 1
            i -= 1
            j -= 1
            continue
        if token not in masks:
            # a row of a token the prediction lacks equals the row above, so table[i][j - 1]
            # is at most table[i - 1][j]: rouge-score goes up
            i -= 1
            continue
        below = (1 << (j - 1)) - 1
        left = (j - 1) - (rows[i] & below).bit_count()  # table[i][j - 1]
        up = j - (rows[i - 1] & (below | (1 << (j - 1)))).bit_count()  # table[i - 1][j]
        if left > up:
            j -= 1
        else:
            i -= 1
    found.reverse()
    return found


def score_lcs(target_tokens: Sequence[str], prediction_tokens: Sequence[str]) -> Score:
    """ROUGE-L over the whole texts (``rougeL``)."""
    if not target_tokens or not prediction_tokens:
        return 0, 0, 0  # rouge-score's own (integer) zeros
    length = lcs_length(target_tokens, prediction_tokens)
    precision = length / len(prediction_tokens)
    recall = length / len(target_tokens)
    return precision, recall, fmeasure(precision, recall)


def score_summary_lcs(target_sentences: Sequence[Sequence[str]], prediction_sentences: Sequence[Sequence[str]]) -> Score:
    """Summary-level ROUGE-L (``rougeLsum``, ROUGE paper section 3.2, as ROUGE-1.5.5 counts it):
    per target sentence the union of its LCSs with every prediction sentence, each token
    counted at most as often as it occurs on both sides."""
    if not target_sentences or not prediction_sentences:
        return 0, 0, 0
    m = sum(map(len, target_sentences))
    n = sum(map(len, prediction_sentences))
    if not n or not m:
        return 0, 0, 0
    target_left = Counter()
    prediction_left = Counter()
    for sentence in target_sentences:
        target_left.update(sentence)
    for sentence in prediction_sentences:
        prediction_left.update(sentence)
    prepared = [(sentence, _position_masks(sentence)) for sentence in prediction_sentences]
    hits = 0
    for target in target_sentences:
        union = set()
        for prediction, masks in prepared:
            union.update(lcs_target_indices(target, prediction, masks))
        for token in (target[i] for i in sorted(union)):
            if prediction_left[token] > 0 and target_left[token] > 0:
                hits += 1
                prediction_left[token] -= 1
                target_left[token] -= 1
    recall = hits / m
    precision = hits / n
    return precision, recall, fmeasure(precision, recall)
