"""Corpus ROUGE: the figures of Google's ``rouge-score`` (``RougeScorer`` with the four types
and stemming), per sample, summed and bootstrapped. No fairseq import.

Per pair, texts are tokenized by :mod:`summ_plugin.rouge_tokens` (rouge-score's tokenization,
stems cached) and scored by :mod:`summ_plugin.rouge_overlap` (rouge-score's arithmetic, a
bit-parallel LCS): equal to ``RougeScorer.score`` to the last bit and several times faster.

Three consumers, one set of figures:

* the task's ``--eval-rouge`` logs :func:`rouge_sums` per validation batch; fairseq sums
  logging outputs over batches and workers, and :func:`rouge_from_sums` turns the totals
  into the epoch figure, so it is the exact mean over all samples (never a mean of batch
  means);
* ``summ-score`` calls :func:`score_corpus` (means, bootstrap 95% confidence intervals,
  parallel per-sample scoring);
* tests compare all of them with a direct ``rouge_score.RougeScorer`` loop.

Every text goes through :func:`prepare_for_lsum` first: ``rougeLsum`` (summary-level LCS,
the ROUGE-L that papers report from Perl ROUGE-1.5.5) needs one sentence per line, and
``rouge-score`` ignores newlines for the other types, so the preparation changes nothing
for rouge1/rouge2/rougeL.
"""
import logging
import multiprocessing
import re
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from summ_plugin.rouge_overlap import score_lcs, score_ngrams, score_summary_lcs
from summ_plugin.rouge_tokens import tokenize

logger = logging.getLogger(__name__)

ROUGE_TYPES = ("rouge1", "rouge2", "rougeL", "rougeLsum")
# order of the statistics inside a per-sample score matrix and inside the sums
STATISTICS = ("precision", "recall", "fmeasure")
_STAT_SHORT = {"precision": "p", "recall": "r", "fmeasure": "f"}
# keys of :func:`rouge_sums`; all of them are additive across batches and workers
COUNT_KEY = "count"
SUM_KEYS = tuple(f"{t}_{_STAT_SHORT[s]}" for t in ROUGE_TYPES for s in STATISTICS) + (COUNT_KEY,)

# PEGASUS/XSum-style files mark sentence boundaries inside one line with a literal "<n>"
_NEWLINE_MARKER = re.compile(r"\s*<n>\s*")

# below this many pairs, worker start-up costs more than it saves
MIN_PAIRS_PER_WORKER = 200

def _split_sentences(text: str) -> List[str]:
    # the project's one sentence splitter, shared with retrieval
    from summ_plugin.retrieval import split_sentences

    return split_sentences(text)


def prepare_for_lsum(text: str) -> str:
    """``text`` with one sentence per line, as ``rougeLsum`` needs.

    Existing newlines (and literal ``<n>`` markers) are kept as sentence boundaries; each
    line is then split further with :func:`summ_plugin.retrieval.split_sentences`.
    Blank lines are dropped.
    """
    if not isinstance(text, str):
        raise TypeError(f"expected a str, got {type(text).__name__}")
    text = _NEWLINE_MARKER.sub("\n", text)
    sentences = []
    for line in text.split("\n"):
        line = line.strip()
        if not line:
            continue
        sentences.extend(s.strip() for s in _split_sentences(line) if s.strip())
    return "\n".join(sentences)


def score_prepared(hyp: str, ref: str) -> Dict[str, Tuple[float, float, float]]:
    """rouge-score's ``RougeScorer(ROUGE_TYPES, use_stemmer=True).score(ref, hyp)`` as
    ``{rouge_type: (precision, recall, f1)}``, for texts already one sentence per line."""
    # rouge-score tokenizes the whole text for rouge1/2/L and each line for rougeLsum; a
    # newline is a separator to its tokenizer, so the whole text's tokens are the lines' tokens
    # joined, and each line is tokenized once. Lines of no characters are dropped, as it does.
    ref_lines = [tokenize(line) for line in ref.split("\n") if line]
    hyp_lines = [tokenize(line) for line in hyp.split("\n") if line]
    ref_tokens = [token for line in ref_lines for token in line]
    hyp_tokens = [token for line in hyp_lines for token in line]
    return {
        "rouge1": score_ngrams(ref_tokens, hyp_tokens, 1),
        "rouge2": score_ngrams(ref_tokens, hyp_tokens, 2),
        "rougeL": score_lcs(ref_tokens, hyp_tokens),
        "rougeLsum": score_summary_lcs(ref_lines, hyp_lines),
    }


