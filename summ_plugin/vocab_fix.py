"""Resize a BART checkpoint's vocabulary rows to a task's dictionary (fairseq issue 2242/2804).

The released checkpoints disagree on vocabulary size: ``bart.base/model.pt`` holds 51201
embedding rows (4 specials + 50260 GPT-2 symbols + 936 ``madeupword`` fillers + ``<mask>``),
``bart.large/model.pt`` 50265 (4 + 50260 + ``<mask>``). fairseq's BART loader forgives one
row (``<mask>``), so a data-bin made with the GPT-2 ``dict.txt`` (50264 entries) cannot
fine-tune bart.base. The functions here map the checkpoint's rows onto the target
dictionary's indices:

* with the checkpoint's own dictionary, row by row **by symbol** (any target whose symbols
  the checkpoint knows works, fairseq issue 2120; unknown symbols get new rows);
* without it, by index: target index ``i`` takes checkpoint row ``i``; this assumes the
  target dictionary lists the checkpoint's symbols first and in the same order (true for the
  GPT-2 ``dict.txt`` with bart.base and bart.large) and that the checkpoint's last row is
  ``<mask>`` (true for every BART pre-training checkpoint);
* ``<mask>`` in the target always takes the checkpoint's mask row, never a filler row;
* new rows are drawn from the per-dimension mean/std of the checkpoint's rows (seeded, so
  the offline fix and the in-memory hook give the same weights).

Only ``{encoder,decoder}.embed_tokens.weight`` and ``{encoder,decoder}.output_projection.weight``
change; every other tensor and key is kept as is. No fairseq import: plain functions on
state dicts and symbol lists (``fairseq.data.Dictionary.symbols``).
"""
import hashlib
import logging
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch

from .errors import UserError

logger = logging.getLogger(__name__)

SPECIAL_SYMBOLS = ("<s>", "<pad>", "</s>", "<unk>")
MASK_SYMBOL = "<mask>"
EMBEDDING_KEYS = (
    "encoder.embed_tokens.weight",
    "decoder.embed_tokens.weight",
    "encoder.output_projection.weight",
    "decoder.output_projection.weight",
)
RECORD_KEY = "summ_plugin_vocab_fix"
DEFAULT_MAX_NEW_ROWS = 256
DEFAULT_SEED = 0


class VocabFixError(UserError, ValueError):
    """The checkpoint and the dictionary cannot be reconciled."""


def symbols_fingerprint(symbols: Sequence[str]) -> str:
    return hashlib.sha256("\n".join(symbols).encode("utf-8")).hexdigest()


@dataclass
class RowPlan:
    """For each target index, the checkpoint row it takes (-1: a new row)."""

    checkpoint_rows: int
    source_rows: List[int]
    mask_source_row: Optional[int]
    assumptions: List[str] = field(default_factory=list)

    @property
    def target_rows(self) -> int:
        return len(self.source_rows)

    @property
    def new_rows(self) -> int:
        return sum(1 for s in self.source_rows if s < 0)

    @property
    def kept_rows(self) -> int:
        return self.target_rows - self.new_rows

    @property
    def dropped_rows(self) -> int:
        return self.checkpoint_rows - len({s for s in self.source_rows if s >= 0})

    @property
    def is_identity(self) -> bool:
        return self.checkpoint_rows == self.target_rows and self.source_rows == list(
            range(self.target_rows)
        )


