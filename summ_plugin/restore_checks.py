"""Checks around fairseq's checkpoint restore that stock fairseq-train does not make.

* ``--restore-file`` other than the default ``checkpoint_last.pt`` that does not exist: stock
  fairseq logs "No existing checkpoint found" at INFO and trains from random initialisation;
  a typo then costs a whole run. With the plugin it is an error naming the path.
* A checkpoint whose model does not fit ``--arch``: fairseq raises "Cannot load model
  parameters from checkpoint ...; please ensure that the architectures match" with a
  traceback; the plugin says which parameter differs, in one line.

Installed on import (``import summ_plugin`` / ``--user-dir summ_plugin``).
"""
import logging
import re
from typing import Any, Optional

from .checkpoint_contents import state_dict_mismatch
from .errors import UserError, find_user_error

logger = logging.getLogger(__name__)

DEFAULT_RESTORE_FILE = "checkpoint_last.pt"


class RestoreError(UserError, ValueError):
    """--restore-file cannot be restored: missing, or of another architecture."""


def missing_restore_file(cfg: Any, suffix: Optional[str]) -> Optional[str]:
    """The path fairseq would restore from when the user named one and it does not exist."""
    from fairseq.file_io import PathManager

    restore_file = getattr(cfg, "restore_file", DEFAULT_RESTORE_FILE)
    if not restore_file or restore_file == DEFAULT_RESTORE_FILE:
        return None  # the default: no checkpoint_last.pt means a first launch
    # the same path fairseq's checkpoint_utils.load_checkpoint computes
    path = restore_file.replace(".pt", suffix + ".pt") if suffix is not None else restore_file
    return None if PathManager.exists(path) else path


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
    missing = missing_restore_file(cfg, getattr(trainer, "checkpoint_suffix", ""))
    if missing is not None:
        raise RestoreError(
            f"--restore-file {missing}: no such file; training would start from random initialisation. "
            "Fix the path (or leave --restore-file out to resume from checkpoint_last.pt in --save-dir)"
        )
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
