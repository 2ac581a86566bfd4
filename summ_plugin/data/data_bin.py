"""A prepared data-bin on disk and its record, ``prepare.json``: the one home of both.

Layout (summ-prepare writes it; ``--shards N`` > 1 adds the shard level)::

    DEST/prepare.json            the record (written last: a directory without it is not complete)
    DEST/selector.json           the valid/test retriever's selector, when it has one
    DEST/train.selector.json     the train retriever's, when it has one
    DEST[/shardK]/dict.{source,target}.txt, {split}.source-target.*, {split}.meta.jsonl, ...

Every reader of a data-bin goes through :class:`DataBin`; nothing else opens prepare.json or
knows its keys. How to get what a data-bin was made with::

    data_bin = DataBin.locate(path)      # the root, a shard directory, or fairseq's 'D/shard0:D/shard1'
    data_bin.root                        # the directory holding prepare.json
    data_bin.data_path                   # DATA for fairseq-train ('D', or 'D/shard0:D/shard1')
    data_bin.shard_dirs                  # ['D'] or ['D/shard0', 'D/shard1']
    data_bin.dictionary_path("source")   # D[/shard0]/dict.source.txt
    data_bin.manifest                    # PrepareManifest, or None for a data-bin without a record
    data_bin.retriever("valid")          # RetrieverSetting(name, options): what the split was made with,
                                         #   the selector option an absolute path
    data_bin.selector_path("valid")      # that retriever's selector file, or None
    data_bin.budget                      # PreparedBudget: positions, reserved/separator tokens, split mode
    data_bin.manifest.encoder_json       # RecordedFile(path, sha256); also .vocab_bpe, .dictionary
    data_bin.recorded_file("encoder_json")  # the same with its path resolved (summ_plugin.data.bpe_record)

``prepare.json`` carries ``format_version`` (:data:`FORMAT_VERSION`). Version 2 stores each fact
once (the budget and split mode under ``budget``, the retrievers under ``retrievers``, the input
files under ``files``, each split's input and figures under ``splits``); version 1 files (the
layout before, with the budget, the retriever and the shard count repeated) are still read and
mapped onto the same types. A newer or unknown version is a :class:`DataBinError` naming it.

No fairseq import.
"""
import json
import math
import os
import re
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

from summ_plugin.atomic import atomic_write_text
from summ_plugin.data.config import SELECTOR_FILE, SPLITS, PrepareError
from summ_plugin.numbers import find_non_finite
from summ_plugin.errors import UserError
from summ_plugin.retrieval.budget import DEFAULT_SPLIT_MODE, RESERVED_TOKENS, SEPARATOR_TOKENS

PREPARE_JSON = "prepare.json"
FORMAT_VERSION = 2
READABLE_VERSIONS = (1, 2)
# what a data path's later parts of a sharded data-bin are called (shard_dirs)
_SHARD_DIR = re.compile(r"shard\d+$")


class DataBinError(UserError, ValueError):
    """A data-bin file that cannot be used (a corrupt dict.source.txt, an unreadable or newer
    prepare.json); the message names the file."""


# ----------------------------------------------------------------------------- the record's types


@dataclass(frozen=True)
class RetrieverSetting:
    """A retriever and its options, as ``build_retriever(name, **options)`` takes them."""

    name: str
    options: Dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> Dict[str, Any]:
        return {"name": self.name, "options": dict(self.options)}


@dataclass(frozen=True)
class PreparedBudget:
    """The source budget the data was prepared under (see summ_plugin.retrieval.budget) and the
    target truncation limit."""

    max_source_positions: int
    max_target_positions: int
    reserved_tokens: int = RESERVED_TOKENS
    separator_tokens: int = SEPARATOR_TOKENS
    split_mode: str = DEFAULT_SPLIT_MODE

    def to_json(self) -> Dict[str, Any]:
        return {"max_source_positions": self.max_source_positions,
                "max_target_positions": self.max_target_positions,
                "reserved_tokens": self.reserved_tokens, "separator_tokens": self.separator_tokens,
                "split_mode": self.split_mode}


