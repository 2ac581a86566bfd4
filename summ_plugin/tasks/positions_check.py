"""The model's position limits against the budget the data-bin was prepared for.

summ-prepare fits every source into ``--max-source-positions`` (and truncates targets to
``--max-target-positions``) and records both in ``prepare.json``. A model with fewer positions
cannot take those examples: with ``--skip-invalid-size-inputs-valid-test`` (the published
recipe) fairseq drops them with a WARNING (a third of the data in the probe), without it it
fails mid-epoch. Stop at set-up instead, saying which number to change.
"""
import os
from typing import Dict, Optional

from fairseq import utils

from ..checkpoints import DataBinError
from ..data.data_bin import read_prepare_json


class PositionsMismatchError(DataBinError):
    """The data-bin was prepared for more positions than the model or task has."""


def prepared_budget(data: str) -> Optional[Dict]:
    """``prepare.json``'s budget for a data path (a data-bin, or ``D/shard0:D/shard1``), if any."""
    first = utils.split_paths(data)[0] if data else None
    if not first:
        return None
    for directory in (first, os.path.dirname(os.path.normpath(first))):
        path = os.path.join(directory, "prepare.json")
        if os.path.isfile(path):
            try:
                budget = read_prepare_json(directory).get("budget")
            except (OSError, ValueError, AttributeError):
                return None  # not ours to judge (unreadable, not a JSON object); fairseq reads the data-bin itself
            if isinstance(budget, dict):
                return dict(budget, path=path)
            return None
    return None


def check_positions_fit_data(data: str, max_source_positions: Optional[int], where: str) -> None:
    """Raise when ``where`` (the task, the model) has fewer source positions than the data's budget.

    Sources fill their budget (retrieval packs passages up to it), so a smaller model drops
    many. Targets are not checked: ``max_target_positions`` in prepare.json is a truncation
    limit (default 1024) that real summaries rarely reach, and fairseq names any that do.
    """
    budget = prepared_budget(data)
    if budget is None:
        return
    for side, have in (("source", max_source_positions),):
        need = budget.get(f"max_{side}_positions")
        if have is None or need is None or int(have) >= int(need):
            continue
        raise PositionsMismatchError(
            f"{budget['path']}: the data was prepared for {need} {side} positions but the {where} has "
            f"--max-{side}-positions {have}; longer examples would be dropped "
            f"(--skip-invalid-size-inputs-valid-test) or fail. Re-run summ-prepare with --max-{side}-positions "
            f"{have}, or give the model {need} positions"
        )
