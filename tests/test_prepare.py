"""summ-prepare: raw JSONL -> retrieval -> BPE -> fairseq mmap data-bin."""
import json
import os

import pytest

from summ_plugin.cli.prepare import main
from summ_plugin.data.data_bin import DataBin, PreparedBudget, RecordedFile, RetrieverSetting
from tests._prepare_fixtures import build_vocab, make_raw_dir, make_records, write_jsonl


@pytest.fixture(scope="module")
def vocab(tmp_path_factory):
    return build_vocab(str(tmp_path_factory.mktemp("vocab")))


def vocab_args(vocab):
    return ["--encoder-json", vocab["encoder_json"], "--vocab-bpe", vocab["vocab_bpe"], "--dict", vocab["dict"]]


def run_prepare(vocab, *args):
    return main(list(args) + vocab_args(vocab))


def load_split(dest, split, lang):
    from fairseq.data import Dictionary, data_utils

    dictionary = Dictionary.load(os.path.join(dest, f"dict.{lang}.txt"))
    dataset = data_utils.load_indexed_dataset(os.path.join(dest, f"{split}.source-target.{lang}"), dictionary)
    assert dataset is not None, f"{split}.{lang} not readable by fairseq"
    return dataset, dictionary


def decode(ids, dictionary, bpe):
    return bpe.decode([int(dictionary[i]) for i in ids])