@dataclass(frozen=True)
class RecordedFile:
    """An input file of summ-prepare: where it was (absolute when prepare.json is version 2;
    as given on the command line in version 1) and the sha256 of its bytes (None: not recorded)."""

    path: Optional[str]
    sha256: Optional[str]

    def to_json(self) -> Dict[str, Any]:
        return {"path": self.path, "sha256": self.sha256}


@dataclass(frozen=True)
class SplitRecord:
    """One prepared split: its input file and the figures summ-prepare logged (examples,
    skipped, mean source tokens, coverage, ...)."""

    input: Optional[str]
    input_sha256: Optional[str]
    figures: Dict[str, Any] = field(default_factory=dict)

    @property
    def examples(self) -> int:
        return int(self.figures.get("examples", 0))

    def to_json(self) -> Dict[str, Any]:
        return dict(self.figures, input=self.input, input_sha256=self.input_sha256)


@dataclass
class PrepareManifest:
    """What ``prepare.json`` says, typed. ``retrievers`` keep a selector option as recorded
    (relative to the data-bin): :meth:`DataBin.retriever` resolves it.

    ``default_choice``: how the valid/test retriever was chosen (``reason``; ``candidates``, the
    table of the default's choice). ``options``: summ-prepare's other settings (input format,
    fields, bad-record policy, selector sample sizes, workers, unk limit), for the record.
    """

    budget: PreparedBudget
    retrievers: Dict[str, RetrieverSetting]
    encoder_json: RecordedFile
    vocab_bpe: RecordedFile
    dictionary: RecordedFile
    dictionary_size: Optional[int]
    shards: int = 1
    splits: Dict[str, SplitRecord] = field(default_factory=dict)
    default_choice: Dict[str, Any] = field(default_factory=dict)
    options: Dict[str, Any] = field(default_factory=dict)
    format_version: int = FORMAT_VERSION

    @property
    def fields(self) -> Optional[Dict[str, str]]:
        """The record field names summ-prepare was given (None: detected per file)."""
        return self.options.get("fields")

    def to_json(self) -> Dict[str, Any]:
        """The version-2 layout (what :func:`write_manifest` writes)."""
        return {
            "format_version": FORMAT_VERSION,
            "shards": self.shards,
            "budget": self.budget.to_json(),
            "retrievers": {split: setting.to_json() for split, setting in self.retrievers.items()},
            "default_choice": self.default_choice,
            "files": {"encoder_json": self.encoder_json.to_json(), "vocab_bpe": self.vocab_bpe.to_json(),
                      "dictionary": dict(self.dictionary.to_json(), size=self.dictionary_size)},
            "options": self.options,
            "splits": {split: record.to_json() for split, record in self.splits.items()},
        }

    @classmethod
    def from_json(cls, obj: Any, path: str = PREPARE_JSON) -> "PrepareManifest":
        """Read a parsed prepare.json (version 1 or 2); ``path`` names it in errors."""
        if not isinstance(obj, dict):
            raise DataBinError(f"{path}: not a summ-prepare record (expected a JSON object)")
        version = obj.get("format_version")
        if version is None:
            raise DataBinError(f"{path}: no format_version: not a summ-prepare record")
        if isinstance(version, bool) or not isinstance(version, int):
            raise DataBinError(f"{path}: unknown format_version {version!r} (this summ_plugin reads "
                               f"{', '.join(map(str, READABLE_VERSIONS))})")
        if version > FORMAT_VERSION:
            raise DataBinError(f"{path}: format_version {version} is newer than this summ_plugin reads "
                               f"(up to {FORMAT_VERSION}); update summ_plugin, or prepare the data again")
        if version not in READABLE_VERSIONS:
            raise DataBinError(f"{path}: unknown format_version {version} (this summ_plugin reads "
                               f"{', '.join(map(str, READABLE_VERSIONS))})")
        reader = _Reader(obj, path)
        try:
            return _read_v2(reader) if version == 2 else _read_v1(reader)
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            if isinstance(err, DataBinError):
                raise
            raise DataBinError(f"{path}: not a valid format_version {version} record ({err})") from None


