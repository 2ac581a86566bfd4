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
import os
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
from tqdm import tqdm

from .base import build_retriever
from .budget import Budget
from .coverage import retrieval_coverage
from .features import passage_features
from .learned import LearnedSelector, blend_targets, passage_densities, train_selector
from .oracle import greedy_oracle
from .passages import split_passages

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
    # the objective of the chosen candidate's selector (None: no selector)
    objective: Optional[str] = None


def record_coverage(record, retriever, budget: Budget) -> Dict[str, float]:
    """ROUGE-1/2 recall of ``record``'s reference (the best of its references) by the source
    ``retriever`` selects for it."""
    selection = budget.select(record, retriever)
    return retrieval_coverage(" ".join(selection.passages), record.references)


def _labelled(task):
    """One record's passage features, density targets and greedy-oracle labels (its first reference)."""
    record, split_mode = task
    passages = split_passages(record.documents, mode=split_mode)
    features = passage_features(passages, record.query, record.title)
    texts = [p.text for p in passages]
    picks = np.zeros(len(passages))
    picks[greedy_oracle(texts, record.summary)] = 1.0
    return features, passage_densities(texts, record.references), picks


# the objectives the default trains a selector for, each scored as its own learned candidates
DEFAULT_OBJECTIVES = ("blend",)


def train_selectors_on(records: Sequence, split_mode: str, training_info: Optional[Dict] = None,
                       workers: int = 1, objectives: Sequence[str] = DEFAULT_OBJECTIVES) -> Dict[str, LearnedSelector]:
    """Label the passages of ``records`` (with summaries; in ``workers`` processes) and train one
    selector per objective: ``{objective: selector}``, leaving out an objective whose labels have
    no signal (ValueError when none has).

    All learn from the same features. "blend" (the default) learns half the greedy oracle's picks
    and half the density (reference bigrams per token, averaged over the references): the oracle
    alone covered most on papers (aclsum), the density on questions with several answers
    (SQuALITY), the blend as much as the better of the two on each. The result does not depend on
    ``workers``."""
    tasks = [(record, split_mode) for record in records]
    progress = dict(desc="selector: features and labels", unit="rec", total=len(tasks), disable=None)
    if workers > 1 and len(tasks) > 1:
        from concurrent.futures import ProcessPoolExecutor

        from ..data.pool import usable_workers

        with ProcessPoolExecutor(usable_workers(workers)) as pool:
            labelled = list(tqdm(pool.map(_labelled, tasks, chunksize=8), **progress))
    else:
        labelled = [_labelled(task) for task in tqdm(tasks, **progress)]
    targets = {"density": lambda row: row[1], "oracle": lambda row: row[2],
               "blend": lambda row: blend_targets(row[2], row[1])}
    selectors, errors = {}, []
    for objective in objectives:
        try:
            selectors[objective] = train_selector([(row[0], targets[objective](row)) for row in labelled], split_mode,
                                                  training_info, objective=objective)
        except ValueError as err:  # no passage has signal
            errors.append(f"{objective}: {err}")
    if not selectors:
        raise ValueError("; ".join(errors))
    return selectors


def train_selector_on(records: Sequence, split_mode: str, training_info: Optional[Dict] = None,
                      workers: int = 1, objective: str = DEFAULT_OBJECTIVES[0]) -> LearnedSelector:
    """One selector (summ-train-selector's): :func:`train_selectors_on` for ``objective``."""
    return train_selectors_on(records, split_mode, training_info, workers, (objective,))[objective]


def describe(name: str, options: Dict, objective: Optional[str] = None) -> str:
    shown = {k: v for k, v in options.items() if k != "selector"}
    text = name + (" " + " ".join(f"{k}={v}" for k, v in sorted(shown.items())) if shown else "")
    return text + (f" ({objective} selector)" if objective else "")


def _describe_row(row: Dict) -> str:
    return describe(row["retriever"], row["options"], row.get("objective"))


def candidates_for(records: Sequence) -> Tuple[Tuple[str, Dict], ...]:
    """The candidates scored on ``records``: the query-aware ones too when any has a query."""
    if any(record.query for record in records):
        return CANDIDATES[:1] + QUERY_CANDIDATES + CANDIDATES[1:]
    return CANDIDATES


