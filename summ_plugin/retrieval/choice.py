"""Choosing the retriever on held-out records: the default that cannot lose to truncation.

No fairseq import. :func:`choose_retriever` trains a learned selector on (a bounded sample of)
records with summaries, scores the candidates by how much of the reference their selected source
covers (mean ROUGE-2 recall, ROUGE-1 recall on ties; the best of a record's references) on
held-out records under the real token budget, and returns the best:

* always ``lead`` (= truncation), ``learned`` and lead+learned hybrids;
* when the records carry a query, also the query-aware ones: ``bm25`` (the question as query)
  and a lead+bm25 hybrid. The learned selector sees the question too (its features,
  docs/RETRIEVAL.md).

``lead`` wins ties, and is kept when the held-out summaries share (next to) nothing with what any
candidate selects: a choice then would be noise (issue 25, item 7).
"""
import logging
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

from tqdm import tqdm

from .base import build_retriever
from .budget import Budget
from .coverage import retrieval_coverage
from .learned import LearnedSelector, density_labelled_features, train_selector

logger = logging.getLogger(__name__)

# (name, options) in the order they are tried; "selector" is filled in with the trained file
CANDIDATES: Tuple[Tuple[str, Dict], ...] = (
    ("lead", {}),
    ("learned", {}),
    ("hybrid", {"scorer": "learned", "lead_share": 0.25}),
    ("hybrid", {"scorer": "learned", "lead_share": 0.5}),
    ("hybrid", {"scorer": "learned", "lead_share": 0.75}),
)
# added when the held-out records carry a query
QUERY_CANDIDATES: Tuple[Tuple[str, Dict], ...] = (
    ("bm25", {}),
    ("hybrid", {"scorer": "bm25", "lead_share": 0.25}),
)
# below this mean ROUGE-2 recall (a fraction) for every candidate, the summaries share next to
# nothing with the documents (another language, copies of the query): no signal to choose on
MIN_SIGNAL_ROUGE2 = 0.005


@dataclass
class Choice:
    retriever: str
    options: Dict
    # one row per candidate: name, options, mean rouge1/rouge2 recall, records
    table: List[Dict] = field(default_factory=list)
    reason: str = ""


def record_coverage(record, retriever, budget: Budget) -> Dict[str, float]:
    """ROUGE-1/2 recall of ``record``'s reference (the best of its references) by the source
    ``retriever`` selects for it."""
    selection = budget.select(record, retriever)
    return retrieval_coverage(" ".join(selection.passages), record.references)


def _labelled(task):
    record, split_mode = task
    return density_labelled_features(record.documents, record.query, record.title, record.references, split_mode)


def train_selector_on(records: Sequence, split_mode: str, training_info: Optional[Dict] = None,
                      workers: int = 1) -> LearnedSelector:
    """Label the passages of ``records`` (with summaries; in ``workers`` processes) with their
    density (reference n-grams per token, averaged over the references) and train a selector.

    The density objective: what fills a budget best is the densest text, and on questions it
    covered more than the oracle's 0/1 picks (docs/RETRIEVAL.md). The result does not depend on
    ``workers`` (order is kept)."""
    tasks = [(record, split_mode) for record in records]
    progress = dict(desc="selector: features and targets", unit="rec", total=len(tasks), disable=None)
    if workers > 1 and len(tasks) > 1:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(workers) as pool:
            examples = list(tqdm(pool.map(_labelled, tasks, chunksize=8), **progress))
    else:
        examples = [_labelled(task) for task in tqdm(tasks, **progress)]
    return train_selector(examples, split_mode, training_info, objective="density")


def describe(name: str, options: Dict) -> str:
    shown = {k: v for k, v in options.items() if k != "selector"}
    return name + (" " + " ".join(f"{k}={v}" for k, v in sorted(shown.items())) if shown else "")


def candidates_for(records: Sequence) -> Tuple[Tuple[str, Dict], ...]:
    """The candidates scored on ``records``: the query-aware ones too when any has a query."""
    if any(record.query for record in records):
        return CANDIDATES[:1] + QUERY_CANDIDATES + CANDIDATES[1:]
    return CANDIDATES