class _Reader:
    """Typed access to a parsed prepare.json, naming the key that is wrong."""

    def __init__(self, obj: Dict, path: str):
        self.obj, self.path = obj, path

    def get(self, dotted: str, kind, default=None, required: bool = False, minimum: Optional[int] = None):
        value: Any = self.obj
        for part in dotted.split("."):
            value = value.get(part) if isinstance(value, dict) else None
            if value is None:
                if required:
                    raise DataBinError(f"{self.path}: key '{dotted}' is missing")
                return default
        if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
            raise DataBinError(f"{self.path}: key '{dotted}': expected an integer, got {value!r}")
        if minimum is not None and value < minimum:
            raise DataBinError(f"{self.path}: key '{dotted}': expected at least {minimum}, got {value!r}")
        if kind is not int and not isinstance(value, kind):
            raise DataBinError(f"{self.path}: key '{dotted}': expected {kind.__name__}, got {value!r}")
        return value

    def retriever(self, dotted: str, name_key: str = "name") -> Optional[RetrieverSetting]:
        entry = self.get(dotted, dict)
        if entry is None:
            return None
        name = self.get(f"{dotted}.{name_key}", str, required=True)
        return RetrieverSetting(name, dict(self.get(f"{dotted}.options", dict, {})))

    def splits(self, dropped: Tuple[str, ...] = ()) -> Dict[str, SplitRecord]:
        out = {}
        for split, info in self.get("splits", dict, {}).items():
            if not isinstance(info, dict):
                raise DataBinError(f"{self.path}: key 'splits.{split}': expected dict, got {info!r}")
            figures = {k: v for k, v in info.items() if k not in ("input", "input_sha256") + dropped}
            out[split] = SplitRecord(info.get("input"), info.get("input_sha256"), figures)
        return out


def _read_v2(r: _Reader) -> PrepareManifest:
    budget = PreparedBudget(
        r.get("budget.max_source_positions", int, required=True, minimum=1),
        r.get("budget.max_target_positions", int, required=True, minimum=1),
        r.get("budget.reserved_tokens", int, required=True, minimum=0),
        r.get("budget.separator_tokens", int, required=True, minimum=0),
        r.get("budget.split_mode", str, required=True))
    retrievers = {split: r.retriever(f"retrievers.{split}") for split in r.get("retrievers", dict, {})}

    def recorded(key: str) -> RecordedFile:
        return RecordedFile(r.get(f"files.{key}.path", str), r.get(f"files.{key}.sha256", str))

    return PrepareManifest(
        budget=budget, retrievers=retrievers, encoder_json=recorded("encoder_json"),
        vocab_bpe=recorded("vocab_bpe"), dictionary=recorded("dictionary"),
        dictionary_size=r.get("files.dictionary.size", int, minimum=0),
        shards=r.get("shards", int, required=True, minimum=1),
        splits=r.splits(), default_choice=dict(r.get("default_choice", dict, {})),
        options=dict(r.get("options", dict, {})), format_version=2)


# version 1 kept these PrepareConfig fields under "options"; version 2 has each elsewhere
_V1_OPTIONS_MOVED = ("destdir", "inputs", "encoder_json", "vocab_bpe", "dict_path", "retriever",
                     "retriever_options", "train_retriever", "train_retriever_options", "split_mode",
                     "max_source_positions", "max_target_positions", "shards", "overwrite")


