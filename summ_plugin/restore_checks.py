"""Checks around fairseq's checkpoint restore that stock fairseq-train does not make.

* ``--restore-file`` other than the default ``checkpoint_last.pt`` that does not exist: stock
  fairseq logs "No existing checkpoint found" at INFO and trains from random initialisation;
  a typo then costs a whole run. With the plugin it is an error naming the path.
* A checkpoint whose model does not fit ``--arch``: fairseq raises "Cannot load model
  parameters from checkpoint ...; please ensure that the architectures match" with a
  traceback; the plugin says which parameter differs, in one line.
* A file that is not a torch checkpoint at all (random bytes): "not a checkpoint", rather
  than the weights-only loader's "unsafe global".

Installed on import (``import summ_plugin`` / ``--user-dir summ_plugin``).
"""
import logging
import os
import re
from typing import Any, Optional

logger = logging.getLogger(__name__)

DEFAULT_RESTORE_FILE = "checkpoint_last.pt"
# torch.save's legacy (non-zip) format starts with the pickled magic number 0x1950a86a20f9469cfc6c
_TORCH_LEGACY_HEAD = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19"
_ZIP_HEAD = b"PK\x03\x04"


class RestoreError(ValueError):
    """--restore-file cannot be restored: missing, or of another architecture."""


def _read_head(f: Any, n: int = 16) -> Optional[bytes]:
    try:
        if isinstance(f, (str, os.PathLike)):
            with open(f, "rb") as handle:
                return handle.read(n)
        if hasattr(f, "seek") and hasattr(f, "read") and hasattr(f, "tell"):
            position = f.tell()
            head = f.read(n)
            f.seek(position)
            return head
    except OSError:
        return None
    return None


def is_not_a_checkpoint(f: Any) -> bool:
    """True when the file's first bytes are neither torch.save's zip archive, nor its legacy
    format, nor any pickle (whose globals the safe loader judges): e.g. random bytes."""
    head = _read_head(f)
    if head is None:
        return False
    if head.startswith(_ZIP_HEAD) or head.startswith(_TORCH_LEGACY_HEAD):
        return False
    is_pickle = len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5
    return not is_pickle


def not_a_checkpoint_message(f: Any) -> Optional[str]:
    """One line for a file that is no checkpoint at all, else None (then torch judges it)."""
    if not is_not_a_checkpoint(f):
        return None
    source = os.fspath(f) if isinstance(f, (str, os.PathLike)) else getattr(f, "name", repr(f))
    return (
        f"{source}: not a checkpoint (it starts with neither the zip archive torch.save writes nor a "
        "pickle); give the model.pt / checkpoint_*.pt file"
    )


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
    """The first line of torch's load_state_dict report behind fairseq's generic message."""
    seen = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
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
        from .checkpoints import find_plugin_user_error

        if "Cannot load model parameters from checkpoint" not in str(err) or find_plugin_user_error(err) is not None:
            raise
        detail = architecture_mismatch_detail(err) or str(err.__cause__ or err).splitlines()[0]
        model_cfg = getattr(getattr(trainer, "cfg", None), "model", None)
        arch = getattr(model_cfg, "_name", None) or getattr(model_cfg, "arch", None) or "?"
        path = str(err).split("from checkpoint ", 1)[-1].split(";", 1)[0]
        raise RestoreError(
            f"{path}: the checkpoint's model does not fit the model being trained (--arch {arch}): {detail}; "
            "restore a checkpoint of the same architecture and sizes, or change --arch and its options"
        ) from err


def install_restore_checks() -> bool:
    try:
        from fairseq import checkpoint_utils
    except ImportError:
        return False
    current = checkpoint_utils.load_checkpoint
    if getattr(current, "_summ_plugin_checked", False):
        return True

    def load_checkpoint(cfg, trainer, **passthrough_args):
        return load_checkpoint_checked(current, cfg, trainer, **passthrough_args)

    load_checkpoint._summ_plugin_checked = True
    checkpoint_utils.load_checkpoint = load_checkpoint
    return True


install_restore_checks()
