"""GPT-2 byte-level BPE: load it exactly as fairseq does, train a small one, build dict.txt.

The ids must be the ones fairseq's own ``--bpe gpt2`` gives, so loading goes through
``fairseq.data.encoders.gpt2_bpe_utils.get_encoder`` rather than a re-implementation.
A trained BPE (``tokenizers``' ByteLevelBPETokenizer) is written in the same two-file GPT-2
format (``encoder.json`` + ``vocab.bpe``) so that fairseq reads it unchanged.
"""
import io
import json
import logging
import os
import re
import tempfile
from collections import Counter
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

from summ_plugin.atomic import atomic_write_text
from summ_plugin.errors import UserError

logger = logging.getLogger(__name__)

# fairseq's Encoder memoizes every distinct pre-token forever; on a large corpus that is
# the one piece of state that grows with the data. Past this many entries it is dropped.
MAX_BPE_CACHE_ENTRIES = 500_000


class BPEFileError(UserError, ValueError):
    """A missing or unreadable ``encoder.json`` / ``vocab.bpe`` / ``dict.txt``."""


class GPT2BPE:
    """fairseq's GPT-2 encoder with a bounded memo; ``encode`` gives raw BPE ids."""

    def __init__(self, encoder, encoder_json: str, vocab_bpe: str):
        self._encoder = encoder
        self.encoder_json = encoder_json
        self.vocab_bpe = vocab_bpe

    @property
    def vocab_size(self) -> int:
        return len(self._encoder.encoder)

    @property
    def ids(self) -> List[int]:
        """Every BPE token id, ascending."""
        return sorted(self._encoder.encoder.values())

    def encode(self, text: str) -> List[int]:
        if len(self._encoder.cache) > MAX_BPE_CACHE_ENTRIES:
            self._encoder.cache.clear()
        return self._encoder.encode(text)

    def decode(self, ids: Sequence) -> str:
        """BPE ids, as ints or as the strings a dictionary holds; ``<unk>`` and ``<mask>``
        stay as they are (what fairseq's ``--bpe gpt2`` does with a model's output). An id the
        encoder.json lacks raises KeyError(id) (fairseq's decoder would fail on it with a TypeError)."""
        tokens = [i if i in ("<unk>", "<mask>") else int(i) for i in ids]
        known = self._encoder.decoder
        unknown = next((t for t in tokens if isinstance(t, int) and t not in known), None)
        if unknown is not None:
            raise KeyError(unknown)
        return self._encoder.decode(tokens)


def decode_ids(dictionary, bpe: "GPT2BPE", token_ids) -> str:
    """A model's dictionary ids -> text, as fairseq's ``--bpe gpt2`` post-processing does:
    ids to the dictionary's BPE symbols (``<s>`` and padding dropped, ``</s>`` ends it), then
    GPT-2 decoding. The one decoder of summ-summarize and ``--eval-rouge``."""
    import torch

    text = dictionary.string(torch.as_tensor(token_ids).int().cpu(), extra_symbols_to_ignore={dictionary.bos()})
    return bpe.decode(text.split()).strip() if text else ""


def _check_readable(path: str, what: str) -> None:
    if not path:
        raise BPEFileError(f"no {what} file given")
    if not os.path.isfile(path):
        raise BPEFileError(f"{path}: {what} file not found")


# tokens of an encoder.json that no merge makes and that are not byte symbols: special tokens
# such as GPT-2's <|endoftext|> (or <s>, <pad> of a tokenizers-trained file with specials)
_SPECIAL_TOKEN = re.compile(r"<\|?[^\s<>|]+\|?>")


def _read_encoder_json(encoder_json: str) -> Dict[str, int]:
    def no_duplicate_keys(pairs):
        seen: Dict[str, int] = {}
        for key, value in pairs:
            if key in seen:
                raise BPEFileError(f"{encoder_json}: token {key!r} is listed twice (ids {seen[key]!r} and {value!r})")
            seen[key] = value
        return seen

    try:
        with open(encoder_json, "r", encoding="utf-8") as handle:
            vocab = json.load(handle, object_pairs_hook=no_duplicate_keys)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as err:
        raise BPEFileError(f"{encoder_json}: not a valid encoder.json ({type(err).__name__}: {err})") from None
    if not isinstance(vocab, dict) or not vocab or not all(
        isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool) for k, v in vocab.items()
    ):
        raise BPEFileError(f"{encoder_json}: not a valid encoder.json (expected a JSON object of token -> integer id)")
    owner: Dict[int, str] = {}
    for token, token_id in vocab.items():
        if token_id < 0:
            raise BPEFileError(f"{encoder_json}: token {token!r} has a negative id {token_id}")
        if token_id in owner:
            # fairseq's decoder keeps one of the two: ids would decode to the other token's text
            raise BPEFileError(f"{encoder_json}: id {token_id} is given to two tokens ({owner[token_id]!r} and "
                               f"{token!r}); ids must be unique")
        owner[token_id] = token
    return vocab


