"""Whether a loaded torch file is a fairseq checkpoint, judged before fairseq reads it.

torch.save writes anything: ``{}``, a bare tensor, a model's bare state dict, a checkpoint
whose weights went NaN. fairseq then fails far from the cause (``KeyError: 'best_loss'``,
``Tensor.__contains__``, ``AssertionError: 200 < 200`` in beam search) or loads garbage.
:func:`check_checkpoint_contents` says in one line what the file is not;
:func:`state_dict_mismatch` turns torch's multi-line ``load_state_dict`` report (whole lists
of missing keys) into one line: N missing parameters (the first named), shapes that do not
fit. Used by summ_plugin.checkpoints (every fairseq load and the plugin's own) and
summ_plugin.restore_checks. No fairseq import.
"""
import re
from typing import Any, List, Mapping, Optional

import torch

from .errors import UserError


class CheckpointContentsError(UserError, ValueError):
    """A torch file that is not a fairseq checkpoint, or whose weights are unusable."""


_ADVICE = "give a model.pt / checkpoint_*.pt that fairseq saved"


def _describe(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        return f"a bare tensor of shape {list(value.shape)}"
    return f"a {type(value).__name__}"


def first_non_finite(model_state: Mapping[str, Any]) -> Optional[str]:
    """The name of the first floating-point tensor holding a NaN or an infinity."""
    for name, tensor in model_state.items():
        if isinstance(tensor, torch.Tensor) and tensor.is_floating_point() and tensor.numel():
            # min and max are NaN when any value is, +-inf when one is; one pass without the
            # bool tensor isfinite() allocates: ~0.1 s per 100M weights against 1.4 s
            low, high = torch.aminmax(tensor.detach())
            if not (bool(torch.isfinite(low)) and bool(torch.isfinite(high))):
                return name
    return None


def check_checkpoint_contents(state: Any, source: str) -> Any:
    """``state`` when it is a fairseq checkpoint with usable weights, else CheckpointContentsError:
    not a dict / no model weights / no configuration (fairseq builds the model from ``args`` or
    ``cfg``) / not fairseq's layout / non-finite weights, naming ``source``."""
    if not isinstance(state, dict):
        raise CheckpointContentsError(f"{source}: not a fairseq checkpoint (it holds {_describe(state)}, "
                                      f"not the dict fairseq saves); {_ADVICE}")
    if "model" not in state:
        if state and all(isinstance(v, torch.Tensor) for v in state.values()):
            raise CheckpointContentsError(
                f"{source}: a bare state dict ({len(state)} tensors), not a fairseq checkpoint "
                f"(no 'model', 'cfg'); {_ADVICE}")
        keys = ", ".join(sorted(map(str, state))[:8]) or "none"
        raise CheckpointContentsError(f"{source}: no model weights (no 'model' key; keys: {keys}); {_ADVICE}")
    model = state["model"]
    if not isinstance(model, Mapping) or not model:
        raise CheckpointContentsError(f"{source}: no model weights ('model' is {_describe(model)}"
                                      f"{' and empty' if isinstance(model, Mapping) else ''}); {_ADVICE}")
    not_tensors = [str(k) for k, v in model.items() if not isinstance(v, torch.Tensor)]
    if not_tensors:
        raise CheckpointContentsError(f"{source}: no model weights ('model' holds {len(not_tensors)} entries that "
                                      f"are not tensors, first {not_tensors[0]}); {_ADVICE}")
    if state.get("args") is None and state.get("cfg") is None:
        raise CheckpointContentsError(f"{source}: the checkpoint holds no configuration (neither 'cfg' nor "
                                      f"'args'), so fairseq cannot build its model; {_ADVICE}")
    # what fairseq's _upgrade_state_dict indexes (the oldest files: best_loss and optimizer instead)
    history = state.get("optimizer_history")
    if history is None and not ("best_loss" in state and "optimizer" in state):
        raise CheckpointContentsError(f"{source}: no 'optimizer_history', which every checkpoint fairseq saves "
                                      f"holds; {_ADVICE}")
    if history is not None and (not isinstance(history, list) or not history
                                or not all(isinstance(entry, dict) for entry in history)):
        raise CheckpointContentsError(f"{source}: 'optimizer_history' is not a list of dicts; {_ADVICE}")
    extra = state.get("extra_state")
    if (extra is None and "epoch" not in state) or (extra is not None and not isinstance(extra, dict)):
        raise CheckpointContentsError(f"{source}: no 'extra_state' dict, which every checkpoint fairseq saves "
                                      f"holds; {_ADVICE}")
    bad = first_non_finite(model)
    if bad is not None:
        raise CheckpointContentsError(
            f"{source}: non-finite weights (NaN or infinity) in {bad}: the training diverged or the file is "
            "damaged; use an earlier checkpoint (checkpoint_best.pt, checkpoint_<epoch>.pt)")
    return state


# torch's report: 'Missing key(s) in state_dict: "a", "b". ', 'size mismatch for X: copying a
# param with shape torch.Size([5, 7]) from checkpoint, the shape in current model is torch.Size([32, 16]).'
_KEYS = re.compile(r'(Missing|Unexpected) key\(s\) in state_dict: ((?:"[^"]*"(?:, )?)+)')
_SIZE = re.compile(r"size mismatch for ([^:\s]+): copying a param with shape torch\.Size\(\[([^\]]*)\]\) "
                   r"from checkpoint, the shape in current model is torch\.Size\(\[([^\]]*)\]\)")


def state_dict_mismatch(message: str) -> Optional[str]:
    """One line for torch's ``Error(s) in loading state_dict`` report, or None for another error:
    "N missing parameters (first X)", "N unexpected ...", "shapes do not fit: X is [..] in the
    checkpoint, [..] in the model (and N more)"."""
    parts: List[str] = []
    for kind, keys in _KEYS.findall(message):
        names = re.findall(r'"([^"]*)"', keys)
        word = "missing from the checkpoint" if kind == "Missing" else "in the checkpoint but not in the model"
        parts.append(f"{len(names)} parameter{'s' if len(names) != 1 else ''} {word} (first {names[0]})")
    sizes = _SIZE.findall(message)
    if sizes:
        name, theirs, ours = sizes[0]
        more = f" (and {len(sizes) - 1} more)" if len(sizes) > 1 else ""
        parts.append(f"shapes do not fit: {name} is [{theirs}] in the checkpoint, [{ours}] in the model{more}")
    return "; ".join(parts) or None
