"""The settings of one summ-prepare run (also built by the raw-directory task path and
summ-summarize) and the constants that fix the layout of a prepared example."""
from dataclasses import MISSING, asdict, dataclass, field, fields
from typing import Dict, Optional, Tuple

from summ_plugin.data.bad_records import BAD_RECORD_MODES
from summ_plugin.data.formats import FORMATS
from summ_plugin.data.records import FieldNames
from summ_plugin.errors import UserError
from summ_plugin.retrieval.budget import DEFAULT_SPLIT_MODE
from summ_plugin.retrieval.passages import SPLIT_MODES

SPLITS = ("train", "valid", "test")
SOURCE_LANG, TARGET_LANG = "source", "target"
# The train split's source by default: what the summary says plus random other passages
# (the published recipe for retrieve-then-summarize training, e.g. Manakul and Gales 2021):
# the model learns to use relevant passages wherever they are, and the random padding keeps
# it from trusting that every passage it reads is relevant.
DEFAULT_TRAIN_RETRIEVER = "oracle"
DEFAULT_TRAIN_RETRIEVER_OPTIONS = {"pad": "random"}
SELECTOR_FILE = "selector.json"


class PrepareError(UserError):
    """A user error (bad input, bad option): the CLI prints it as one line and exits 2."""


# How a tool reads records; PrepareConfig and summarize's SummarizeConfig hold these fields and
# the summ-* CLIs build --format / --on-bad-record from them (summ_plugin.cli.common).
def input_format_field():
    return field(default="auto", metadata={
        "help": "input format; auto: by extension (a directory: CNN/DM stories)", "choices": FORMATS})


def on_bad_record_field():
    return field(default="error", metadata={
        "help": "error: stop at the first bad record (its file and line); skip: leave it out, count it "
                "and go on (summ-prepare lists it in {split}.skipped.jsonl)",
        "choices": BAD_RECORD_MODES})


# The data-bin and BPE files a trained model goes with (summ-summarize, summ-export-hf): by
# default the ones its training used, found through the checkpoint and the data-bin's prepare.json.
def trained_data_bin_field():
    return field(default=None, metadata={
        "help": "data-bin the model was trained on (dict.source.txt, prepare.json); default: the checkpoint's "
                "task.data"})


def trained_bpe_field(what: str):
    return field(default=None, metadata={"help": f"GPT-2 {what} (default: as in training)"})


def allow_bpe_mismatch_field():
    return field(default=False, metadata={
        "help": "use BPE files whose sha256 differs from those the data-bin was prepared with (prepare.json), "
                "with a WARNING instead of an error: only for files known to encode the same"})


@dataclass
class RecordOptions:
    """The record-reading options of every summ-* tool that reads raw records."""

    input_format: str = input_format_field()
    on_bad_record: str = on_bad_record_field()


@dataclass
class PrepareConfig:
    destdir: str = field(metadata={"help": "output data-bin directory"})
    encoder_json: str = field(metadata={"help": "GPT-2 encoder.json"})
    vocab_bpe: str = field(metadata={"help": "GPT-2 vocab.bpe"})
    dict_path: str = field(metadata={"help": "fairseq dict.txt (of the model to fine-tune)"})
    # split name -> input path (file, or directory for CNN/DM stories)
    inputs: Dict[str, str] = field(default_factory=dict)
    retriever: Optional[str] = field(default=None, metadata={
        "help": "retriever for valid/test; default: chosen on the valid split among lead (truncation), a "
                "selector learned on the train split, and lead+learned hybrids (the table and the choice are "
                "logged and kept in prepare.json); lead when there are no summaries to learn from"})
    train_retriever: Optional[str] = field(default=None, metadata={
        "help": "retriever for the train split; default: oracle padded with random passages "
                "(the published recipe)"})
    retriever_options: Dict = field(default_factory=dict, metadata={
        "help": "JSON object of options for --retriever", "metavar": "JSON"})
    train_retriever_options: Optional[Dict] = field(default=None, metadata={
        "help": "JSON object of options for --train-retriever (default: --retriever-options when both "
                "name the same retriever, else none)", "metavar": "JSON"})
    split_mode: str = field(default=DEFAULT_SPLIT_MODE, metadata={
        "help": "how documents are cut into passages", "choices": SPLIT_MODES})
    # bounded samples for choosing the default retriever
    selector_train_records: int = field(default=200, metadata={
        "help": "default retriever: train the selector on the first N train records", "metavar": "N"})
    selector_valid_records: int = field(default=200, metadata={
        "help": "default retriever: score the candidates on the first N valid records", "metavar": "N"})
    max_source_positions: int = field(default=1024, metadata={
        "help": "source budget in tokens: retrieval fills it, the model must have this many positions",
        "metavar": "N"})
    max_target_positions: int = field(default=1024, metadata={
        "help": "longer targets are truncated (counted in the log and prepare.json)", "metavar": "N"})
    workers: int = field(default=1, metadata={"help": "worker processes (output is identical for any N)", "metavar": "N"})
    on_bad_record: str = on_bad_record_field()
    # None: data/formats/layouts.py detects the column layout (canonical, cnn_dailymail, billsum, ...)
    fields: Optional[FieldNames] = None
    input_format: str = input_format_field()
    shards: int = field(default=1, metadata={
        "help": "spread the train split round-robin over N shard dirs (fairseq epoch sharding)", "metavar": "N"})
    overwrite: bool = field(default=False, metadata={"help": "replace an existing data-bin in --destdir"})
    allow_missing_summary: Tuple[str, ...] = field(default=(), metadata={
        "help": "comma-separated splits whose records may lack a summary (only: test)", "metavar": "SPLITS"})
    max_unk_rate: float = field(default=1.0, metadata={
        "help": "stop when more than this percentage of tokens are <unk>: the dictionary does not fit "
                "the BPE (an empty, cut or foreign dict.txt)", "metavar": "PERCENT"})

    def retriever_for(self, split: str) -> Tuple[str, Dict]:
        if split == "train":
            if not self.train_retriever:
                return DEFAULT_TRAIN_RETRIEVER, dict(DEFAULT_TRAIN_RETRIEVER_OPTIONS)
            options = self.train_retriever_options
            if options is None:
                options = self.retriever_options if self.train_retriever == self.retriever else {}
            return self.train_retriever, dict(options)
        return self.retriever, dict(self.retriever_options)

    def to_json(self) -> Dict:
        out = asdict(self)
        out["allow_missing_summary"] = list(self.allow_missing_summary)
        return out


def prepare_setting_field(name: str, *, help_prefix: str = "", default=MISSING):
    """A field of another config (the fairseq task's, for raw data directories) that holds
    ``PrepareConfig.<name>``: its help and default come from PrepareConfig, so the setting is
    declared once. ``default``: for a field whose type differs on the command line (JSON text
    instead of a dict)."""
    source = {f.name: f for f in fields(PrepareConfig)}[name]
    if default is MISSING:
        if source.default is MISSING:
            raise ValueError(f"PrepareConfig.{name} has no plain default; give one")
        default = source.default
    help_text = help_prefix + source.metadata.get("help", "")
    return field(default=default, metadata={"help": help_text})