def score_candidates(records: Sequence, selector_path: Optional[str], budget: Budget,
                     candidates: Optional[Sequence[Tuple[str, Dict]]] = None) -> Choice:
    """Score each candidate on ``records``; the best mean ROUGE-2 recall wins, lead on ties and
    when no candidate covers the references at all (see MIN_SIGNAL_ROUGE2).

    Record by record, all candidates in turn: the learned ones then share one computation of
    the record's passage features (the learned retriever keeps the last record's features).
    """
    if candidates is None:
        candidates = candidates_for(records)
    table = []
    for name, options in candidates:
        uses_selector = name == "learned" or options.get("scorer") == "learned"
        if uses_selector and selector_path is None:
            continue
        options = dict(options, **({"selector": selector_path} if uses_selector else {}))
        table.append({"retriever": name, "options": options, "records": len(records),
                      "rouge1_recall": 0.0, "rouge2_recall": 0.0})
    retrievers = [build_retriever(row["retriever"], **row["options"]) for row in table]
    for record in tqdm(records, desc="scoring candidates", unit="rec", disable=None, leave=False):
        for row, retriever in zip(table, retrievers):
            coverage = record_coverage(record, retriever, budget)
            for key in ("rouge1_recall", "rouge2_recall"):
                row[key] += coverage[key] / max(len(records), 1)
    # max() keeps the first of equals, and lead is first: it wins ties
    best = max(table, key=lambda row: (round(row["rouge2_recall"], 9), round(row["rouge1_recall"], 9)))
    lead = table[0]
    if best["rouge2_recall"] < MIN_SIGNAL_ROUGE2:
        reason = (f"no signal: on {len(records)} held-out records the references share next to no bigram with "
                  f"what any candidate selects (best ROUGE-2 recall {100 * best['rouge2_recall']:.2f}, below "
                  f"{100 * MIN_SIGNAL_ROUGE2:.1f}; summaries in another language, or not about the documents?), "
                  f"so no candidate is measurably better: lead (truncation)")
        best = lead
    elif best is lead:
        reason = f"lead covers the reference at least as well as every other candidate on {len(records)} held-out records"
    else:
        reason = (f"{describe(best['retriever'], best['options'])} covers more of the reference than lead "
                  f"(ROUGE-2 recall {100 * best['rouge2_recall']:.1f} vs {100 * lead['rouge2_recall']:.1f}) "
                  f"on {len(records)} held-out records")
    return Choice(best["retriever"], dict(best["options"]), table, reason)


def format_table(choice: Choice) -> str:
    lines = ["candidate | R-1 recall | R-2 recall"]
    for row in choice.table:
        mark = " <- chosen" if (row["retriever"], row["options"]) == (choice.retriever, choice.options) else ""
        lines.append(f"{describe(row['retriever'], row['options'])} | {100 * row['rouge1_recall']:.1f} | "
                     f"{100 * row['rouge2_recall']:.1f}{mark}")
    return "\n".join(lines)


def choose_retriever(train_records: Sequence, held_out_records: Sequence, budget: Budget,
                     selector_path: str, training_info: Optional[Dict] = None, workers: int = 1) -> Choice:
    """Train a selector on ``train_records``, save it to ``selector_path``, pick the best candidate.

    Without records to learn from or to score on, the choice is lead. When no selector can be
    trained (the summaries share nothing with the documents), the unlearned candidates are
    still scored, so the choice and its reason come from the held-out records.
    """
    if not train_records or not held_out_records:
        return Choice("lead", {}, [], "no records with summaries to learn from: lead (truncation)")
    try:
        selector = train_selector_on(train_records, budget.split_mode, training_info, workers)
    except ValueError as err:  # e.g. no passage shares an n-gram with any reference
        logger.info("no selector could be trained (%s); scoring the other candidates", err)
        selector = None
    if selector is not None:
        selector.save(selector_path)
    choice = score_candidates(held_out_records, selector_path if selector is not None else None, budget)
    logger.info("retriever chosen on %d held-out records (selector trained on %d):\n%s\n%s",
                len(held_out_records), len(train_records), format_table(choice), choice.reason)
    return choice