def score_pair(hyp: str, ref: str) -> Dict[str, Tuple[float, float, float]]:
    """``{rouge_type: (precision, recall, f1)}`` for one hypothesis against one reference.

    Values are fractions in [0, 1], exactly rouge-score's (stemming on) on the
    sentence-split texts.
    """
    return score_prepared(prepare_for_lsum(hyp), prepare_for_lsum(ref))


def score_multi(hyp: str, refs: Union[str, Sequence[str]]) -> Dict[str, Tuple[float, float, float]]:
    """Against several references: per ROUGE type, the scores of the reference with the best
    F1 (the first of equals), as rouge-score's ``RougeScorer.score_multi`` does. A string is one
    reference (:func:`score_pair`)."""
    if isinstance(refs, str):
        return score_pair(hyp, refs)
    if not refs:
        raise ValueError("score_multi needs at least one reference")
    prepared = prepare_for_lsum(hyp)
    scores = [score_prepared(prepared, prepare_for_lsum(ref)) for ref in refs]
    return {rouge_type: max(scores, key=lambda s: s[rouge_type][2])[rouge_type]
            for rouge_type in ROUGE_TYPES}


def _check_pairs(hyps: Sequence[str], refs: Sequence[str]) -> None:
    if len(hyps) != len(refs):
        raise ValueError(f"{len(hyps)} hypotheses but {len(refs)} references")


def _score_rows(pairs: Sequence[Tuple[str, str]]) -> np.ndarray:
    """Per-sample matrix, shape (len(pairs), len(ROUGE_TYPES), 3): P, R, F per type."""
    out = np.zeros((len(pairs), len(ROUGE_TYPES), len(STATISTICS)), dtype=np.float64)
    for i, (hyp, ref) in enumerate(pairs):
        scores = score_multi(hyp, ref)
        for j, rouge_type in enumerate(ROUGE_TYPES):
            out[i, j] = scores[rouge_type]
    return out


