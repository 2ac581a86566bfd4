"""Extend a BART checkpoint's learned position tables past its 1024 positions.

fairseq's ``LearnedPositionalEmbedding`` keeps ``padding_idx + 1`` (= 2 with BART's
dictionary) offset rows in front of position 0, so ``bart.base``/``bart.large`` hold 1026
rows for 1024 positions. A model built with ``--max-source-positions 2048`` has 2050 rows and
stock fairseq stops restoring the released file with a size mismatch.

As Longformer-Encoder-Decoder did for BART (Beltagy et al. 2020), the new table is filled by
copying the pretrained position rows block after block: position ``p`` takes pretrained
position ``p mod old_positions``. The offset rows and positions ``0 .. old_positions-1`` keep
their values exactly, so a source that fitted before is encoded exactly as before; positions
past the old end start from the pretrained local pattern instead of noise. The decoder's
table only grows when the model asks for more target positions.

Used by the task when ``--restore-file`` / ``--finetune-from-model`` loads a checkpoint
(:func:`install_position_extension_hook`) and by ``summ-fix-vocab --max-source-positions``
offline (:func:`fix_checkpoint_positions`); both call :func:`resized_position_table`, so
they give the same weights. No fairseq import.
"""
import logging
import os
from argparse import Namespace
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

import torch

from .errors import UserError

logger = logging.getLogger(__name__)

# padding_idx (1 in every fairseq dictionary) + 1: rows in front of position 0
POSITION_OFFSET = 2
SIDES = {
    # side: (state dict key, checkpoint option naming its positions)
    "encoder": ("encoder.embed_positions.weight", "max_source_positions"),
    "decoder": ("decoder.embed_positions.weight", "max_target_positions"),
}
RECORD_KEY = "summ_plugin_position_fix"


class PositionFixError(UserError, ValueError):
    """The checkpoint's position table cannot be made to fit what was asked."""


