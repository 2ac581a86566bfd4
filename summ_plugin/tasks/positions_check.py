"""The model's position limits against the budget the data-bin was prepared for.

summ-prepare fits every source into ``--max-source-positions`` (and truncates targets to
``--max-target-positions``) and records both in ``prepare.json``. A model with fewer positions
cannot take those examples: with ``--skip-invalid-size-inputs-valid-test`` (the published
recipe) fairseq drops them with a WARNING (a third of the data in the probe), without it it
fails mid-epoch. Stop at set-up instead, saying which number to change.
"""
from typing import Optional

from ..data.data_bin import DataBin, DataBinError
from ..positions import check_position_table_fits_memory


class PositionsMismatchError(DataBinError):
    """The data-bin was prepared for more positions than the model or task has."""


def check_positions_fit_data(data: str, max_source_positions: Optional[int], where: str) -> None:
    """Raise when ``where`` (the task, the model) has fewer source positions than the data's budget.

    Sources fill their budget (retrieval packs passages up to it), so a smaller model drops
    many. Targets are not checked: ``max_target_positions`` in prepare.json is a truncation
    limit (default 1024) that real summaries rarely reach, and fairseq names any that do.
    """
    if not data:
        return
    data_bin = DataBin.locate(data)
    budget = data_bin.budget
    if budget is None:
        return
    if max_source_positions is not None and int(max_source_positions) < budget.max_source_positions:
        need, have = budget.max_source_positions, max_source_positions
        raise PositionsMismatchError(
            f"{data_bin.manifest_path}: the data was prepared for {need} source positions but the {where} has "
            f"--max-source-positions {have}; longer examples would be dropped "
            f"(--skip-invalid-size-inputs-valid-test) or fail. Re-run summ-prepare with --max-source-positions "
            f"{have}, or give the model {need} positions"
        )


def check_position_tables_fit_memory(model_cfg) -> None:
    """Refuse ``--max-source-positions`` / ``--max-target-positions`` whose position tables
    (learned or sinusoidal: one row per position) cannot be allocated, before the model is
    built: torch's allocator would end the run with a traceback."""
    for option, dim_name in (("max_source_positions", "encoder_embed_dim"),
                             ("max_target_positions", "decoder_embed_dim")):
        positions = getattr(model_cfg, option, None)
        dim = getattr(model_cfg, dim_name, None) or 1024
        if isinstance(positions, int) and positions > 0:
            check_position_table_fits_memory(positions, dim, 4, "--" + option.replace("_", "-"))