def _read_v1(r: _Reader) -> PrepareManifest:
    """Version 1: the budget under "budget" and "options", the retrievers under "retrieval",
    "options" and each split, the shard count twice; older files lack "retrieval"."""
    budget = PreparedBudget(
        r.get("budget.max_source_positions", int, minimum=1)
        or r.get("options.max_source_positions", int, required=True, minimum=1),
        r.get("budget.max_target_positions", int, minimum=1)
        or r.get("options.max_target_positions", int, required=True, minimum=1),
        r.get("budget.reserved_tokens", int, RESERVED_TOKENS, minimum=0),
        r.get("budget.separator_tokens", int, SEPARATOR_TOKENS, minimum=0),
        r.get("options.split_mode", str, DEFAULT_SPLIT_MODE))
    splits = r.splits(dropped=("retriever", "retriever_options"))
    retrievers: Dict[str, RetrieverSetting] = {}
    for split in splits or ("train", "valid", "test"):
        setting = r.retriever(f"retrieval.{split}", name_key="retriever")
        if setting is None:  # before "retrieval" was recorded: the options say it
            if split == "train" and r.get("options.train_retriever", str):
                name = r.get("options.train_retriever", str)
                options = r.get("options.train_retriever_options", dict)
                if options is None:
                    same = name == r.get("options.retriever", str)
                    options = r.get("options.retriever_options", dict, {}) if same else {}
                setting = RetrieverSetting(name, dict(options))
            elif split != "train" and r.get("options.retriever", str):
                setting = RetrieverSetting(r.get("options.retriever", str),
                                           dict(r.get("options.retriever_options", dict, {})))
        if setting is not None:
            retrievers[split] = setting
    chosen = {k: v for k, v in r.get("retrieval.chosen", dict, {}).items() if k not in ("retriever", "options")}
    sha = r.get("files_sha256", dict, {})
    return PrepareManifest(
        budget=budget, retrievers=retrievers,
        encoder_json=RecordedFile(r.get("options.encoder_json", str), sha.get("encoder_json")),
        vocab_bpe=RecordedFile(r.get("options.vocab_bpe", str), sha.get("vocab_bpe")),
        dictionary=RecordedFile(r.get("options.dict_path", str), sha.get("dict")),
        dictionary_size=r.get("dictionary_size", int, minimum=0),
        shards=r.get("shards", int, minimum=1) or r.get("options.shards", int, 1, minimum=1), splits=splits,
        default_choice=chosen,
        options={k: v for k, v in r.get("options", dict, {}).items() if k not in _V1_OPTIONS_MOVED},
        format_version=1)


# ----------------------------------------------------------------------------- reading and writing


def read_manifest(path: str) -> PrepareManifest:
    """A prepare.json file (``path`` is the file), typed; a DataBinError names what is wrong."""
    from summ_plugin.data.formats.jsonl import JSONTextError, load_json_file

    try:
        obj = load_json_file(path)
    except OSError as err:
        raise DataBinError(f"{path}: cannot read: {err.strerror or err}") from None
    except JSONTextError as err:
        raise DataBinError(f"{err.where}: invalid JSON ({err.reason})") from None
    bad = find_non_finite(obj)
    if bad:
        raise DataBinError(f"{path}: {bad}: not a finite number (NaN, Infinity or beyond a float)")
    return PrepareManifest.from_json(obj, path)


def write_manifest(data_bin: str, manifest: PrepareManifest) -> None:
    """``data_bin``/prepare.json, atomically, with paths inside the data-bin (the selectors)
    made relative to it, so that the data-bin can move."""
    obj = _relative_to(manifest.to_json(), data_bin)
    # a NaN or infinity would be written as bare NaN / Infinity, which is not JSON
    bad = find_non_finite(obj, max_magnitude=math.inf)
    if bad:
        raise DataBinError(f"{os.path.join(data_bin, PREPARE_JSON)}: {bad} is not a finite number; nothing was published")
    text = json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False) + "\n"
    atomic_write_text(os.path.join(data_bin, PREPARE_JSON), text)