def read_meta(dest, split):
    with open(os.path.join(dest, f"{split}.meta.jsonl"), encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def test_data_bin_decodes_to_the_selected_passages(vocab, tmp_path):
    from summ_plugin import retrieval
    from summ_plugin.data.bpe import load_gpt2_bpe

    raw = make_raw_dir(str(tmp_path / "raw"), with_query=True)
    dest = str(tmp_path / "bin")
    run_prepare(vocab, "--input", raw, "--destdir", dest, "--retriever", "lead", "--max-source-positions", "96")

    bpe = load_gpt2_bpe(vocab["encoder_json"], vocab["vocab_bpe"])
    records = [json.loads(line) for line in open(os.path.join(raw, "valid.jsonl"), encoding="utf-8")]
    source, src_dict = load_split(dest, "valid", "source")
    target, tgt_dict = load_split(dest, "valid", "target")
    meta = read_meta(dest, "valid")
    assert len(source) == len(target) == len(meta) == len(records)
    count = lambda text: len(bpe.encode(" " + text))  # noqa: E731
    for i, record in enumerate(records):
        selection = retrieval.select_source(
            [record["document"]], query=record.get("query"), reference=None, title=None,
            retriever=retrieval.build_retriever("lead"), max_positions=96, count_tokens=count,
        )
        ids = source[i].tolist()
        eos = src_dict.eos()
        assert ids[-1] == eos and len(ids) <= 96
        body = ids[:-1]
        expected_passages = "".join(" " + p for p in selection.passages)
        if selection.query:
            sep = body.index(eos)
            assert decode(body[:sep], src_dict, bpe) == " " + selection.query
            body = body[sep + 1:]
        assert eos not in body
        assert decode(body, src_dict, bpe) == expected_passages
        assert meta[i]["id"] == record["id"]
        assert meta[i]["passage_ids"] == list(selection.passage_ids)
        assert meta[i]["n_source_tokens"] == len(ids)
        # target: summary sentences joined by a space (no newline in the BPE), then </s>
        tgt = target[i].tolist()
        assert tgt[-1] == tgt_dict.eos()
        assert decode(tgt[:-1], tgt_dict, bpe) == " " + record["summary"].replace("\n", " ")
    assert not any(tgt_dict.unk() in target[i].tolist() for i in range(len(target)))


def test_meta_and_manifest(vocab, tmp_path):
    from summ_plugin.data.prepare import sha256_path

    raw = make_raw_dir(str(tmp_path / "raw"))
    dest = str(tmp_path / "bin")
    run_prepare(vocab, "--input", raw, "--destdir", dest, "--retriever", "lead", "--max-source-positions", "64")
    data_bin = DataBin.read(dest)
    manifest = data_bin.manifest
    assert set(manifest.splits) == {"train", "valid", "test"}
    train = manifest.splits["train"]
    assert train.examples == 24 and train.figures["skipped"] == 0
    # --retriever names valid/test's; train follows the published recipe unless --train-retriever
    assert data_bin.retriever("train") == RetrieverSetting("oracle", {"pad": "random"})
    assert data_bin.retriever("valid") == data_bin.retriever("test") == RetrieverSetting("lead", {})
    assert manifest.default_choice == {"reason": "given with --retriever"}
    assert train.input == os.path.join(raw, "train.jsonl")
    assert train.input_sha256 == sha256_path(os.path.join(raw, "train.jsonl"))
    assert 0 < train.figures["mean_rouge1_recall"] <= 1
    assert manifest.budget == PreparedBudget(max_source_positions=64, max_target_positions=1024, reserved_tokens=2,
                                             separator_tokens=1, split_mode="sentence")
    assert manifest.dictionary == RecordedFile(vocab["dict"], sha256_path(vocab["dict"]))
    assert manifest.encoder_json == RecordedFile(vocab["encoder_json"], sha256_path(vocab["encoder_json"]))
    assert data_bin.data_path == os.path.abspath(dest) and manifest.shards == 1
    from summ_plugin.retrieval.passages import split_passages

    meta = read_meta(dest, "train")
    assert [m["id"] for m in meta] == [f"doc1-{i}" for i in range(24)]
    documents = [json.loads(line)["document"] for line in open(os.path.join(raw, "train.jsonl"), encoding="utf-8")]
    for m, document in zip(meta, documents):
        assert m["retriever"] == "oracle" and m["n_passages"] == len(split_passages([document], mode="sentence")) > 5
        assert 0 < len(m["passage_ids"]) <= m["n_passages"]
        assert m["n_source_tokens"] <= 64 and m["target_truncated"] is False
        assert 0 <= m["rouge1_recall"] <= 1 and 0 <= m["rouge2_recall"] <= 1
    for name in ("dict.source.txt", "dict.target.txt"):
        assert open(os.path.join(dest, name), "rb").read() == open(vocab["dict"], "rb").read()


def _all_bytes(dest):
    out = {}
    for root, _, files in os.walk(dest):
        for name in files:
            if name != "prepare.json":
                path = os.path.join(root, name)
                out[os.path.relpath(path, dest)] = open(path, "rb").read()
    return out


def test_same_bytes_with_one_or_two_workers_and_on_rerun(vocab, tmp_path):
    raw = make_raw_dir(str(tmp_path / "raw"), n_train=40, with_query=True)
    for name, workers in (("a", "1"), ("b", "2"), ("c", "2")):
        run_prepare(vocab, "--input", raw, "--destdir", str(tmp_path / name), "--retriever", "lead",
                    "--max-source-positions", "80", "--workers", workers)
    a, b, c = (_all_bytes(str(tmp_path / n)) for n in "abc")
    assert len(a) == 17 and a == b == c  # 3 splits x 5 files + 2 dicts
    manifests = [DataBin.read(str(tmp_path / n)).manifest for n in "abc"]
    for m in manifests:
        del m.options["workers"]
    assert manifests[0] == manifests[1] == manifests[2]


@pytest.mark.parametrize("max_positions", [12, 33, 70])
def test_source_never_exceeds_the_budget_and_targets_are_truncated(vocab, tmp_path, max_positions):
    records = make_records(10, seed=4, sentences=20, with_query=True)
    records[0]["query"] = " ".join(["council budget"] * 80)  # a query longer than the budget
    train = write_jsonl(str(tmp_path / "train.jsonl"), records)
    dest = str(tmp_path / "bin")
    run_prepare(vocab, "--train", train, "--destdir", dest, "--retriever", "lead",
                "--max-source-positions", str(max_positions), "--max-target-positions", "9")
    source, _ = load_split(dest, "train", "source")
    target, tgt_dict = load_split(dest, "train", "target")
    assert max(source.sizes) <= max_positions
    assert max(target.sizes) <= 9 and all(target[i][-1] == tgt_dict.eos() for i in range(len(target)))
    meta = read_meta(dest, "train")
    assert all(m["target_truncated"] for m in meta)
    figures = DataBin.read(dest).manifest.splits["train"].figures
    assert figures["targets_truncated"] == 10
    assert figures["max_source_tokens"] <= max_positions


BAD_LINES = {
    "malformed JSON": (b'{"id": "x", "document": "A b.", "summary": "s"\n', "malformed JSON"),
    "missing field": (b'{"id": "x", "summary": "s"}\n', "missing field 'document'"),
    "empty document": (b'{"id": "x", "document": "  ", "summary": "s"}\n', "empty document"),
    "empty summary": (b'{"id": "x", "document": "A b.", "summary": " "}\n', "empty summary"),
    "invalid UTF-8": (b'{"id": "x", "document": "A \xff b.", "summary": "s"}\n', "invalid UTF-8"),
    "duplicate id": (b'{"id": "doc1-1", "document": "A b.", "summary": "s"}\n', "duplicate id 'doc1-1'"),
    "control chars only": (b'{"id": "x", "document": "\\u0001\\u0002", "summary": "s"}\n',
                           "empty document: only invisible characters"),
}


def _corpus_with_bad_line(path, bad_line):
    good = [json.dumps(r).encode("utf-8") + b"\n" for r in make_records(6, seed=1)]
    with open(path, "wb") as handle:
        handle.writelines(good[:4] + [bad_line] + good[4:])  # the bad one is line 5
    return str(path)


@pytest.mark.parametrize("case", sorted(BAD_LINES))
def test_bad_record_stops_with_file_and_line(vocab, tmp_path, capsys, case):
    bad_line, reason = BAD_LINES[case]
    train = _corpus_with_bad_line(tmp_path / "train.jsonl", bad_line)
    dest = tmp_path / "bin"
    with pytest.raises(SystemExit) as exit_info:
        run_prepare(vocab, "--train", train, "--destdir", str(dest), "--retriever", "lead", "--workers", "2")
    assert exit_info.value.code == 2
    err_lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("summ-prepare: ")]
    assert len(err_lines) == 1
    assert err_lines[0].startswith(f"summ-prepare: error: {train}:5: ") and reason in err_lines[0]
    assert sorted(os.listdir(tmp_path)) == ["train.jsonl"], "a failed run left output behind"


