"""The vocabulary of an export: the data-bin's dictionary (checked against the checkpoint's
rows), the GPT-2 BPE files, and the map from every token string to the model row fairseq
would feed for it (BPE symbols the dictionary lacks become aliases of ``<unk>``)."""
import os
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

from ..data.data_bin import DataBin, DataBinError
from .checkpoint import FairseqBart
from .errors import ExportError

MASK_SYMBOL = "<mask>"
# fairseq's Dictionary specials, in index order (bos, pad, eos, unk)
SPECIAL_SYMBOLS = ("<s>", "<pad>", "</s>", "<unk>")
# build_generator's getattr defaults: what --eval-rouge used for a key its JSON did not give


@dataclass
class VocabularyMap:
    """BPE symbol / special / filler -> model row, and which rows are <unk> aliases."""

    token_to_id: Dict[str, int]
    special_tokens: Dict[str, str]  # bos_token -> "<s>", ...
    n_dictionary: int  # len(dict.txt) with specials: rows the fairseq model has for it
    n_model_rows: int  # the checkpoint's embedding rows (n_dictionary, or + <mask>)
    alias_ids: List[int] = field(default_factory=list)  # unknown-to-dict BPE symbols

    @property
    def size(self) -> int:
        return self.n_model_rows + len(self.alias_ids)


def find_data_bin(bart: FairseqBart, data_bin: Optional[str]) -> DataBin:
    """``--data-bin``, else the checkpoint's ``task.data`` (a data-bin, or its shards)."""
    data = data_bin or bart.task_args.get("data")
    if not data:
        raise ExportError(f"{bart.path}: the checkpoint does not name its data-bin (task.data); give --data-bin")
    if not data_bin:
        from ..data.bpe_record import resolve_stored_path

        data = resolve_stored_path(str(data), f"{bart.path}'s task.data")
    try:
        return DataBin.locate(str(data))
    except DataBinError as err:
        raise ExportError(str(err)) from None


def load_training_dictionary(data_bin: DataBin, bart: FairseqBart):
    """The data-bin's dictionary, checked against the checkpoint's embedding rows."""
    from ..data.bpe import BPEFileError, load_dictionary

    paths = [data_bin.dictionary_path(lang) for lang in
             (bart.task_args.get("source_lang") or "source", bart.task_args.get("target_lang") or "target")]
    if not os.path.isfile(paths[0]):
        raise ExportError(
            f"{paths[0]} not found: the dictionary the model was trained with is needed to map its rows to "
            "BPE symbols; give --data-bin, the data-bin (or a directory holding dict.source.txt) it was trained on")
    try:
        dictionaries = [load_dictionary(p) for p in paths if os.path.isfile(p)]
    except BPEFileError as err:
        raise ExportError(str(err)) from None
    if len(dictionaries) == 2 and dictionaries[0].symbols != dictionaries[1].symbols:
        raise ExportError(f"{paths[0]} and {paths[1]} differ; a transformers BART has one vocabulary")
    dictionary = dictionaries[0]
    rows = bart.state["encoder.embed_tokens.weight"].shape[0]
    n = len(dictionary)
    # fairseq's BART tasks append <mask> to the dictionary: one extra row is that, nothing else
    if rows not in (n, n + 1):
        raise ExportError(
            f"{bart.path} has {rows} embedding rows but {paths[0]} has {n} entries: "
            "not the dictionary the model was trained with (give --data-bin)")
    return dictionary


def resolve_bpe_files(given: Dict[str, Optional[str]], bart: FairseqBart, data_bin: DataBin,
                      allow_mismatch: bool = False) -> Tuple[str, str]:
    """encoder.json and vocab.bpe: ``given`` (--encoder-json / --vocab-bpe), else the checkpoint's
    task settings, else the data-bin's record, else copies in the data-bin; checked against the
    data-bin's sha256 record (summ_plugin.data.bpe_record: the first that is set decides, a
    missing one is an error naming it, other files than the data-bin's are refused)."""
    from ..data.bpe_record import BPERecordError

    for key in ("encoder_json", "vocab_bpe"):
        option = given.get(key)
        if option and not os.path.isfile(option):
            # a path the user named is never silently replaced by another file
            what = "is a directory, not a file" if os.path.isdir(option) else \
                "not a regular file" if os.path.exists(option) else "no such file"
            raise ExportError(f"--{key.replace('_', '-')} {option}: {what}")
    from ..data.bpe_record import resolve_bpe_files as resolve_recorded

    stored = {key: bart.task_args.get(key) for key in ("encoder_json", "vocab_bpe")}
    try:
        return resolve_recorded(data_bin, given, stored, stored_in=bart.path, allow_mismatch=allow_mismatch)
    except BPERecordError as err:
        raise ExportError(str(err)) from None


def read_bpe_files(encoder_json: str, vocab_bpe: str) -> Tuple[Dict[str, int], List[Tuple[str, str]]]:
    """encoder.json (symbol -> GPT-2 id) and the merges of vocab.bpe, checked as every loader
    checks them (summ_plugin.data.bpe.check_bpe_pair: the same errors as summ-prepare's)."""
    from ..data.bpe import BPEFileError, check_bpe_pair

    try:
        return check_bpe_pair(encoder_json, vocab_bpe)
    except BPEFileError as err:
        raise ExportError(str(err)) from None


def build_vocabulary_map(dictionary_symbols: List[str], n_model_rows: int, encoder: Dict[str, int]) -> VocabularyMap:
    """Give every token string the row fairseq would feed the model for it.

    ``dictionary_symbols``: fairseq's ``Dictionary.symbols`` (specials first; GPT-2 ids as
    strings; fillers such as ``madeupword0000``; maybe ``<mask>``).
    """
    symbol_of_gpt2_id = {gpt2_id: symbol for symbol, gpt2_id in encoder.items()}
    bpe_symbols = set(encoder)
    token_to_id: Dict[str, int] = {}
    for index, symbol in enumerate(dictionary_symbols):
        if index < len(SPECIAL_SYMBOLS):
            token = symbol
        elif symbol.isdigit() and int(symbol) in symbol_of_gpt2_id:
            token = symbol_of_gpt2_id[int(symbol)]
        elif symbol in bpe_symbols:
            # a non-id symbol spelled like a BPE symbol is never reached from text in fairseq either
            token = f"<fairseq:{symbol}>"
        else:
            token = symbol
        if token in token_to_id:
            raise ExportError(f"dictionary lists '{symbol}' twice (indices {token_to_id[token]} and {index})")
        token_to_id[token] = index
    n_dictionary = len(dictionary_symbols)
    special_tokens = dict(zip(("bos_token", "pad_token", "eos_token", "unk_token"), dictionary_symbols[:4]))
    if n_model_rows == n_dictionary + 1 and MASK_SYMBOL not in token_to_id:
        token_to_id[MASK_SYMBOL] = n_dictionary
    if MASK_SYMBOL in token_to_id:
        special_tokens["mask_token"] = MASK_SYMBOL
    mapping = VocabularyMap(token_to_id, special_tokens, n_dictionary, n_model_rows)
    next_id = n_model_rows
    for symbol, _ in sorted(encoder.items(), key=lambda kv: kv[1]):
        if symbol not in token_to_id:
            token_to_id[symbol] = next_id
            mapping.alias_ids.append(next_id)
            next_id += 1
    return mapping