def shard_dirs(root: str, shards: int) -> List[str]:
    return [root] if shards == 1 else [os.path.join(root, f"shard{k}") for k in range(shards)]


def data_path(dest: str, shards: int) -> str:
    """The DATA argument for fairseq-train: shards joined with ':' (fairseq's epoch sharding)."""
    return ":".join(shard_dirs(dest, shards))


def _relative_to(obj, root: str):
    if isinstance(obj, dict):
        return {key: _relative_to(value, root) for key, value in obj.items()}
    if isinstance(obj, list):
        return [_relative_to(value, root) for value in obj]
    if isinstance(obj, str) and os.path.isabs(obj) and obj.startswith(root + os.sep):
        return os.path.relpath(obj, root)
    return obj


# ----------------------------------------------------------------------------- a data-bin


@dataclass
class DataBin:
    """A data-bin directory and its record (None: a data-bin without prepare.json, e.g. made by
    fairseq-preprocess or by hand; then only its dictionary is known)."""

    root: str
    manifest: Optional[PrepareManifest] = None

    @classmethod
    def locate(cls, data: str) -> "DataBin":
        """The data-bin of a data path: its root (which holds prepare.json), one of its shard
        directories, or fairseq's ``:``-joined shard list (what a checkpoint's ``task.data`` holds).
        A corrupt or newer prepare.json is a DataBinError, never silently ignored."""
        first = data.split(os.pathsep)[0] if data else data
        if not first:
            raise DataBinError("no data-bin given (empty data path)")
        first = os.path.abspath(first)
        # lexists: a prepare.json that is a directory, a dangling link or unreadable is an
        # error too (isfile would skip it, and with it the budget check)
        if os.path.lexists(os.path.join(first, PREPARE_JSON)):
            return cls.read(first)
        parent = os.path.dirname(first)
        if _SHARD_DIR.match(os.path.basename(first)) and os.path.lexists(os.path.join(parent, PREPARE_JSON)):
            outer = cls.read(parent)
            if first in outer.shard_dirs:
                return outer
        return cls(first, None)

    @classmethod
    def read(cls, root: str) -> "DataBin":
        """The data-bin at ``root``, which must hold prepare.json."""
        return cls(root, read_manifest(os.path.join(root, PREPARE_JSON)))

    @property
    def manifest_path(self) -> str:
        return os.path.join(self.root, PREPARE_JSON)

    @property
    def shards(self) -> int:
        return self.manifest.shards if self.manifest else 1

    @property
    def shard_dirs(self) -> List[str]:
        return shard_dirs(self.root, self.shards)

    @property
    def data_path(self) -> str:
        """DATA for fairseq-train (shards joined with ':')."""
        return data_path(self.root, self.shards)

    def dictionary_path(self, lang: str = "source") -> str:
        """``dict.{lang}.txt`` (every shard holds the same one; this is the first's)."""
        return os.path.join(self.shard_dirs[0], f"dict.{lang}.txt")

    @property
    def budget(self) -> Optional[PreparedBudget]:
        return self.manifest.budget if self.manifest else None

    @property
    def split_mode(self) -> str:
        return self.budget.split_mode if self.budget else DEFAULT_SPLIT_MODE

    def retriever(self, split: str = "valid", fallback: Optional[str] = None) -> RetrieverSetting:
        """The retriever (and options) ``split`` was made with; a selector file the data-bin
        holds is resolved against it (absolute). ``valid`` falls back to ``test``'s record (a
        data-bin without a valid split); a data-bin without any record to ``fallback``, else lead."""
        recorded = self.manifest.retrievers if self.manifest else {}
        setting = recorded.get(split) or (recorded.get("test") if split == "valid" else None)
        if setting is None:
            return RetrieverSetting(fallback or "lead", {})
        options = dict(setting.options)
        selector = options.get("selector")
        if isinstance(selector, str) and not os.path.isabs(selector):
            options["selector"] = os.path.join(self.root, selector)
        return RetrieverSetting(setting.name, options)

    def recorded_file(self, role: str) -> Optional[RecordedFile]:
        """The ``encoder_json``, ``vocab_bpe`` or ``dictionary`` file summ-prepare made this
        data-bin with (None: no record). Its path is absolute, or resolved against the data-bin
        when the record holds it relative to it (a file inside the data-bin, version 2); a
        version-1 record's relative path was relative to a working directory that is not known
        any more: the path is None then (the sha256 still says which file it was)."""
        if self.manifest is None:
            return None
        recorded: RecordedFile = getattr(self.manifest, role)
        path = recorded.path
        if path and not os.path.isabs(path):
            path = os.path.join(self.root, path) if self.manifest.format_version >= 2 else None
        return RecordedFile(path, recorded.sha256)

    def selector_path(self, split: str = "valid") -> Optional[str]:
        """The selector file of ``split``'s retriever (learned, hybrid of learned), if any."""
        selector = self.retriever(split).options.get("selector")
        return selector if isinstance(selector, str) else None