@pytest.mark.parametrize("case", sorted(BAD_LINES))
def test_bad_record_skipped_and_listed(vocab, tmp_path, case):
    bad_line, reason = BAD_LINES[case]
    train = _corpus_with_bad_line(tmp_path / "train.jsonl", bad_line)
    dest = str(tmp_path / "bin")
    run_prepare(vocab, "--train", train, "--destdir", dest, "--retriever", "lead", "--on-bad-record", "skip")
    skipped = [json.loads(line) for line in open(os.path.join(dest, "train.skipped.jsonl"), encoding="utf-8")]
    assert len(skipped) == 1
    assert skipped[0]["location"] == f"{train}:5" and reason in skipped[0]["reason"]
    train = DataBin.read(dest).manifest.splits["train"]
    assert train.examples == 6 and train.figures["skipped"] == 1
    assert len(read_meta(dest, "train")) == 6


def test_missing_summary_allowed_for_test_only(vocab, tmp_path, capsys):
    raw = make_raw_dir(str(tmp_path / "raw"), n_test=0)
    no_summary = [{"id": f"t{i}", "document": r["document"]} for i, r in enumerate(make_records(3, seed=7))]
    test = write_jsonl(str(tmp_path / "raw" / "test.jsonl"), no_summary)
    with pytest.raises(SystemExit):
        run_prepare(vocab, "--input", raw, "--destdir", str(tmp_path / "a"), "--retriever", "lead")
    assert f"{test}:1: missing field 'summary'" in capsys.readouterr().err
    run_prepare(vocab, "--input", raw, "--destdir", str(tmp_path / "b"), "--retriever", "lead",
                "--allow-missing-summary", "test")
    target, tgt_dict = load_split(str(tmp_path / "b"), "test", "target")
    assert [target[i].tolist() for i in range(3)] == [[tgt_dict.eos()]] * 3
    assert "rouge1_recall" not in read_meta(str(tmp_path / "b"), "test")[0]
    with pytest.raises(SystemExit):
        run_prepare(vocab, "--input", raw, "--destdir", str(tmp_path / "c"), "--allow-missing-summary", "train")
    assert "train and valid need summaries" in capsys.readouterr().err


def test_failed_run_keeps_the_previous_data_bin(vocab, tmp_path):
    raw = make_raw_dir(str(tmp_path / "raw"))
    dest = str(tmp_path / "bin")
    run_prepare(vocab, "--input", raw, "--destdir", dest, "--retriever", "lead")
    before = _all_bytes(dest)
    with pytest.raises(SystemExit):  # exists, no --overwrite
        run_prepare(vocab, "--input", raw, "--destdir", dest, "--retriever", "lead")
    with open(os.path.join(raw, "valid.jsonl"), "ab") as handle:
        handle.write(b"{broken\n")
    with pytest.raises(SystemExit):
        run_prepare(vocab, "--input", raw, "--destdir", dest, "--retriever", "lead", "--overwrite")
    assert _all_bytes(dest) == before
    assert sorted(os.listdir(tmp_path)) == ["bin", "raw"], "temp dir left behind"
    # --overwrite with good input replaces it
    run_prepare(vocab, "--input", raw, "--destdir", dest, "--retriever", "lead", "--overwrite",
                "--on-bad-record", "skip", "--max-source-positions", "50")
    assert DataBin.read(dest).budget.max_source_positions == 50