def check_bpe_pair(encoder_json: str, vocab_bpe: str) -> Tuple[Dict[str, int], List[Tuple[str, str]]]:
    """Check that ``encoder_json`` and ``vocab_bpe`` are a whole, consistent GPT-2 BPE pair and
    return (token -> id, merges in rank order). Refused, with the file (and line) named:

    * encoder.json: not a JSON object of token -> integer id, a token listed twice, an id given
      to two tokens, one of the 256 byte symbols missing;
    * vocab.bpe: no ``#version`` line, no final newline, a line that is not two symbols, a merge
      whose parts are not tokens made before it (a byte symbol or an earlier merge's result), a
      merge listed twice, or whose result is not in encoder.json;
    * the pair: a token of encoder.json (other than a special such as ``<|endoftext|>``) that no
      merge makes: vocab.bpe was cut short, or belongs to another encoder.json.
    """
    from fairseq.data.encoders.gpt2_bpe_utils import bytes_to_unicode

    _check_readable(encoder_json, "encoder.json")
    _check_readable(vocab_bpe, "vocab.bpe")
    vocab = _read_encoder_json(encoder_json)
    # every byte must have a token, or encoding an unseen byte raises KeyError mid-corpus
    byte_symbols = set(bytes_to_unicode().values())
    missing = [c for c in bytes_to_unicode().values() if c not in vocab]
    if missing:
        raise BPEFileError(f"{encoder_json}: {len(missing)} of the 256 byte symbols are missing (e.g. {missing[0]!r})")

    try:
        with open(vocab_bpe, "r", encoding="utf-8") as handle:
            lines = handle.read().split("\n")
    except UnicodeDecodeError as err:
        raise BPEFileError(f"{vocab_bpe}: not a valid vocab.bpe (invalid UTF-8 at byte {err.start})") from None
    if not lines or not lines[0].startswith("#version"):
        raise BPEFileError(f"{vocab_bpe}: not a valid vocab.bpe (first line must be '#version: ...')")
    made = set(byte_symbols)  # the tokens BPE can have built so far
    merges: List[Tuple[str, str]] = []
    seen_pairs: Dict[Tuple[str, str], int] = {}
    # get_encoder drops the first and the last line: the file must end with a newline
    for line_no, line in enumerate(lines[1:-1], start=2):
        parts = line.split()
        if len(parts) != 2:
            raise BPEFileError(f"{vocab_bpe}:{line_no}: not a valid merge line (expected two symbols): {line[:60]!r}")
        pair = (parts[0], parts[1])
        for part in pair:
            if part not in made:
                raise BPEFileError(
                    f"{vocab_bpe}:{line_no}: merge part {part!r} is neither a byte symbol nor made by an earlier "
                    f"merge (a corrupt or reordered vocab.bpe)")
        if pair in seen_pairs:
            raise BPEFileError(f"{vocab_bpe}:{line_no}: merge {line!r} repeats line {seen_pairs[pair]}")
        seen_pairs[pair] = line_no
        merged = parts[0] + parts[1]
        if merged not in vocab:
            raise BPEFileError(
                f"{vocab_bpe}:{line_no}: merge result {merged!r} is not in {encoder_json} (files do not belong together)"
            )
        made.add(merged)
        merges.append(pair)
    if lines[-1] != "":
        raise BPEFileError(f"{vocab_bpe}: not a valid vocab.bpe (must end with a newline)")
    unmade = [t for t in vocab if t not in made and not _SPECIAL_TOKEN.fullmatch(t)]
    if unmade:
        raise BPEFileError(
            f"{vocab_bpe}: its {len(merges)} merges make no token for {len(unmade)} of the {len(vocab)} tokens of "
            f"{encoder_json} (e.g. {unmade[0]!r}): vocab.bpe is cut short or belongs to another encoder.json")
    return vocab, merges


def load_gpt2_bpe(encoder_json: str, vocab_bpe: str) -> GPT2BPE:
    """Load a GPT-2 BPE (``encoder.json`` + ``vocab.bpe``) with fairseq's own reader.

    The pair is checked first (:func:`check_bpe_pair`) so that a truncated download, a swapped
    argument or files that do not belong together give an error naming the file instead of a
    KeyError deep in an encode call, or ids that silently decode to other text.
    """
    from fairseq.data.encoders.gpt2_bpe_utils import get_encoder

    check_bpe_pair(encoder_json, vocab_bpe)
    encoder = get_encoder(encoder_json, vocab_bpe)
    return GPT2BPE(encoder, encoder_json, vocab_bpe)


MAX_TRAINED_VOCAB_SIZE = 1 << 20


