"""Which BPE files go with a data-bin, and the check that the files a tool is given are those.

A model's token ids mean something only with the ``encoder.json`` / ``vocab.bpe`` its data-bin
was prepared with: other files (GPT-2's for a model trained on its own BPE, or whatever a
relative path leads to from today's working directory) load fine and give fluent garbage with
exit 0. ``prepare.json`` records the sha256 of both files (:class:`DataBin.recorded_file`);
every tool that loads BPE files for a model or a data-bin (summ-summarize, summ-export-hf,
``--eval-rouge``, the raw-directory cache, summ-score's ``--bpe gpt2 --data-bin``) resolves and
checks them here. A mismatch is one line naming both files; ``--allow-bpe-mismatch`` (files
known to encode the same, e.g. a re-serialized encoder.json) turns it into a WARNING.

Where the files are, when the user does not say (:func:`resolve_bpe_files`): the setting stored
at training time (a checkpoint's ``task.encoder_json``), else the data-bin's record, else copies
inside the data-bin. The first of these that is set decides: a recorded path that does not
exist is an error naming it, never a quiet fall-back to another candidate. Stored paths are
absolute (the task makes them so, prepare.json records them so); a relative one in an older
checkpoint is resolved against the working directory as before, with a WARNING, and the sha256
check still stands between it and the model.

No fairseq import.
"""
import logging
import os
from typing import Dict, Optional, Tuple

from summ_plugin.data.data_bin import DataBin
from summ_plugin.errors import UserError

logger = logging.getLogger(__name__)

BPE_ROLES = ("encoder_json", "vocab_bpe")
FILE_NAMES = {"encoder_json": "encoder.json", "vocab_bpe": "vocab.bpe", "dictionary": "dict.txt"}
OPTIONS = {"encoder_json": "--encoder-json", "vocab_bpe": "--vocab-bpe"}
ALLOW_OPTION = "--allow-bpe-mismatch"


class BPERecordError(UserError, ValueError):
    """BPE files that are not the data-bin's, or that cannot be found; the message names them."""


def file_sha256(path: str) -> str:
    from summ_plugin.data.prepare import sha256_path

    return sha256_path(path)


def check_against_record(data_bin: Optional[DataBin], role: str, path: str, allow_mismatch: bool = False,
                         option: Optional[str] = None) -> bool:
    """Compare ``path``'s sha256 with the ``role`` file (``encoder_json``, ``vocab_bpe``) the
    data-bin was prepared with. True: the same bytes; False: nothing to compare with (no
    record, or no sha256 in it) or a mismatch that ``allow_mismatch`` let through with a
    WARNING. A mismatch otherwise raises BPERecordError naming both files."""
    recorded = data_bin.recorded_file(role) if data_bin is not None else None
    if recorded is None or not recorded.sha256:
        return False
    actual = file_sha256(path)
    if actual == recorded.sha256:
        return True
    name = FILE_NAMES[role]
    where = recorded.path or "its path is not recorded"
    message = (f"{path} is not the {name} that {data_bin.manifest_path} was prepared with ({where}; sha256 "
               f"{recorded.sha256[:12]}..., this file's {actual[:12]}...): the model's token ids would be read "
               f"with another BPE")
    if allow_mismatch:
        logger.warning("%s; going on because of %s", message, ALLOW_OPTION)
        return False
    raise BPERecordError(f"{message}; give that file{' with ' + option if option else ''}, or pass "
                         f"{ALLOW_OPTION} if the two are known to encode the same")


def resolve_stored_path(path: str, what: str) -> str:
    """A path (or ``:``-joined data path) a checkpoint stored at training time. Absolute since the task records it so; a
    relative one (an older checkpoint) can only be read against today's working directory,
    which need not be training's: say so."""
    parts = path.split(os.pathsep)  # a data path may list shards
    if all(os.path.isabs(part) for part in parts if part):
        return path
    resolved = os.pathsep.join(os.path.abspath(part) if part else part for part in parts)
    logger.warning("%s %s is relative (an older checkpoint): resolved against the current directory as %s; "
                   "give it explicitly if that is not what training used", what, path, resolved)
    return resolved


def resolve_bpe_files(data_bin: Optional[DataBin], given: Dict[str, Optional[str]],
                      stored: Optional[Dict[str, Optional[str]]] = None, stored_in: str = "the checkpoint",
                      allow_mismatch: bool = False) -> Tuple[str, str]:
    """(encoder.json, vocab.bpe) for a model or data-bin, each checked against the data-bin's
    record (:func:`check_against_record`).

    ``given``: what the user named (``encoder_json``/``vocab_bpe``; None: not given).
    ``stored``: what training used (a checkpoint's task settings; ``stored_in`` names where).
    Then the data-bin's record, then ``encoder.json``/``vocab.bpe`` inside the data-bin."""
    found = []
    for role in BPE_ROLES:
        option, name = OPTIONS[role], FILE_NAMES[role]
        recorded = data_bin.recorded_file(role) if data_bin is not None else None
        stored_path = (stored or {}).get(role)
        if given.get(role):
            path, origin = given[role], option
        elif stored_path:
            path = resolve_stored_path(stored_path, f"{stored_in}'s task.{role}")
            origin = f"task.{role} in {stored_in}"
        elif recorded is not None and recorded.path:
            path, origin = recorded.path, f"recorded in {data_bin.manifest_path}"
        elif data_bin is not None and os.path.isfile(os.path.join(data_bin.root, name)):
            path, origin = os.path.join(data_bin.root, name), f"in the data-bin {data_bin.root}"
        else:
            raise BPERecordError(f"no {name} known for {data_bin.root if data_bin else 'this model'}: give {option}")
        if not os.path.isfile(path):
            raise BPERecordError(f"{path}: {name} not found ({origin}); give {option}")
        check_against_record(data_bin, role, path, allow_mismatch, option)
        found.append(path)
    return found[0], found[1]