def test_overwrite_refuses_a_foreign_directory(vocab, tmp_path, capsys):
    raw = make_raw_dir(str(tmp_path / "raw"))
    foreign = tmp_path / "home"
    foreign.mkdir()
    (foreign / "precious.txt").write_text("keep me")
    with pytest.raises(SystemExit):
        run_prepare(vocab, "--input", raw, "--destdir", str(foreign), "--overwrite")
    assert "not a summ-prepare output" in capsys.readouterr().err
    assert (foreign / "precious.txt").read_text() == "keep me"


def test_hostile_text_is_cleaned(vocab, tmp_path):
    from summ_plugin.data.bpe import load_gpt2_bpe

    records = make_records(3, seed=1)
    records[0]["document"] = "Council\x00 votes\x07 today.\r\nA second\u200b line. " + "x" * 20000 + " end."
    records[1]["document"] = "Cafe\u0301 opens. " + records[1]["document"]  # NFD e + accent -> NFC
    train = write_jsonl(str(tmp_path / "train.jsonl"), records)
    dest = str(tmp_path / "bin")
    run_prepare(vocab, "--train", train, "--destdir", dest, "--retriever", "lead", "--max-source-positions", "1024")
    assert DataBin.read(dest).manifest.splits["train"].figures["records_cleaned"] == 2
    bpe = load_gpt2_bpe(vocab["encoder_json"], vocab["vocab_bpe"])
    source, src_dict = load_split(dest, "train", "source")
    text0 = decode(source[0].tolist()[:-1], src_dict, bpe)
    assert "\x00" not in text0 and "\x07" not in text0 and "\r" not in text0
    assert text0.startswith(" Council votes today.")
    assert max(len(tok) for tok in text0.split()) <= 100
    assert "Caf\u00e9 opens." in decode(source[1].tolist()[:-1], src_dict, bpe)


def test_clean_text_unit():
    from summ_plugin.data.text import clean_text

    assert clean_text("a\tb\nc\x1bd\ud800e") == "a\tb\ncde"
    assert clean_text("y" * 250) == " ".join(["y" * 100, "y" * 100, "y" * 50])
    assert clean_text("plain text.") == "plain text."


def test_shards(vocab, tmp_path, capsys):
    raw = make_raw_dir(str(tmp_path / "raw"), n_train=10)
    dest = str(tmp_path / "bin")
    capsys.readouterr()
    run_prepare(vocab, "--input", raw, "--destdir", dest, "--retriever", "lead", "--shards", "3")
    shards = [os.path.join(os.path.abspath(dest), f"shard{k}") for k in range(3)]
    assert capsys.readouterr().out.strip() == ":".join(shards)
    ids = [[m["id"] for m in read_meta(s, "train")] for s in shards]
    assert ids == [[f"doc1-{i}" for i in range(k, 10, 3)] for k in range(3)]  # round robin
    for shard in shards:
        source, _ = load_split(shard, "train", "source")
        assert len(source) == len(read_meta(shard, "train"))
        for split in ("valid", "test"):
            for lang in ("source", "target"):
                for ext in ("bin", "idx"):
                    name = f"{split}.source-target.{lang}.{ext}"
                    assert open(os.path.join(shard, name), "rb").read() == open(os.path.join(shards[0], name), "rb").read()
        assert os.path.exists(os.path.join(shard, "dict.source.txt"))
    data_bin = DataBin.read(dest)
    assert data_bin.data_path == ":".join(shards) and data_bin.manifest.splits["train"].examples == 10


def test_train_retriever_and_oracle_only_for_train(vocab, tmp_path, capsys):
    raw = make_raw_dir(str(tmp_path / "raw"))
    with pytest.raises(SystemExit):
        run_prepare(vocab, "--input", raw, "--destdir", str(tmp_path / "a"), "--retriever", "oracle")
    assert "for training data only" in capsys.readouterr().err
    dest = str(tmp_path / "b")
    run_prepare(vocab, "--input", raw, "--destdir", dest, "--retriever", "lead", "--train-retriever", "oracle",
                "--max-source-positions", "60")
    assert {m["retriever"] for m in read_meta(dest, "train")} == {"oracle"}
    assert {m["retriever"] for m in read_meta(dest, "valid")} == {"lead"}
    data_bin = DataBin.read(dest)
    assert data_bin.retriever("train").name == "oracle"
    splits = data_bin.manifest.splits
    assert splits["train"].figures["mean_rouge1_recall"] >= splits["valid"].figures["mean_rouge1_recall"] - 0.2