def physical_memory_bytes() -> Optional[int]:
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _human(n: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n < 1024 or unit == "PiB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} PiB"


def check_position_table_fits_memory(max_positions: int, dim: int, itemsize: int, what: str) -> None:
    """Refuse a position table larger than this machine's memory, naming what it needs:
    ``--max-source-positions 1000000000000`` would otherwise end in torch's allocator
    ("you tried to allocate 64000000000128 bytes") with a traceback."""
    need = (int(max_positions) + POSITION_OFFSET) * int(dim) * int(itemsize)
    total = physical_memory_bytes()
    if total is not None and need > total:
        raise PositionFixError(
            f"{what} {max_positions}: a position table of {max_positions} x {dim} needs {_human(need)} of memory, "
            f"more than this machine's {_human(total)}; give a realistic number of positions")


def resized_position_table(weight: torch.Tensor, max_positions: int,
                           offset: int = POSITION_OFFSET, what: str = "max positions") -> torch.Tensor:
    """A ``(max_positions + offset, dim)`` table from ``weight`` (``(old + offset, dim)``).

    Growing: the old rows stay first, unchanged; then the pretrained position rows (without
    the offset rows) are copied block after block, the last block cut to fit. Shrinking keeps
    the first rows (what fairseq issue 1413 did by hand to fit 928 positions).
    """
    if weight.dim() != 2 or weight.size(0) <= offset:
        raise PositionFixError(f"not a learned position table: shape {list(weight.shape)}")
    if max_positions < 1:
        raise PositionFixError(f"max positions must be >= 1, got {max_positions}")
    new_rows = max_positions + offset
    if new_rows > weight.size(0):
        check_position_table_fits_memory(max_positions, weight.size(1), weight.element_size(), what)
    if new_rows <= weight.size(0):
        return weight[:new_rows].clone()
    pretrained = weight[offset:]
    out = weight.new_empty((new_rows, weight.size(1)))
    out[: weight.size(0)] = weight
    row = weight.size(0)
    while row < new_rows:
        count = min(pretrained.size(0), new_rows - row)
        out[row: row + count] = pretrained[:count]
        row += count
    return out


def table_positions(rows: int, offset: int = POSITION_OFFSET) -> int:
    return rows - offset


def _describe(side: str, old: int, new: int) -> str:
    if new > old:
        return (f"{side} positions {old} -> {new} (positions 0-{old - 1} unchanged, "
                f"{old}-{new - 1} copied from pretrained positions block after block)")
    return f"{side} positions {old} -> {new} (cut to the first {new})"


def resize_position_tables(model_state: Dict[str, Any], targets: Dict[str, int],
                           allow_shrink: bool = False, prefix: str = "",
                           offset: int = POSITION_OFFSET) -> List[Tuple[str, List[int], List[int], str]]:
    """Resize ``model_state``'s position tables in place to ``targets`` (side -> positions).

    Returns (key, old shape, new shape, description) per changed table. Sides missing from
    ``targets`` or from the state (sinusoidal positions) are left alone.
    """
    changes = []
    for side, positions in targets.items():
        key = prefix + SIDES[side][0]
        if positions is None or key not in model_state:
            continue
        weight = model_state[key]
        old = table_positions(weight.size(0), offset)
        if positions == old:
            continue
        if positions < old and not allow_shrink:
            raise PositionFixError(
                f"{key} holds {old} positions and {positions} were asked for: refusing to cut "
                f"positions {positions}-{old - 1} (pass --allow-shrink to cut them)")
        option = "--max-source-positions" if side == "encoder" else "--max-target-positions"
        model_state[key] = resized_position_table(weight, positions, offset, what=option)
        changes.append((key, list(weight.shape), list(model_state[key].shape),
                        _describe(side, old, positions)))
    return changes


# ----------------------------------------------------------------------------- checkpoint args


def _set_option(container: Any, name: str, value: int, add_missing: bool = False) -> bool:
    """Set ``name`` in a Namespace / dict / DictConfig; True if that changed it. A missing key
    is only added when ``add_missing`` (a config section of another task may not know it)."""
    if container is None:
        return False
    if isinstance(container, Namespace):
        if not add_missing and not hasattr(container, name):
            return False
        changed = getattr(container, name, None) != value
        setattr(container, name, value)
        return changed
    if hasattr(container, "__contains__") and hasattr(container, "__setitem__"):
        if name not in container and not add_missing:
            return False
        changed = container.get(name) != value
        container[name] = value
        return changed
    return False


def set_stored_max_positions(checkpoint: Dict[str, Any], name: str, value: int) -> bool:
    """Write ``name = value`` wherever the checkpoint stores it (``args``, ``cfg.model``,
    ``cfg.task``), so that fairseq-generate and ``from_pretrained`` build the model with the
    table the file holds. The containers are copied, never changed in place."""
    changed = False
    if checkpoint.get("args") is not None:
        args = Namespace(**vars(checkpoint["args"]))
        # old-style checkpoints build the model from args: an absent value means the arch default
        changed |= _set_option(args, name, value, add_missing=True)
        checkpoint["args"] = args
    cfg = checkpoint.get("cfg")
    if cfg is not None:
        cfg = _copy_container(cfg)
        for section in ("model", "task"):
            part = cfg.get(section) if hasattr(cfg, "get") else None
            if part is None:
                continue
            part = _copy_container(part)
            changed |= _set_option(part, name, value)
            cfg[section] = part
        checkpoint["cfg"] = cfg
    return changed


def _copy_container(container: Any) -> Any:
    if isinstance(container, Namespace):
        return Namespace(**vars(container))
    if isinstance(container, dict):
        return dict(container)
    try:  # an omegaconf DictConfig
        from omegaconf import OmegaConf

        return OmegaConf.create(OmegaConf.to_container(container))
    except Exception:  # noqa: BLE001 -- anything else is kept as it is
        return container


# ----------------------------------------------------------------------------- offline


@dataclass
class PositionFixReport:
    changed: bool
    message: str
    changes: List[Tuple[str, List[int], List[int], str]] = field(default_factory=list)


def fix_checkpoint_positions(checkpoint: Dict[str, Any], max_source_positions: Optional[int] = None,
                             max_target_positions: Optional[int] = None,
                             allow_shrink: bool = False) -> Tuple[Dict[str, Any], PositionFixReport]:
    """Return a checkpoint whose position tables hold the asked-for positions.

    A shallow copy with a new ``model`` dict (only the resized tensors are new), ``args`` /
    ``cfg`` saying the new max positions and a ``summ_plugin_position_fix`` record. When the
    tables and the stored options already match, the input itself is returned.
    """
    if not isinstance(checkpoint, dict) or not isinstance(checkpoint.get("model"), dict):
        raise PositionFixError("not a fairseq checkpoint: no 'model' state dict at the top level")
    targets = {"encoder": max_source_positions, "decoder": max_target_positions}
    for side, positions in targets.items():
        key = SIDES[side][0]
        if positions is not None and key not in checkpoint["model"]:
            raise PositionFixError(f"no learned position table {key} in the checkpoint (sinusoidal "
                                   "positions need no extension)")
    model_state = type(checkpoint["model"])()
    model_state.update(checkpoint["model"])
    changes = resize_position_tables(model_state, targets, allow_shrink)
    fixed = dict(checkpoint)
    fixed["model"] = model_state
    options_changed = False
    for side, positions in targets.items():
        if positions is not None:
            options_changed |= set_stored_max_positions(fixed, SIDES[side][1], positions)
    if not changes and not options_changed:
        asked = ", ".join(f"{SIDES[s][1]} {p}" for s, p in targets.items() if p is not None)
        return checkpoint, PositionFixReport(False, f"already matches: {asked}")
    previous = checkpoint.get(RECORD_KEY)
    fixed[RECORD_KEY] = {
        "changed": {key: [old, new] for key, old, new, _ in changes},
        "max_source_positions": max_source_positions,
        "max_target_positions": max_target_positions,
        "method": "copy pretrained positions block after block (offset rows and old positions kept)",
        "previous": previous if isinstance(previous, dict) else None,
    }
    message = "; ".join(d for *_, d in changes) or "position tables already fit"
    if options_changed:
        message += "; stored args/cfg updated"
    return fixed, PositionFixReport(True, message, changes)


# ----------------------------------------------------------------------------- automatic


def model_position_targets(model: Any) -> Dict[str, Tuple[int, int]]:
    """side -> (positions, offset) of the model's learned position tables."""
    targets = {}
    for side in SIDES:
        module = getattr(getattr(model, side, None), "embed_positions", None)
        weight = getattr(module, "weight", None)
        padding_idx = getattr(module, "padding_idx", None)
        if isinstance(weight, torch.Tensor) and weight.dim() == 2 and padding_idx is not None:
            offset = padding_idx + 1
            targets[side] = (weight.size(0) - offset, offset)
    return targets


def install_position_extension_hook(model: Any) -> Any:
    """Extend restored checkpoints' learned position tables to the model's while they load.

    Called from the task's ``build_model``, like the vocabulary fix: ``--restore-file`` /
    ``--finetune-from-model`` reach ``model.upgrade_state_dict_named(state_dict, "")`` before
    ``load_state_dict``'s size check, and the wrapper resizes there. A table equal to the
    model's (resuming the task's own checkpoints, generation) passes untouched; a table with
    more positions than the model is refused with the command that cuts it offline.
    """
    if getattr(model, "_summ_plugin_position_hook", False):
        return model
    targets = model_position_targets(model)
    original_upgrade = model.upgrade_state_dict_named

    def upgrade_state_dict_named(state_dict, name):
        prefix = name + "." if name else ""
        for side, (positions, offset) in targets.items():
            key = prefix + SIDES[side][0]
            if key not in state_dict:
                continue
            old = table_positions(state_dict[key].size(0), offset)
            if old > positions:
                option = "--max-source-positions" if side == "encoder" else "--max-target-positions"
                raise PositionFixError(
                    f"the checkpoint being restored has {old} learned {side} positions but the model "
                    f"has {positions} ({option} {positions}): raise {option} to {old}, or cut the "
                    f"checkpoint with `summ-fix-vocab --checkpoint FILE {option} {positions} "
                    "--allow-shrink --out CUT`")
            if old < positions:
                changes = resize_position_tables(state_dict, {side: positions}, prefix=prefix, offset=offset)
                for key_, old_shape, new_shape, description in changes:
                    logger.warning(
                        "restored checkpoint has %d learned %s positions, the model %d: extended in "
                        "memory, %s; %s %s -> %s", old, side, positions, description, key_,
                        old_shape, new_shape)
        return original_upgrade(state_dict, name)

    model.upgrade_state_dict_named = upgrade_state_dict_named
    model._summ_plugin_position_hook = True
    return model
