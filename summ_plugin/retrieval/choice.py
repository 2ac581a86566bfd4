"""Choosing the retriever on held-out records: the default that cannot lose to truncation.

No fairseq import. :func:`choose_retriever` trains a learned selector on (a bounded
sample of) records with summaries, scores the candidates -- ``lead`` (= truncation),
``learned`` and lead+learned hybrids -- by how much of the reference their selected
source covers (mean ROUGE-2 recall, ROUGE-1 recall on ties) on held-out records under the
real token budget, and returns the best. ``lead`` wins ties: a learned input is used only
when it measurably covers more.
"""
import logging
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

from tqdm import tqdm

from .base import build_retriever
from .budget import Budget
from .coverage import retrieval_coverage
from .learned import LearnedSelector, oracle_labelled_features, train_selector

logger = logging.getLogger(__name__)

# (name, options) in the order they are tried; "selector" is filled in with the trained file
CANDIDATES: Tuple[Tuple[str, Dict], ...] = (
    ("lead", {}),
    ("learned", {}),
    ("hybrid", {"scorer": "learned", "lead_share": 0.25}),
    ("hybrid", {"scorer": "learned", "lead_share": 0.5}),
    ("hybrid", {"scorer": "learned", "lead_share": 0.75}),
)


@dataclass
class Choice:
    retriever: str
    options: Dict
    # one row per candidate: name, options, mean rouge1/rouge2 recall, records
    table: List[Dict] = field(default_factory=list)
    reason: str = ""


def record_coverage(record, retriever, budget: Budget) -> Dict[str, float]:
    """ROUGE-1/2 recall of ``record``'s reference by the source ``retriever`` selects for it."""
    selection = budget.select(record, retriever)
    return retrieval_coverage(" ".join(selection.passages), record.summary)


def _labelled(task):
    record, split_mode = task
    return oracle_labelled_features(record.documents, record.query, record.title, record.summary, split_mode)


def train_selector_on(records: Sequence, split_mode: str, training_info: Optional[Dict] = None,
                      workers: int = 1) -> LearnedSelector:
    """Oracle-label ``records`` (with summaries; in ``workers`` processes) and train a selector.

    Labelling dominates the cost; the result does not depend on ``workers`` (order is kept)."""
    tasks = [(record, split_mode) for record in records]
    progress = dict(desc="selector: oracle labels", unit="rec", total=len(tasks), disable=None)
    if workers > 1 and len(tasks) > 1:
        from concurrent.futures import ProcessPoolExecutor

        from ..data.pool import usable_workers

        with ProcessPoolExecutor(usable_workers(workers)) as pool:
            examples = list(tqdm(pool.map(_labelled, tasks, chunksize=8), **progress))
    else:
        examples = [_labelled(task) for task in tqdm(tasks, **progress)]
    return train_selector(examples, split_mode, training_info)


def describe(name: str, options: Dict) -> str:
    shown = {k: v for k, v in options.items() if k != "selector"}
    return name + (" " + " ".join(f"{k}={v}" for k, v in sorted(shown.items())) if shown else "")


def score_candidates(records: Sequence, selector_path: Optional[str], budget: Budget,
                     candidates: Sequence[Tuple[str, Dict]] = CANDIDATES) -> Choice:
    """Score each candidate on ``records``; the best mean ROUGE-2 recall wins, lead on ties.

    Record by record, all candidates in turn: the learned ones then share one computation of
    the record's passage features (the learned retriever keeps the last record's scores).
    """
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
    if best is lead:
        reason = f"lead covers the reference at least as well as every learned candidate on {len(records)} held-out records"
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

    Without records to learn from or to score on, the choice is lead.
    """
    if not train_records or not held_out_records:
        return Choice("lead", {}, [], "no records with summaries to learn from: lead (truncation)")
    try:
        selector = train_selector_on(train_records, budget.split_mode, training_info, workers)
    except ValueError as err:  # e.g. the oracle picked nothing anywhere
        return Choice("lead", {}, [], f"no selector could be trained ({err}): lead (truncation)")
    selector.save(selector_path)
    choice = score_candidates(held_out_records, selector_path, budget)
    logger.info("retriever chosen on %d held-out records (selector trained on %d):\n%s\n%s",
                len(held_out_records), len(train_records), format_table(choice), choice.reason)
    return choice
