"""The settings of one summ-prepare run (also built by the raw-directory task path and
summ-summarize) and the constants that fix the layout of a prepared example."""
from dataclasses import asdict, dataclass, field
from typing import Dict, Optional, Tuple

from summ_plugin.data.records import FieldNames

SPLITS = ("train", "valid", "test")
SOURCE_LANG, TARGET_LANG = "source", "target"
# Budget: fairseq appends </s> to the source; one more position is kept free as a margin
# for a <s> that a model variant may prepend. The query is followed by one </s> separator.
RESERVED_TOKENS = 2
SEPARATOR_TOKENS = 1
# The train split's source by default: what the summary says plus random other passages
# (the published recipe for retrieve-then-summarize training, e.g. Manakul and Gales 2021):
# the model learns to use relevant passages wherever they are, and the random padding keeps
# it from trusting that every passage it reads is relevant.
DEFAULT_TRAIN_RETRIEVER = "oracle"
DEFAULT_TRAIN_RETRIEVER_OPTIONS = {"pad": "random"}
SELECTOR_FILE = "selector.json"


class PrepareError(Exception):
    """A user error (bad input, bad option): the CLI prints it as one line and exits."""


@dataclass
class PrepareConfig:
    destdir: str
    encoder_json: str
    vocab_bpe: str
    dict_path: str
    # split name -> input path (file, or directory for CNN/DM stories)
    inputs: Dict[str, str] = field(default_factory=dict)
    # None: chosen on the valid split (lead, learned or a lead+learned hybrid), see
    # summ_plugin.retrieval.choice; lead when there are no summaries to learn from
    retriever: Optional[str] = None
    # None: the published recipe, the oracle padded with random unselected passages
    train_retriever: Optional[str] = None
    retriever_options: Dict = field(default_factory=dict)
    train_retriever_options: Optional[Dict] = None
    split_mode: str = "sentence"
    # bounded samples for choosing the default retriever: records the selector is trained
    # on (first N of train) and records the candidates are scored on (first N of valid)
    selector_train_records: int = 200
    selector_valid_records: int = 200
    max_source_positions: int = 1024
    max_target_positions: int = 1024
    workers: int = 1
    on_bad_record: str = "error"
    # None: formats.py detects the column layout (canonical, cnn_dailymail, billsum)
    fields: Optional[FieldNames] = None
    input_format: str = "auto"
    shards: int = 1
    overwrite: bool = False
    allow_missing_summary: Tuple[str, ...] = ()
    # stop when more than this percentage of the tokens map to <unk>: the dict.txt does not
    # belong to the BPE (an empty, cut or foreign dictionary)
    max_unk_rate: float = 1.0

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
