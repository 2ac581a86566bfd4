"""A prepared data-bin on disk: its data path (shards), its record ``prepare.json`` (written
last: a directory without it is not complete), and publishing it in place of an older one.

summ-prepare writes data-bins; the task, summ-summarize and summ-export-hf read what a
data-bin was made with (``read_prepare_json``, ``recorded_retriever``). No fairseq import.
"""
import json
import os
import shutil
from typing import Dict, List, Optional, Tuple

from summ_plugin.atomic import atomic_write_text
from summ_plugin.data.config import PrepareError

PREPARE_JSON = "prepare.json"


def shard_dirs(root: str, shards: int) -> List[str]:
    return [root] if shards == 1 else [os.path.join(root, f"shard{k}") for k in range(shards)]


def data_path(dest: str, shards: int) -> str:
    """The DATA argument for fairseq-train: shards joined with ':' (fairseq's epoch sharding)."""
    return ":".join(shard_dirs(dest, shards))


def write_prepare_json(data_bin: str, record: Dict) -> None:
    """prepare.json, atomically, with the paths inside the data-bin made relative to it."""
    text = json.dumps(relative_to(record, data_bin), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    atomic_write_text(os.path.join(data_bin, PREPARE_JSON), text)


def read_prepare_json(data_bin: str) -> Dict:
    """A data-bin's prepare.json (what it was made with), or {} for a data-bin without one."""
    path = os.path.join(data_bin, PREPARE_JSON)
    if not os.path.isfile(path):
        return {}
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def recorded_retriever(prepared: Dict, data_bin: str, split: str = "valid",
                       fallback: Optional[str] = None) -> Tuple[str, Dict]:
    """The retriever (and options) a data-bin's ``split`` was made with, from its prepare.json.

    A selector file the data-bin holds is named relative to it and resolved here, so a
    data-bin (with its checkpoint) can move. Data-bins without the record (older, or built by
    hand) fall back to their options, then to ``fallback``, then to lead.
    """
    retrieval = prepared.get("retrieval") or {}
    recorded = retrieval.get(split) or (retrieval.get("test") if split == "valid" else None)
    used = prepared.get("options", {})
    if recorded:
        name, options = recorded["retriever"], dict(recorded.get("options") or {})
    elif split == "train" and used.get("train_retriever"):
        name = used["train_retriever"]
        options = used.get("train_retriever_options")
        if options is None:
            options = used.get("retriever_options") if name == used.get("retriever") else {}
        options = dict(options or {})
    else:
        name = used.get("retriever") or fallback or "lead"
        options = dict(used.get("retriever_options") or {})
    selector = options.get("selector")
    if isinstance(selector, str) and not os.path.isabs(selector):
        options["selector"] = os.path.join(data_bin, selector)
    return name, options


def relative_to(obj, root: str):
    """``obj`` with every string that is a path inside ``root`` made relative to it (files the
    data-bin holds, e.g. the selector, are named relative to the data-bin wherever it moves)."""
    if isinstance(obj, dict):
        return {key: relative_to(value, root) for key, value in obj.items()}
    if isinstance(obj, list):
        return [relative_to(value, root) for value in obj]
    if isinstance(obj, str) and os.path.isabs(obj) and obj.startswith(root + os.sep):
        return os.path.relpath(obj, root)
    return obj


def check_destination(dest: str, overwrite: bool) -> None:
    if not os.path.exists(dest):
        return
    if not overwrite:
        raise PrepareError(f"{dest}: already exists (pass --overwrite to replace it)")
    if not os.path.isdir(dest):
        raise PrepareError(f"{dest}: exists and is not a directory")
    if os.listdir(dest) and not os.path.exists(os.path.join(dest, PREPARE_JSON)):
        # never delete a directory that summ-prepare did not write
        raise PrepareError(f"{dest}: exists and is not a summ-prepare output (no prepare.json); refusing to replace it")


def destination_state(dest: str) -> Optional[Tuple]:
    """What is at ``dest`` now: None, or the identity of the directory and of its prepare.json.
    Taken at start and compared at publish, so that publishing replaces only what was checked."""
    try:
        st = os.lstat(dest)
    except FileNotFoundError:
        return None
    try:
        manifest = os.stat(os.path.join(dest, PREPARE_JSON))
        manifest_id = (manifest.st_ino, manifest.st_mtime_ns, manifest.st_size)
    except OSError:
        manifest_id = None
    return (st.st_dev, st.st_ino, manifest_id)


def publish(tmp: str, dest: str, state_at_start: Optional[Tuple]) -> None:
    """Rename ``tmp`` to ``dest``; replace only the data-bin checked at start (--overwrite).

    Anything else found at ``dest`` now (made during the run by a person or another program)
    is left alone and the run stops: publishing never deletes what this run did not check.
    """
    if destination_state(dest) != state_at_start:
        raise PrepareError(
            f"{dest}: changed while this run was working (created, replaced or modified by someone "
            "else); left it as it is and published nothing"
        )
    if state_at_start is not None:
        old = f"{dest}.old-{os.getpid()}"
        os.rename(dest, old)
        os.rename(tmp, dest)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.rename(tmp, dest)