# ----------------------------------------------------------------------------- replacing one


# what summ-prepare writes, and nothing else: the entries --overwrite may replace
_ROOT_ONLY_FILES = (PREPARE_JSON, SELECTOR_FILE, "train." + SELECTOR_FILE)
_SPLIT = "(?:" + "|".join(SPLITS) + ")"
_DATA_FILE = re.compile(rf"(?:dict\.(?:source|target)\.txt|{_SPLIT}\.source-target\.(?:source|target)\.(?:bin|idx)"
                        rf"|{_SPLIT}\.(?:meta|skipped)\.jsonl)$")


def foreign_entries(dest: str) -> List[str]:
    """Entries of the data-bin directory ``dest`` that summ-prepare does not write (relative
    paths, sorted): a user's checkpoints/, raw inputs, notes. ``--overwrite`` never replaces them."""
    foreign = []
    for name in sorted(os.listdir(dest)):
        path = os.path.join(dest, name)
        if os.path.islink(path):
            foreign.append(name)
        elif os.path.isdir(path) and _SHARD_DIR.match(name):
            foreign.extend(os.path.join(name, inner) for inner in sorted(os.listdir(path))
                           if not (_DATA_FILE.match(inner) and os.path.isfile(os.path.join(path, inner))
                                   and not os.path.islink(os.path.join(path, inner))))
        elif not (os.path.isfile(path) and (name in _ROOT_ONLY_FILES or _DATA_FILE.match(name))):
            foreign.append(name + (os.sep if os.path.isdir(path) else ""))
    return foreign


def check_destination(dest: str, overwrite: bool) -> None:
    """A destination summ-prepare may write: absent, or (``--overwrite``) a data-bin it made,
    holding its files and nothing else (what else is there would be deleted with it)."""
    if not os.path.lexists(dest):
        return
    if not overwrite:
        raise PrepareError(f"{dest}: already exists (pass --overwrite to replace it)")
    if not os.path.isdir(dest):
        raise PrepareError(f"{dest}: exists and is not a directory")
    if os.listdir(dest) and not os.path.exists(os.path.join(dest, PREPARE_JSON)):
        # never delete a directory that summ-prepare did not write
        raise PrepareError(f"{dest}: exists and is not a summ-prepare output (no prepare.json); refusing to replace it")
    foreign = foreign_entries(dest)
    if foreign:
        shown = ", ".join(foreign[:5]) + (f", ... ({len(foreign)} in all)" if len(foreign) > 5 else "")
        raise PrepareError(f"{dest}: holds files summ-prepare did not write ({shown}); --overwrite replaces a "
                           "data-bin only, never anything else: move them out or choose another --destdir")