def score_candidates(records: Sequence, selectors: Union[None, str, Dict[str, str]], budget: Budget,
                     candidates: Optional[Sequence[Tuple[str, Dict]]] = None) -> Choice:
    """Score each candidate on ``records``; the best mean ROUGE-2 recall wins, lead on ties and
    when no candidate covers the references at all (see MIN_SIGNAL_ROUGE2).

    ``selectors``: the selector file of the learned candidates, or ``{objective: file}`` to score
    each learned candidate with each (rows then carry their ``objective``). Record by record, all
    candidates in turn: the learned ones share one computation of the record's passage features.
    """
    if candidates is None:
        candidates = candidates_for(records)
    if isinstance(selectors, str):
        selectors = {None: selectors}
    selectors = selectors or {}
    table = []
    for objective, path in [(None, None)] + list(selectors.items()):
        for name, options in candidates:
            uses_selector = name == "learned" or options.get("scorer") == "learned"
            if uses_selector != (path is not None):
                continue
            row = {"retriever": name, "options": dict(options, **({"selector": path} if uses_selector else {})),
                   "records": len(records), "rouge1_recall": 0.0, "rouge2_recall": 0.0}
            if objective is not None:
                row["objective"] = objective
            table.append(row)
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
        reason = (f"{_describe_row(best)} covers more of the reference than lead "
                  f"(ROUGE-2 recall {100 * best['rouge2_recall']:.1f} vs {100 * lead['rouge2_recall']:.1f}) "
                  f"on {len(records)} held-out records")
    return Choice(best["retriever"], dict(best["options"]), table, reason, best.get("objective"))


def format_table(choice: Choice) -> str:
    lines = ["candidate | R-1 recall | R-2 recall"]
    for row in choice.table:
        chosen = (row["retriever"], row["options"], row.get("objective")) == \
            (choice.retriever, choice.options, choice.objective)
        lines.append(f"{_describe_row(row)} | {100 * row['rouge1_recall']:.1f} | "
                     f"{100 * row['rouge2_recall']:.1f}{' <- chosen' if chosen else ''}")
    return "\n".join(lines)


def _objective_path(selector_path: str, objective: str) -> str:
    root, ext = os.path.splitext(selector_path)
    return f"{root}.{objective}{ext or '.json'}"


def choose_retriever(train_records: Sequence, held_out_records: Sequence, budget: Budget,
                     selector_path: str, training_info: Optional[Dict] = None, workers: int = 1) -> Choice:
    """Train the selectors on ``train_records``, pick the best candidate on ``held_out_records``;
    the chosen selector (when a learned candidate wins) is left at ``selector_path``, nothing else.

    Without records to learn from or to score on, the choice is lead. When no selector can be
    trained (the summaries share nothing with the documents), the unlearned candidates are
    still scored, so the choice and its reason come from the held-out records.
    """
    if not train_records or not held_out_records:
        return Choice("lead", {}, [], "no records with summaries to learn from: lead (truncation)")
    try:
        selectors = train_selectors_on(train_records, budget.split_mode, training_info, workers)
    except ValueError as err:  # e.g. no passage shares an n-gram with any reference
        logger.info("no selector could be trained (%s); scoring the other candidates", err)
        selectors = {}
    paths = {objective: _objective_path(selector_path, objective) for objective in selectors}
    choice = None
    try:
        for objective, selector in selectors.items():
            selector.save(paths[objective])
        choice = score_candidates(held_out_records, paths, budget)
        if choice.objective is not None:
            os.replace(paths[choice.objective], selector_path)
            choice.options["selector"] = selector_path
        for row in choice.table:  # the table names the file kept; the others are removed below
            if row.get("objective") is None:
                continue
            if row["objective"] == choice.objective:
                row["options"]["selector"] = selector_path
            else:
                del row["options"]["selector"]
    finally:
        for path in paths.values():
            if os.path.exists(path):
                os.remove(path)
    logger.info("retriever chosen on %d held-out records (selectors trained on %d):\n%s\n%s",
                len(held_out_records), len(train_records), format_table(choice), choice.reason)
    return choice