def plan_rows(
    checkpoint_rows: int,
    target_symbols: Sequence[str],
    checkpoint_symbols: Optional[Sequence[str]] = None,
    checkpoint_mask_row: Optional[int] = -1,
    max_new_rows: int = DEFAULT_MAX_NEW_ROWS,
) -> RowPlan:
    """Decide which checkpoint row each target index takes.

    ``target_symbols`` / ``checkpoint_symbols`` are full fairseq symbol lists (specials
    first, as ``Dictionary.symbols``). ``checkpoint_mask_row``: the checkpoint's ``<mask>``
    row; -1 means "the last row" (BART pre-training), None means the checkpoint has none.
    With ``checkpoint_symbols`` the mask row is derived from the row count instead.
    """
    target_symbols = list(target_symbols)
    assumptions: List[str] = []
    if checkpoint_symbols is not None:
        checkpoint_symbols = list(checkpoint_symbols)
        n = len(checkpoint_symbols)
        source_of: Dict[str, int] = {}
        for index, symbol in enumerate(checkpoint_symbols):
            source_of.setdefault(symbol, index)
        if checkpoint_rows == n + 1 and MASK_SYMBOL not in source_of:
            source_of[MASK_SYMBOL] = n
        elif checkpoint_rows != n:
            raise VocabFixError(
                f"the checkpoint dictionary has {n} entries with fairseq's specials, so its "
                f"checkpoint should have {n} or {n + 1} (with <mask>) embedding rows, but it "
                f"has {checkpoint_rows}: it is not this checkpoint's dictionary"
            )
        source_rows = [source_of.get(symbol, -1) for symbol in target_symbols]
        mask_source = source_of.get(MASK_SYMBOL)
    else:
        if checkpoint_mask_row == -1:
            checkpoint_mask_row = checkpoint_rows - 1
            assumptions.append(
                f"the checkpoint's last row ({checkpoint_mask_row}) is <mask>, as in every "
                "BART pre-training checkpoint"
            )
        assumptions.append(
            "without --checkpoint-dict, target index i is checkpoint row i: the target "
            "dictionary must list the checkpoint's symbols first, in the same order (true "
            "for the GPT-2 dict.txt with bart.base and bart.large)"
        )
        plain_rows = checkpoint_rows - (1 if checkpoint_mask_row is not None else 0)
        source_rows = []
        for index, symbol in enumerate(target_symbols):
            if symbol == MASK_SYMBOL:
                source_rows.append(checkpoint_mask_row if checkpoint_mask_row is not None else -1)
            elif index < plain_rows:
                source_rows.append(index)
            else:
                source_rows.append(-1)
        mask_source = checkpoint_mask_row
    plan = RowPlan(checkpoint_rows, source_rows, mask_source, assumptions)
    if plan.new_rows > max_new_rows:
        raise VocabFixError(
            f"the dictionary needs {plan.new_rows} rows the checkpoint does not have "
            f"({len(target_symbols)} entries with specials vs {checkpoint_rows} checkpoint "
            f"rows; at most {max_new_rows} new rows are allowed): it cannot belong to this "
            "checkpoint. Pass the right dict.txt, --checkpoint-dict, or raise --max-new-rows"
        )
    return plan


def embedding_keys(model_state: Dict[str, Any], prefix: str = "") -> List[str]:
    return [prefix + k for k in EMBEDDING_KEYS if prefix + k in model_state]


def embedding_rows(model_state: Dict[str, Any], prefix: str = "") -> int:
    """The vocabulary row count, after checking that all embedding tensors agree."""
    keys = embedding_keys(model_state, prefix)
    if not keys:
        raise VocabFixError(
            f"no embedding tensors ({', '.join(prefix + k for k in EMBEDDING_KEYS[:2])}) "
            "in the checkpoint's model state: not a BART/transformer checkpoint"
        )
    shapes = {k: tuple(model_state[k].shape) for k in keys}
    if any(len(s) != 2 for s in shapes.values()) or len(set(shapes.values())) != 1:
        raise VocabFixError(
            "embedding tensors disagree, so no single dictionary can fit them: "
            + ", ".join(f"{k} {list(s)}" for k, s in shapes.items())
        )
    return next(iter(shapes.values()))[0]


def _resized(weight: torch.Tensor, plan: RowPlan, seed: int) -> torch.Tensor:
    source = torch.tensor(plan.source_rows, dtype=torch.long)
    keep = source >= 0
    out = weight.new_empty((plan.target_rows, weight.size(1)))
    out[keep] = weight[source[keep]]
    if plan.new_rows:
        # Stats in float32 (fp16 std of thousands of rows loses precision); a generator
        # seeded per tensor, so shared embeddings get the same new rows everywhere.
        as_float = weight.float()
        mean, std = as_float.mean(dim=0), as_float.std(dim=0)
        generator = torch.Generator().manual_seed(seed)
        noise = torch.randn((plan.new_rows, weight.size(1)), generator=generator)
        out[~keep] = (mean + std * noise).to(weight.dtype)
    return out


