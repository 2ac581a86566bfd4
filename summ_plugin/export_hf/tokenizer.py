"""The exported tokenizer: GPT-2's byte-level BPE with fairseq's dictionary indices, encoding
text as summ-prepare does: its cleaning (summ_plugin.data.text.clean_text), then ``" " + text``,
``</s>`` at the end, no ``<s>``.

The cleaning is expressed with ``tokenizers`` parts, built from data/text.py's own constants:

* normalizer: ``\r\n`` and ``\r`` -> ``\n``; the control characters of ``CONTROL_CHAR_RANGES``
  removed; NFC; then the leading space;
* pre-tokenizer: a split after every ``MAX_RUN_CHARS`` characters inside a longer run without
  whitespace (Python's ``\s``, spelled out), then the byte-level split, whose
  ``add_prefix_space`` gives each such piece the space clean_text inserts there (the first
  piece already starts with the leading space).

:func:`cleaning_mismatches` checks this against clean_text on hostile probes at every export,
so a rule added to clean_text that the tokenizer lacks is reported, never silently claimed equal.
"""
import json
import sys
from typing import List, Tuple

from ..data.text import CONTROL_CHAR_RANGES, MAX_RUN_CHARS, clean_text
from .vocabulary import VocabularyMap

# what Python's re means by \s in a str pattern (str.isspace), for the Oniguruma regex
_PYTHON_WHITESPACE = "".join(chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace())

# texts on which the tokenizer's cleaning is compared with clean_text at every export
CLEANING_PROBES = (
    "tab\there\t\tand\ttabs, CRLF\r\nand CR\rend",
    "control \x00\x01\x07\x08\x0b\x0c\x1b\x1f\x7f\x85\x9f characters, nel\x85x, bell\x07",
    "zero\u200bwidth, joiner\u200d, bom\ufeff, no-break\u00a0space, ideographic\u3000space, line\u2028sep",
    "combining e\u0301 and A\u030a, hangul \u1100\u1161\u11a8, emoji \U0001f916\U0001f44d\U0001f3fd",
    "x" * 300 + " " + "ab'cd" * 60 + " " + "9" * 250,
    "w" * 100 + " " + "v" * 101 + " " + "u" * 200 + " " + "t" * 201 + "\t" + "s" * 99,
    "中文字符和日本語のテキスト" * 20 + "、한국어" + "漢" * 150,
    "http://example.com/" + "a-b_c/" * 40 + "?q=" + "1" * 30,
    "  leading spaces, trailing  \n\n\nand blank lines  ",
)


def _char_class(chars: str, negate: bool = False) -> str:
    return "[" + ("^" if negate else "") + "".join(f"\\x{{{ord(c):x}}}" for c in chars) + "]"


def cleaning_normalizer():
    """clean_text's character rules, then the leading space summ-prepare adds."""
    from tokenizers import Regex, normalizers

    control = "[" + "".join(f"\\x{{{lo:x}}}-\\x{{{hi:x}}}" for lo, hi in CONTROL_CHAR_RANGES) + "]"
    return normalizers.Sequence([
        normalizers.Replace("\r\n", "\n"), normalizers.Replace("\r", "\n"),
        normalizers.Replace(Regex(control), ""), normalizers.NFC(),
        # summ-prepare encodes " " + text (every passage, query and summary); the byte-level
        # pre-tokenizer's own add_prefix_space would skip text that already starts with a space
        normalizers.Prepend(" "),
    ])


def run_breaking_pre_tokenizer():
    """clean_text's breaking of long whitespace-free runs, then GPT-2's byte-level split."""
    from tokenizers import Regex, pre_tokenizers

    run_char = _char_class(_PYTHON_WHITESPACE, negate=True)
    # matched from a run's start, one MAX_RUN_CHARS chunk after another, only while more follows:
    # the piece boundaries fall where clean_text puts its spaces
    chunk = Regex(f"{run_char}{{{MAX_RUN_CHARS}}}(?={run_char})")
    return pre_tokenizers.Sequence([
        pre_tokenizers.Split(chunk, behavior="merged_with_previous"),
        # adds " " to every piece not starting with one: the space clean_text inserts
        pre_tokenizers.ByteLevel(add_prefix_space=True, use_regex=True),
    ])


def cleaning_mismatches(backend, probes=CLEANING_PROBES) -> List[str]:
    """The probes whose pre-tokens (what BPE is applied to) differ between the tokenizer
    ``backend`` and summ-prepare (fairseq's GPT-2 split of ``" " + clean_text(text)``)."""
    from fairseq.data.encoders.gpt2_bpe_utils import Encoder

    reference = Encoder({}, [])
    mismatches = []
    for text in probes:
        cleaned = " " + clean_text(text)
        expected = ["".join(reference.byte_encoder[b] for b in piece.encode("utf-8"))
                    for piece in reference.pat.findall(cleaned)]
        got = [piece for piece, _ in backend.pre_tokenizer.pre_tokenize_str(backend.normalizer.normalize_str(text))]
        if got != expected:
            mismatches.append(text)
    return mismatches


def build_tokenizer(vocab: VocabularyMap, merges: List[Tuple[str, str]], model_max_length: int):
    """A tokenizers-backed transformers tokenizer that encodes like summ-prepare + fairseq."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, processors
    from transformers import PreTrainedTokenizerFast

    special = vocab.special_tokens
    eos = special["eos_token"]
    backend = Tokenizer(models.BPE(vocab=dict(vocab.token_to_id), merges=list(merges), dropout=None,
                                   continuing_subword_prefix="", end_of_word_suffix="", fuse_unk=False,
                                   unk_token=special["unk_token"]))
    backend.normalizer = cleaning_normalizer()
    backend.pre_tokenizer = run_breaking_pre_tokenizer()
    # ...and ROUGE decoding strips it again
    backend.decoder = decoders.Sequence([decoders.ByteLevel(), decoders.Strip(" ", 1, 0)])
    # sources and targets end with </s> and start with no <s>; a query comes first, then </s>
    backend.post_processor = processors.TemplateProcessing(
        single=f"$A {eos}", pair=f"$A {eos} $B {eos}", special_tokens=[(eos, vocab.token_to_id[eos])])
    backend.add_special_tokens([AddedToken(token, special=True, normalized=False) for token in special.values()])
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        model_max_length=model_max_length,
        clean_up_tokenization_spaces=False,
        # fairseq's BPE reads a literal "</s>" in a document as the characters it is
        split_special_tokens=True,
        **special,
    )


def name_tokenizer_class_portably(tokenizer_config_path: str) -> None:
    """transformers 5 writes its own class name (TokenizersBackend), unknown to 4.x; both
    load tokenizer.json unchanged under the name PreTrainedTokenizerFast. Not BartTokenizer:
    that class (RobertaTokenizer in 5.x) rebuilds its pre- and post-processing, adding <s>."""
    with open(tokenizer_config_path, encoding="utf-8") as handle:
        tokenizer_config = json.load(handle)
    tokenizer_config["tokenizer_class"] = "PreTrainedTokenizerFast"
    # 4.x's generic class would also return token_type_ids, which BART's generate() refuses
    tokenizer_config["model_input_names"] = ["input_ids", "attention_mask"]
    with open(tokenizer_config_path, "w", encoding="utf-8") as handle:
        json.dump(tokenizer_config, handle, indent=2, ensure_ascii=False)