def train_byte_level_bpe(text_iter: Iterable[str], vocab_size: int, out_dir: str, min_frequency: int = 2) -> None:
    """Train a byte-level BPE and write it as GPT-2 ``encoder.json`` + ``vocab.bpe``.

    ``tokenizers``' byte-level pre-tokenizer uses GPT-2's regex and byte-to-unicode map,
    so the written files encode the same with fairseq's reader as with ``tokenizers``.
    No special tokens: fairseq's Dictionary adds ``<s> <pad> </s> <unk>`` itself.
    """
    from tokenizers import ByteLevelBPETokenizer

    if vocab_size < 257:
        raise ValueError(f"vocab_size must be at least 257 (256 byte symbols + merges), got {vocab_size}")
    if vocab_size > MAX_TRAINED_VOCAB_SIZE:
        # tokenizers (Rust) aborts the process above 2**32 and allocates per entry below it
        raise ValueError(f"vocab_size {vocab_size} is beyond any trained vocabulary (GPT-2 has 50257); "
                         f"give at most {MAX_TRAINED_VOCAB_SIZE}")
    if min_frequency < 0:
        raise ValueError(f"min_frequency must be 0 or more, got {min_frequency}")
    tokenizer = ByteLevelBPETokenizer(add_prefix_space=False)
    tokenizer.train_from_iterator(
        text_iter, vocab_size=vocab_size, min_frequency=min_frequency, special_tokens=[], show_progress=False
    )
    os.makedirs(out_dir, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out_dir, prefix=".bpe-train-") as scratch:
        vocab_path, merges_path = tokenizer.save_model(scratch)
        with open(vocab_path, "r", encoding="utf-8") as handle:
            vocab = json.load(handle)
        with open(merges_path, "r", encoding="utf-8") as handle:
            merge_lines = [line for line in handle.read().split("\n") if line and not line.startswith("#version")]
    ordered = dict(sorted(vocab.items(), key=lambda kv: kv[1]))
    # ASCII-escaped like OpenAI's file: fairseq opens encoder.json with the locale's encoding
    atomic_write_text(os.path.join(out_dir, "encoder.json"), json.dumps(ordered, ensure_ascii=True))
    atomic_write_text(os.path.join(out_dir, "vocab.bpe"), "#version: 0.2\n" + "".join(m + "\n" for m in merge_lines))
    logger.info("trained byte-level BPE: %d tokens, %d merges -> %s", len(ordered), len(merge_lines), out_dir)


def build_dictionary(
    encoded_id_streams: Iterable[Sequence[int]],
    out_path: str,
    include_ids: Optional[Iterable[int]] = None,
    padding_factor: int = 8,
):
    """Count BPE ids and write a fairseq ``dict.txt`` the way ``fairseq-preprocess`` does.

    Symbols are the BPE ids as strings (what ``--bpe gpt2`` feeds the Dictionary), sorted
    by count descending by fairseq's ``Dictionary.finalize``. ``include_ids`` adds ids with
    count 0 so that text unseen at counting time never maps to ``<unk>``.
    Returns the fairseq Dictionary.
    """
    from fairseq.data import Dictionary

    counts: Counter = Counter()
    for ids in encoded_id_streams:
        counts.update(ids)
    if include_ids is not None:
        for i in include_ids:
            counts.setdefault(i, 0)
    dictionary = Dictionary()
    # sorted insertion: finalize() breaks count ties by symbol, but be explicit anyway
    for bpe_id, count in sorted(counts.items(), key=lambda kv: str(kv[0])):
        dictionary.add_symbol(str(bpe_id), n=count)
    dictionary.finalize(threshold=-1, nwords=-1, padding_factor=padding_factor)
    buffer = io.StringIO()
    dictionary.save(buffer)
    atomic_write_text(out_path, buffer.getvalue())
    logger.info("wrote %s: %d symbols (%d with specials)", out_path, len(dictionary) - dictionary.nspecial, len(dictionary))
    return dictionary


def check_dictionary_matches_bpe(dictionary, bpe: GPT2BPE, dict_path: str) -> None:
    """Refuse a dict.txt that cannot belong to this BPE.

    A GPT-2 BPE data-bin's dictionary lists BPE token ids as symbols ("13 850314"); a dict.txt
    of words (fairseq-preprocess without BPE) or of another tokenizer loads fine but would turn
    every token into <unk>. Fillers (madeupword...) and <mask> are allowed alongside the ids.
    """
    valid_ids = set(bpe.ids)
    symbols = [s for s in dictionary.symbols[dictionary.nspecial:] if not s.startswith("madeupword") and s != "<mask>"]
    matching = sum(1 for s in symbols if s.isdigit() and int(s) in valid_ids)
    if symbols and matching == 0:
        raise BPEFileError(
            f"{dict_path}: none of its {len(symbols)} symbols is a token id of {bpe.encoder_json} "
            f"(first symbols: {', '.join(repr(s) for s in symbols[:3])}): this dict.txt belongs to another "
            "vocabulary; a GPT-2 BPE dict.txt lists BPE ids with counts, e.g. '13 850314' "
            "(make one with summ-make-vocab, or use the model's own dict.txt)"
        )
    if matching < len(symbols) // 2:
        logger.warning("%s: only %d of %d symbols are token ids of %s", dict_path, matching, len(symbols), bpe.encoder_json)


def load_dictionary(path: str):
    """Load a fairseq ``dict.txt``; errors name the file."""
    from fairseq.data import Dictionary

    _check_readable(path, "dict.txt")
    try:
        return Dictionary.load(path)
    except Exception as err:  # fairseq raises a bare Exception for a file that is not UTF-8
        raise BPEFileError(f"{path}: not a valid fairseq dict.txt ({err})") from None