def resize_model_state(
    model_state: Dict[str, Any], plan: RowPlan, seed: int = DEFAULT_SEED, prefix: str = ""
) -> List[Tuple[str, List[int], List[int]]]:
    """Replace the embedding tensors in ``model_state`` (in place) following ``plan``.

    Tensors that shared storage before (tied embeddings) share one result after.
    Returns (key, old shape, new shape) for every changed key.
    """
    changes = []
    done: Dict[Tuple[int, int, Tuple[int, ...], torch.dtype], torch.Tensor] = {}
    for key in embedding_keys(model_state, prefix):
        weight = model_state[key]
        if weight.size(0) != plan.checkpoint_rows:
            raise VocabFixError(f"{key} has {weight.size(0)} rows, plan is for {plan.checkpoint_rows}")
        identity = (weight.untyped_storage().data_ptr(), weight.storage_offset(),
                    tuple(weight.shape), weight.dtype)
        if identity not in done:
            done[identity] = _resized(weight, plan, seed)
        model_state[key] = done[identity]
        changes.append((key, list(weight.shape), list(done[identity].shape)))
    return changes


@dataclass
class FixReport:
    changed: bool
    message: str
    changes: List[Tuple[str, List[int], List[int]]] = field(default_factory=list)
    assumptions: List[str] = field(default_factory=list)


def fix_checkpoint(
    checkpoint: Dict[str, Any],
    target_symbols: Sequence[str],
    checkpoint_symbols: Optional[Sequence[str]] = None,
    seed: int = DEFAULT_SEED,
    max_new_rows: int = DEFAULT_MAX_NEW_ROWS,
) -> Tuple[Dict[str, Any], FixReport]:
    """Return a checkpoint whose vocabulary rows fit ``target_symbols``.

    The result is a shallow copy: its ``model`` is a new dict in the same key order holding
    the same tensor objects except the resized ones; a ``summ_plugin_vocab_fix`` record says
    what changed. When nothing needs to change, the input itself is returned.
    """
    if not isinstance(checkpoint, dict) or not isinstance(checkpoint.get("model"), dict):
        raise VocabFixError("not a fairseq checkpoint: no 'model' state dict at the top level")
    target_symbols = list(target_symbols)
    target_fp = symbols_fingerprint(target_symbols)
    rows = embedding_rows(checkpoint["model"])
    record = checkpoint.get(RECORD_KEY)
    mask_row: Optional[int] = -1
    if isinstance(record, dict):
        if record.get("target_fingerprint") == target_fp and rows == len(target_symbols):
            return checkpoint, FixReport(
                False, f"already matches: fixed earlier for this dictionary ({rows} rows)")
        if checkpoint_symbols is not None and record.get(
                "target_fingerprint") != symbols_fingerprint(checkpoint_symbols):
            raise VocabFixError(
                f"this checkpoint was already fixed for a dictionary of "
                f"{record.get('new_rows')} entries (sha256 {record.get('target_fingerprint')}); "
                "--checkpoint-dict does not describe it: pass the dict.txt it was fixed for"
            )
        # A fixed checkpoint's rows follow the dictionary it was fixed for.
        mask_row = record.get("target_mask_row")
    if checkpoint_symbols is None and rows == len(target_symbols):
        return checkpoint, FixReport(
            False, f"already matches: {rows} embedding rows = {len(target_symbols)} "
            "dictionary entries (assumed the same order; pass --checkpoint-dict to remap)")
    plan = plan_rows(rows, target_symbols, checkpoint_symbols, mask_row, max_new_rows)
    if plan.is_identity:
        return checkpoint, FixReport(
            False, f"already matches: every symbol sits at its checkpoint row ({rows} rows)")
    model_state = type(checkpoint["model"])()
    model_state.update(checkpoint["model"])
    changes = resize_model_state(model_state, plan, seed)
    fixed = dict(checkpoint)
    fixed["model"] = model_state
    target_mask_row = target_symbols.index(MASK_SYMBOL) if MASK_SYMBOL in target_symbols else None
    fixed[RECORD_KEY] = {
        "old_rows": rows,
        "new_rows": plan.target_rows,
        "kept_rows": plan.kept_rows,
        "appended_rows": plan.new_rows,
        "dropped_rows": plan.dropped_rows,
        "mask_source_row": plan.mask_source_row if target_mask_row is not None else None,
        "target_mask_row": target_mask_row,
        "mapped_by": "symbol" if checkpoint_symbols is not None else "index",
        "target_fingerprint": target_fp,
        "checkpoint_dict_fingerprint": (
            symbols_fingerprint(checkpoint_symbols) if checkpoint_symbols is not None else None),
        "seed": seed,
        "changed": {key: [old, new] for key, old, new in changes},
        "assumptions": list(plan.assumptions),
        "previous": record if isinstance(record, dict) else None,
    }
    message = (
        f"resized vocabulary rows {rows} -> {plan.target_rows}: kept {plan.kept_rows}, "
        f"dropped {plan.dropped_rows}, appended {plan.new_rows} (mean/std init, seed {seed})"
        + (f", <mask> row {target_mask_row} <- checkpoint row {plan.mask_source_row}"
           if target_mask_row is not None else "")
    )
    return fixed, FixReport(True, message, changes, list(plan.assumptions))


