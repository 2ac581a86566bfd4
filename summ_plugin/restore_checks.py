"""Checks around fairseq's checkpoint restore that stock fairseq-train does not make.

* ``--restore-file`` other than the default ``checkpoint_last.pt`` that does not exist, or that
  is a directory (``bart.base`` for ``bart.base/model.pt``): stock fairseq logs "No existing
  checkpoint found" at INFO and trains from random initialisation; a typo then costs a whole
  run. With the plugin it is an error naming the path. So is any checkpoint fairseq would
  restore (also ``checkpoint_last.pt``, ``--finetune-from-model``, ``--continue-once``, hydra's
  ``checkpoint.restore_file``) that exists but is not a readable file.
* A checkpoint whose model does not fit ``--arch``: fairseq raises "Cannot load model
  parameters from checkpoint ...; please ensure that the architectures match" with a
  traceback; the plugin says which parameter differs, in one line.

Installed on import (``import summ_plugin`` / ``--user-dir summ_plugin``).
"""
import logging
import re
from typing import Any, Optional, Tuple

from .checkpoint_contents import state_dict_mismatch
from .errors import UserError, find_user_error

logger = logging.getLogger(__name__)

DEFAULT_RESTORE_FILE = "checkpoint_last.pt"


class RestoreError(UserError, ValueError):
    """--restore-file cannot be restored: missing, or of another architecture."""


def restore_path(cfg: Any, suffix: Optional[str]) -> Tuple[Optional[str], str]:
    """(the path fairseq's ``checkpoint_utils.load_checkpoint`` restores from, the option that
    named it), computed as fairseq computes it; the option is "" for the default
    ``SAVE_DIR/checkpoint_last.pt``, whose absence just means a first launch."""
    import os

    restore_file = getattr(cfg, "restore_file", DEFAULT_RESTORE_FILE) or DEFAULT_RESTORE_FILE
    if restore_file != DEFAULT_RESTORE_FILE:
        return (restore_file.replace(".pt", suffix + ".pt") if suffix is not None else restore_file), "--restore-file"
    path = os.path.join(getattr(cfg, "save_dir", "checkpoints"), f"checkpoint_last{suffix or ''}.pt")
    if not os.path.lexists(path):
        if getattr(cfg, "continue_once", None) is not None:
            return cfg.continue_once, "--continue-once"
        if getattr(cfg, "finetune_from_model", None) is not None:
            return cfg.finetune_from_model, "--finetune-from-model"
    return path, ""


def restore_file_problem(cfg: Any, suffix: Optional[str]) -> Optional[str]:
    """Why fairseq would not restore what the user meant (one line naming the path), or None.

    fairseq restores only ``PathManager.isfile(path)`` and otherwise starts from random
    initialisation: a missing path the user named, a directory, an unreadable file all land
    there with exit status 0."""
    import os

    path, option = restore_path(cfg, suffix)
    if path is None:
        return None
    label = f"{option} {path}" if option else path
    if not os.path.lexists(path):
        if not option:
            return None  # the default: no checkpoint_last.pt means a first launch
        return (f"{label}: no such file; training would start from random initialisation. "
                "Fix the path (or leave --restore-file out to resume from checkpoint_last.pt in --save-dir)")
    if os.path.isdir(path):
        hint = ""
        if os.path.isfile(os.path.join(path, "model.pt")):
            hint = f" (did you mean {os.path.join(path, 'model.pt')}?)"
        return (f"{label}: is a directory, not a checkpoint file{hint}; training would start from random "
                "initialisation. Give the checkpoint file itself")
    if not os.path.isfile(path):
        return f"{label}: not a regular file; give a checkpoint file"
    try:
        with open(path, "rb"):
            pass
    except OSError as err:
        return f"{label}: cannot be read ({err.strerror or err}); training would start from random initialisation"
    return None


_DETAIL = re.compile(r"(size mismatch for [^\n]*|Missing key\(s\)[^\n]*|Unexpected key\(s\)[^\n]*)")


def architecture_mismatch_detail(err: BaseException) -> Optional[str]:
    """One line for torch's load_state_dict report behind fairseq's generic message: N missing
    parameters (the first named), shapes that do not fit; else its first line."""
    seen = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        summary = state_dict_mismatch(str(err))
        if summary:
            return summary
        match = _DETAIL.search(str(err))
        if match:
            detail = match.group(1).strip()
            return detail if len(detail) <= 240 else detail[:237] + "..."
        err = err.__cause__ or err.__context__
    return None


def load_checkpoint_checked(original, cfg, trainer, **passthrough_args):
    """fairseq's ``checkpoint_utils.load_checkpoint`` with the checks of this module."""
    problem = restore_file_problem(cfg, getattr(trainer, "checkpoint_suffix", ""))
    if problem is not None:
        raise RestoreError(problem)
    try:
        return original(cfg, trainer, **passthrough_args)
    except Exception as err:
        if "Cannot load model parameters from checkpoint" not in str(err) or find_user_error(err) is not None:
            raise
        detail = architecture_mismatch_detail(err) or str(err.__cause__ or err).splitlines()[0]
        model_cfg = getattr(getattr(trainer, "cfg", None), "model", None)
        arch = getattr(model_cfg, "_name", None) or getattr(model_cfg, "arch", None) or "?"
        path = str(err).split("from checkpoint ", 1)[-1].split(";", 1)[0]
        raise RestoreError(
            f"{path}: the checkpoint's model does not fit the model being trained (--arch {arch}): {detail}; "
            "restore a checkpoint of the same architecture and sizes, or change --arch and its options"
        ) from err


def load_model_ensemble_checked(original, filenames, *args, **kwargs):
    """fairseq's ``checkpoint_utils.load_model_ensemble_and_task`` (fairseq-generate,
    summ-summarize, the hub) with torch's multi-line report of a state dict that does not fit
    the model (missing parameters, other shapes) as one line naming the file."""
    try:
        return original(filenames, *args, **kwargs)
    except RuntimeError as err:
        detail = state_dict_mismatch(str(err))
        if detail is None or find_user_error(err) is not None:
            raise
        names = ", ".join(str(f) for f in filenames) if isinstance(filenames, (list, tuple)) else str(filenames)
        raise RestoreError(
            f"{names}: the checkpoint's weights do not fit the model its configuration builds: {detail}; "
            "the file is damaged or was edited: use the checkpoint as fairseq saved it"
        ) from None


def install_restore_checks() -> bool:
    try:
        from fairseq import checkpoint_utils
    except ImportError:
        return False
    ensemble = checkpoint_utils.load_model_ensemble_and_task
    if not getattr(ensemble, "_summ_plugin_checked", False):
        def load_model_ensemble_and_task(filenames, *args, **kwargs):
            return load_model_ensemble_checked(ensemble, filenames, *args, **kwargs)

        load_model_ensemble_and_task._summ_plugin_checked = True
        checkpoint_utils.load_model_ensemble_and_task = load_model_ensemble_and_task
    current = checkpoint_utils.load_checkpoint
    if getattr(current, "_summ_plugin_checked", False):
        return True

    def load_checkpoint(cfg, trainer, **passthrough_args):
        return load_checkpoint_checked(current, cfg, trainer, **passthrough_args)

    load_checkpoint._summ_plugin_checked = True
    checkpoint_utils.load_checkpoint = load_checkpoint
    return True


install_restore_checks()
