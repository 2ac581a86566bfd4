"""Issue 14 item 12: run-on and CJK text is cut into sentence-sized pieces in linear time.

Before: a document without sentence boundaries was one passage that cut_into_windows
windowed whole (a 20000-word run-on document cost 24x the punctuated one), CJK without
spaces stayed one passage, and a long single line with periods was split in quadratic time.
Bounds are operation counts (characters copied or encoded), not timings.
"""
import random

import pytest

from summ_plugin.retrieval.passages import split_passages, split_sentences
from summ_plugin.retrieval.splitting import MAX_SENTENCE_UNITS, split_long_passage
from tests._prepare_fixtures import WORDS, build_vocab


def documents(n_words, seed=0):
    rng = random.Random(seed)
    words = [rng.choice(WORDS) for _ in range(n_words)]
    sentences, i = [], 0
    while i < n_words:
        k = rng.randint(8, 30)
        sentences.append(" ".join(words[i:i + k]).capitalize() + ".")
        i += k
    return " ".join(sentences), " ".join(words), sentences


def test_run_on_pieces_are_sentence_sized_and_keep_every_word():
    _, run_on, _ = documents(5000)
    pieces = split_long_passage(run_on)
    assert len(pieces) > 5000 // MAX_SENTENCE_UNITS
    assert max(len(p.split()) for p in pieces) <= MAX_SENTENCE_UNITS
    assert " ".join(pieces).split() == run_on.split()


def test_cjk_without_spaces_is_split_at_terminators_and_by_characters():
    sentence = "今天市议会批准了新的学校预算" + "，居民询问了税收问题" * 3 + "。"
    with_terminators = sentence * 40
    passages = split_passages([with_terminators])
    assert len(passages) == 40 and all(p.text == sentence for p in passages)
    without = with_terminators.replace("。", "")
    pieces = [p.text for p in split_passages([without])]
    assert len(pieces) > 1 and max(len(p) for p in pieces) <= MAX_SENTENCE_UNITS
    assert "".join(pieces) == without


class SliceCountingLine(str):
    """A line that counts the characters its slices copy: copying the rest of the line at
    each boundary (the old quadratic splitter) copies about n^2/2 of them."""

    copied = 0

    def __getitem__(self, key):
        piece = super().__getitem__(key)
        SliceCountingLine.copied += len(piece)
        return piece


def test_long_single_line_with_periods_splits_in_linear_time():
    """Operation counts, not timings: splitting a line copies each character a bounded
    number of times, whatever its length."""
    from summ_plugin.retrieval.passages import _split_line

    sentence = "The council met on Monday. Residents asked about taxes. "
    for repeats in (500, 5000):
        line = SliceCountingLine(sentence * repeats)
        SliceCountingLine.copied = 0
        pieces = _split_line(line)
        assert len(pieces) == 2 * repeats
        # the pieces once, one character after each boundary, a short window before it
        assert SliceCountingLine.copied <= 2 * len(line), (repeats, SliceCountingLine.copied, len(line))


@pytest.fixture(scope="module")
def encoder(tmp_path_factory):
    from summ_plugin.data.encoder import ExampleEncoder

    vocab = build_vocab(str(tmp_path_factory.mktemp("vocab")))
    return ExampleEncoder(vocab["encoder_json"], vocab["vocab_bpe"], vocab["dict"], max_source_positions=1024)


def test_run_on_document_is_bpe_encoded_once_like_the_punctuated_one(encoder):
    """Operation counts, not timings: the characters handed to the BPE for a 30000-word
    document, run-on or punctuated, are at most the document once (before the fix, the
    run-on document was windowed whole: its prefixes were BPE-encoded over and over)."""
    from summ_plugin.data.records import Record

    punctuated, run_on, sentences = documents(30000)
    bm25 = encoder.retriever("bm25")
    original_encode = encoder.bpe.encode

    def bpe_characters(doc):
        encoder.encode_text.cache_clear()  # each document pays for its own BPE
        encoded = []

        def counting_encode(text):
            encoded.append(len(text))
            return original_encode(text)

        encoder.bpe.encode = counting_encode
        try:
            record = Record(id="x", documents=[doc], summary=sentences[3], location="x:1")
            example = encoder.encode(record, bm25, use_reference=False)[0]
        finally:
            encoder.bpe.encode = original_encode
        return sum(encoded), example

    for doc in (punctuated, run_on):
        characters, example = bpe_characters(doc)
        assert characters <= 1.05 * len(doc) + 1000, (characters, len(doc))
        assert example["meta"]["n_source_tokens"] <= 1024
    assert example["meta"]["n_passages"] >= 30000 // MAX_SENTENCE_UNITS