def score_samples(
    hyps: Sequence[str], refs: Sequence[str], workers: int = 1, chunk_size: int = 64, progress: bool = False
) -> np.ndarray:
    """Score every pair; returns the per-sample matrix (n, len(ROUGE_TYPES), 3) of P, R, F.

    With ``workers > 1`` and enough pairs, chunks are scored in a process pool; ``imap``
    keeps them in order, so the result is identical to the serial one.
    """
    _check_pairs(hyps, refs)
    pairs = list(zip(hyps, refs))
    n = len(pairs)
    if n == 0:
        return np.zeros((0, len(ROUGE_TYPES), len(STATISTICS)), dtype=np.float64)
    from summ_plugin.data.pool import usable_workers

    workers = usable_workers(max(1, int(workers)))
    useful_workers = min(workers, max(1, n // MIN_PAIRS_PER_WORKER))
    if useful_workers < workers:
        logger.info(
            "scoring %d pairs with %d worker(s) instead of %d (fewer than %d pairs per worker)",
            n, useful_workers, workers, MIN_PAIRS_PER_WORKER,
        )
    chunks = [pairs[i : i + chunk_size] for i in range(0, n, chunk_size)]
    from tqdm import tqdm

    bar = tqdm(total=n, desc="ROUGE", unit="pair", disable=not progress)
    parts = []
    try:
        if useful_workers == 1:
            for chunk in chunks:
                parts.append(_score_rows(chunk))
                bar.update(len(chunk))
        else:
            with multiprocessing.get_context().Pool(useful_workers) as pool:
                for part in pool.imap(_score_rows, chunks):
                    parts.append(part)
                    bar.update(len(part))
    finally:
        bar.close()
    return np.concatenate(parts, axis=0)


def rouge_sums(hyps: Sequence[str], refs: Sequence[str]) -> Dict[str, float]:
    """Additive ROUGE statistics of a batch: sums of P, R and F1 per type, and ``count``.

    Keys are :data:`SUM_KEYS` (``rouge1_p``, ``rouge1_r``, ``rouge1_f``: sums over the batch, ...,
    ``count``). Sums of these over any partition of the samples (batches, workers) equal
    the sums over the whole, so :func:`rouge_from_sums` of the totals is exact.
    """
    matrix = score_samples(hyps, refs)
    sums = {}
    for j, rouge_type in enumerate(ROUGE_TYPES):
        for k, stat in enumerate(STATISTICS):
            sums[f"{rouge_type}_{_STAT_SHORT[stat]}"] = float(matrix[:, j, k].sum())
    sums[COUNT_KEY] = len(hyps)
    return sums


def rouge_from_sums(sums: Mapping[str, float], statistic: str = "fmeasure") -> Dict[str, float]:
    """``{rouge_type: mean * 100}`` from (summed) :func:`rouge_sums` statistics.

    ``statistic`` is ``"fmeasure"`` (default), ``"precision"`` or ``"recall"``. A count of
    zero (nothing was scored) is an error: a zero would look like a real, bad score.
    """
    if statistic not in _STAT_SHORT:
        raise ValueError(f"statistic must be one of {list(_STAT_SHORT)}, got {statistic!r}")
    missing = [k for k in SUM_KEYS if k not in sums]
    if missing:
        raise KeyError(f"ROUGE sums lack keys {missing[:4]}")
    count = float(sums[COUNT_KEY])
    if count <= 0:
        raise ValueError("no samples were scored (count is 0)")
    short = _STAT_SHORT[statistic]
    return {t: 100.0 * float(sums[f"{t}_{short}"]) / count for t in ROUGE_TYPES}


def add_sums(a: Mapping[str, float], b: Mapping[str, float]) -> Dict[str, float]:
    """Element-wise sum of two :func:`rouge_sums` dicts (what fairseq's reduction does)."""
    return {k: a.get(k, 0) + b.get(k, 0) for k in SUM_KEYS}


def bootstrap_ci(
    values: np.ndarray, n_resamples: int = 1000, seed: int = 0, confidence: float = 0.95,
    max_elements: int = 4_000_000,
) -> Tuple[np.ndarray, np.ndarray]:
    """Percentile bootstrap CI of the column means of ``values`` (shape (n, k)).

    One set of resampled indices serves all k columns: a block of resamples is one (b, n)
    index array, turned into per-resample counts of each sample, and the block's k column
    means are one (b, n) x (n, k) product; ``max_elements`` bounds the block's b * n.
    Deterministic for a given seed and n.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2 or values.shape[0] == 0:
        raise ValueError(f"expected a non-empty (n, k) matrix, got shape {values.shape}")
    n, k = values.shape
    rng = np.random.default_rng(seed)
    block = max(1, min(n_resamples, max_elements // n))
    means = np.empty((n_resamples, k), dtype=np.float64)
    for start in range(0, n_resamples, block):
        b = min(block, n_resamples - start)
        idx = rng.integers(0, n, size=(b, n))
        # row r of counts: how often resample start + r drew each sample
        idx += np.arange(b, dtype=idx.dtype)[:, None] * n
        counts = np.bincount(idx.ravel(), minlength=b * n).reshape(b, n).astype(np.float64)
        means[start : start + b] = (counts @ values) / n
    alpha = (1.0 - confidence) / 2.0
    low = np.quantile(means, alpha, axis=0)
    high = np.quantile(means, 1.0 - alpha, axis=0)
    return low, high


def score_corpus(
    hyps: Sequence[str], refs: Sequence[str], workers: int = 1, bootstrap: int = 1000, seed: int = 0,
    progress: bool = False, samples: Optional[np.ndarray] = None,
) -> Dict[str, Dict[str, Dict[str, float]]]:
    """Corpus ROUGE: ``{type: {stat: {"mean", "low", "high"}}}`` in percent (0-100).

    ``mean`` is the exact mean over samples of rouge-score's per-sample figure; ``low`` /
    ``high`` the percentile bootstrap 95% CI (``bootstrap`` resamples; 0 disables it, then
    low == high == mean). ``samples`` may pass a matrix from :func:`score_samples` to avoid
    rescoring.
    """
    if samples is None:
        samples = score_samples(hyps, refs, workers=workers, progress=progress)
    n = samples.shape[0]
    if n == 0:
        raise ValueError("nothing to score: no hypothesis/reference pairs")
    flat = samples.reshape(n, -1)
    mean = flat.mean(axis=0)
    if bootstrap and bootstrap > 0:
        low, high = bootstrap_ci(flat, n_resamples=int(bootstrap), seed=seed)
    else:
        low, high = mean, mean
    result: Dict[str, Dict[str, Dict[str, float]]] = {}
    for j, rouge_type in enumerate(ROUGE_TYPES):
        result[rouge_type] = {}
        for k, stat in enumerate(STATISTICS):
            col = j * len(STATISTICS) + k
            result[rouge_type][stat] = {
                "mean": 100.0 * float(mean[col]),
                "low": 100.0 * float(low[col]),
                "high": 100.0 * float(high[col]),
            }
    return result
