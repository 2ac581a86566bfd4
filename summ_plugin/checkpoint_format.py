"""Whether a file can be a torch checkpoint at all, judged by its first bytes before torch
unpickles anything: a file that is neither torch.save's zip archive, nor its legacy format,
nor a pickle (random bytes, a text file) gets "not a checkpoint" rather than the weights-only
loader's "unsafe global". Used by summ_plugin.checkpoints' loader. No fairseq import."""
import os
from typing import Any, Optional

# torch.save's legacy (non-zip) format starts with the pickled magic number 0x1950a86a20f9469cfc6c
_TORCH_LEGACY_HEAD = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19"
_ZIP_HEAD = b"PK\x03\x04"


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