def test_user_errors_are_one_line(vocab, tmp_path, capsys):
    raw = make_raw_dir(str(tmp_path / "raw"))
    cases = [
        (["--input", raw, "--destdir", str(tmp_path / "x"), "--retriever", "nope"], "unknown retriever 'nope'"),
        (["--input", str(tmp_path / "missing"), "--destdir", str(tmp_path / "x")], "not found"),
        (["--input", raw, "--destdir", str(tmp_path / "x"), "--retriever-options", "[1]"], "expected a JSON object"),
        (["--input", raw, "--destdir", str(tmp_path / "x"), "--retriever", "lead",
          "--retriever-options", '{"no_such_option": 1}'], "no_such_option"),
    ]
    for argv, message in cases:
        with pytest.raises(SystemExit) as exit_info:
            run_prepare(vocab, *argv)
        assert exit_info.value.code != 0
        err = capsys.readouterr().err.strip().splitlines()
        assert message in err[-1] and "Traceback" not in "\n".join(err)
    bad_dict = tmp_path / "dict.txt"
    bad_dict.write_text("1 1\n1 2\n")
    with pytest.raises(SystemExit):
        main(["--input", raw, "--destdir", str(tmp_path / "x"), "--encoder-json", vocab["encoder_json"],
              "--vocab-bpe", vocab["vocab_bpe"], "--dict", str(bad_dict)])
    assert f"{bad_dict}: not a valid fairseq dict.txt" in capsys.readouterr().err
    assert not os.path.exists(tmp_path / "x")


def test_convert_only(vocab, tmp_path):
    import csv

    path = tmp_path / "train.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "article", "highlights"])
        writer.writerow(["a1", "First story. It has text.", "Story one."])
        writer.writerow(["a2", "Second story here.", "Story two."])
    out = tmp_path / "out" / "train.jsonl"
    main(["--input", str(path), "--convert-only", str(out)])
    rows = [json.loads(line) for line in open(out, encoding="utf-8")]
    assert rows == [{"id": "a1", "document": "First story. It has text.", "summary": "Story one."},
                    {"id": "a2", "document": "Second story here.", "summary": "Story two."}]


def test_make_vocab_cli(tmp_path, capsys):
    from summ_plugin.cli.make_vocab import main as make_vocab_main
    from summ_plugin.data.bpe import load_dictionary, load_gpt2_bpe

    a = write_jsonl(str(tmp_path / "a.jsonl"), make_records(8, seed=1))
    b = write_jsonl(str(tmp_path / "b.jsonl"), make_records(4, seed=2))
    make_vocab_main(["--input", f"{a},{b}", "--vocab-size", "350", "--out", str(tmp_path / "v")])
    bpe = load_gpt2_bpe(str(tmp_path / "v" / "encoder.json"), str(tmp_path / "v" / "vocab.bpe"))
    dictionary = load_dictionary(str(tmp_path / "v" / "dict.txt"))
    assert all(dictionary.index(str(i)) != dictionary.unk() for i in bpe.ids)  # every BPE id has an entry
    first = (tmp_path / "v" / "dict.txt").read_text().splitlines()[0].split()
    assert int(first[1]) > 0 and bpe.decode([int(first[0])]).strip() in " ".join(make_records(8, seed=1)[0].values())
    # reuse an existing BPE: only dict.txt is counted
    make_vocab_main(["--input", a, "--encoder-json", str(tmp_path / "v" / "encoder.json"),
                     "--vocab-bpe", str(tmp_path / "v" / "vocab.bpe"), "--out", str(tmp_path / "w")])
    assert (tmp_path / "w" / "encoder.json").read_bytes() == (tmp_path / "v" / "encoder.json").read_bytes()
    with pytest.raises(SystemExit) as exit_info:
        make_vocab_main(["--input", str(tmp_path / "nope.jsonl"), "--vocab-size", "300", "--out", str(tmp_path / "x")])
    assert exit_info.value.code == 2
    assert "nope.jsonl: input file not found" in capsys.readouterr().err