def install_vocab_fix_hook(
    model: Any,
    dictionary: Any,
    strict: bool = False,
    seed: int = DEFAULT_SEED,
    checkpoint_dictionary: Any = None,
    max_new_rows: int = DEFAULT_MAX_NEW_ROWS,
) -> Any:
    """Resize restored checkpoints' vocabulary rows to ``dictionary`` while they load.

    Called from a task's ``build_model``. ``--restore-file`` and ``--finetune-from-model``
    go through ``Trainer.load_checkpoint -> model.load_state_dict -> upgrade_state_dict ->
    upgrade_state_dict_named(state_dict, "")``; the wrapper installed on this model instance
    resizes the embedding rows there, before BART's own upgrade logic runs. Same-size
    checkpoints (resuming the task's own) pass untouched. ``strict=True`` raises a clear
    error instead of resizing, except for the one extra ``<mask>`` row that fairseq's BART
    loader drops by itself.
    """
    if getattr(model, "_summ_plugin_vocab_fix_hook", False):
        return model
    target_symbols = list(dictionary.symbols)
    checkpoint_symbols = (
        list(checkpoint_dictionary.symbols) if checkpoint_dictionary is not None else None)
    original_upgrade = model.upgrade_state_dict_named

    def upgrade_state_dict_named(state_dict, name):
        prefix = name + "." if name else ""
        if embedding_keys(state_dict, prefix):
            _fix_rows_in_memory(state_dict, prefix)
        return original_upgrade(state_dict, name)

    def _fix_rows_in_memory(state_dict, prefix):
        rows = embedding_rows(state_dict, prefix)
        target_rows = len(target_symbols)
        if rows == target_rows and checkpoint_symbols is None:
            return
        if strict:
            if rows == target_rows + 1 and MASK_SYMBOL not in target_symbols:
                return  # fairseq's BART loader drops the <mask> row itself
            raise VocabFixError(
                f"the checkpoint being restored has {rows} vocabulary rows but the task's "
                f"dictionary has {target_rows} entries (--vocab-fix error). Fix the file "
                "with `summ-fix-vocab --checkpoint FILE --dict DICT --out FIXED` or let "
                "the task resize it while loading (--vocab-fix resize, the default)"
            )
        plan = plan_rows(rows, target_symbols, checkpoint_symbols, -1, max_new_rows)
        if plan.is_identity:
            return
        changes = resize_model_state(state_dict, plan, seed, prefix)
        logger.warning(
            "restored checkpoint has %d vocabulary rows, the task's dictionary %d: resized "
            "in memory (kept %d, dropped %d, appended %d with mean/std init, seed %d; %s). "
            "Assumed: %s",
            rows, target_rows, plan.kept_rows, plan.dropped_rows, plan.new_rows, seed,
            "; ".join(f"{k} {old} -> {new}" for k, old, new in changes),
            "; ".join(plan.assumptions) or "nothing (mapped by symbol)",
        )

    model.upgrade_state_dict_named = upgrade_state_dict_named
    model._summ_plugin_vocab_fix_hook = True
    return model
