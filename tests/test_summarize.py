"""summ-summarize: raw documents -> the training retrieval path -> BART generation -> JSONL."""
import json
import os
import shutil
import subprocess
import sys

import pytest

from summ_plugin.cli.summarize import main as summarize_main
from tests._fairseq import PLUGIN_DIR, run, script


def exit_status(main, argv):
    """``main(argv)``'s status: what it returns, or what it exits with (a user error: 2)."""
    try:
        return main(argv)
    except SystemExit as exc:
        return exc.code


def read_jsonl(path):
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def test_summarize_uses_the_same_retrieval_as_training_data(tiny_checkpoint, tiny_data_bin, tiny_raw_dir, tiny_vocab,
                                                            tmp_path):
    out = tmp_path / "hyps.jsonl"
    code = exit_status(summarize_main, [
        "--path", tiny_checkpoint, "--input", os.path.join(tiny_raw_dir, "test.jsonl"),
        "--output", str(out), "--beam", "2", "--max-len-b", "12", "--cpu", "--batch-size", "3",
    ])
    assert code == 0
    rows = read_jsonl(out)
    meta = read_jsonl(os.path.join(tiny_data_bin, "test.meta.jsonl"))
    # same records, same order, same passages picked by the same retriever under the same budget
    assert [r["id"] for r in rows] == [m["id"] for m in meta]
    assert [r["passage_ids"] for r in rows] == [m["passage_ids"] for m in meta]
    assert [r["n_source_tokens"] for r in rows] == [m["n_source_tokens"] for m in meta]
    assert all(r["retriever"] == "bm25" for r in rows)
    # The summaries are the model's: stock fairseq-generate on the same sources (the data-bin's
    # test split, shown above to hold the same passages) with the same search settings writes
    # the same detokenized text, id for id.
    generated = run([
        script("fairseq-generate"), tiny_data_bin, "--user-dir", PLUGIN_DIR, "--task", "retrieve_summarize",
        "--path", tiny_checkpoint, "--gen-subset", "test", "--cpu", "--beam", "2", "--max-len-b", "12",
        "--batch-size", "3", "--bpe", "gpt2", "--gpt2-encoder-json", tiny_vocab["encoder_json"],
        "--gpt2-vocab-bpe", tiny_vocab["vocab_bpe"],
    ])
    by_id = {}
    for line in generated.splitlines():
        if line.startswith("D-"):
            key, _score, *text = line.split("\t")
            by_id[int(key[2:])] = text[0].strip() if text else ""
    assert [r["summary"] for r in rows] == [by_id[i] for i in range(len(rows))]
    assert any(r["summary"] for r in rows)
    assert not [p for p in os.listdir(tmp_path) if ".tmp" in p]  # no temp file left


def test_summarize_retriever_override_changes_the_selection(tiny_checkpoint, tiny_raw_dir, tmp_path):
    out = tmp_path / "lead.jsonl"
    # a killed summ-summarize's output temp file (issue 25 item 14): removed by this run
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f".lead.jsonl.tmp-{dead.pid}"
    stale.write_text('{"id": "half written"')
    assert summarize_main([
        "--path", tiny_checkpoint, "--input", os.path.join(tiny_raw_dir, "test.jsonl"), "--output", str(out),
        "--retriever", "lead", "--beam", "1", "--max-len-b", "5", "--cpu",
    ]) == 0
    rows = read_jsonl(out)
    assert sorted(os.listdir(tmp_path)) == ["lead.jsonl"]
    assert all(r["retriever"] == "lead" for r in rows)
    # lead = truncation: a prefix of the passages, in order
    for r in rows:
        distinct = sorted(set(r["passage_ids"]))
        assert distinct == list(range(len(distinct)))


def test_summarize_bad_input_names_the_line_and_writes_nothing(tiny_checkpoint, tmp_path, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "document": "One sentence here. Another one."}\n{"id": "b"}\n', encoding="utf-8")
    out = tmp_path / "out.jsonl"
    code = exit_status(summarize_main, ["--path", tiny_checkpoint, "--input", str(bad), "--output", str(out),
                                        "--cpu"])
    assert code == 2
    err = capsys.readouterr().err
    assert f"{bad}:2" in err and "document" in err
    assert not out.exists()
    assert not [p for p in os.listdir(tmp_path) if ".tmp" in p]  # no temp file left

    code = exit_status(summarize_main, ["--path", tiny_checkpoint, "--input", str(bad), "--output", str(out),
                                        "--cpu", "--on-bad-record", "skip", "--beam", "1", "--max-len-b", "4"])
    assert code == 0
    assert [r["id"] for r in read_jsonl(out)] == ["a"]


def test_summarize_missing_checkpoint_is_one_clear_line(tmp_path, capsys):
    code = exit_status(summarize_main, ["--path", str(tmp_path / "nope.pt"), "--input", "x.jsonl",
                                        "--output", str(tmp_path / "o")])
    assert code == 2
    assert "checkpoint not found" in capsys.readouterr().err


@pytest.mark.usefixtures("fairseq_processes")
def test_summarize_a_model_trained_with_eval_rouge_after_its_bpe_files_moved(tiny_data_bin, tiny_vocab, tiny_raw_dir, tmp_path):
    """The checkpoint stores the training-time --eval-rouge set-up and its BPE paths; inference
    must load the model with eval_rouge off and use the BPE files it is given."""
    from tests._fairseq import fairseq_train

    train_bpe = tmp_path / "bpe-at-training"
    train_bpe.mkdir()
    for key, name in (("encoder_json", "encoder.json"), ("vocab_bpe", "vocab.bpe")):
        shutil.copyfile(tiny_vocab[key], train_bpe / name)
    save = str(tmp_path / "ckpt")
    fairseq_train(
        tiny_data_bin, save, "--max-update", "2", "--eval-rouge", "--eval-rouge-args", '{"beam": 1, "max_len_b": 8}',
        "--encoder-json", str(train_bpe / "encoder.json"), "--vocab-bpe", str(train_bpe / "vocab.bpe"),
    )
    moved_bpe = tmp_path / "bpe-moved"
    shutil.move(str(train_bpe), str(moved_bpe))

    out = tmp_path / "hyps.jsonl"
    code = exit_status(summarize_main, [
        "--path", os.path.join(save, "checkpoint_last.pt"), "--input", os.path.join(tiny_raw_dir, "test.jsonl"),
        "--output", str(out), "--encoder-json", str(moved_bpe / "encoder.json"),
        "--vocab-bpe", str(moved_bpe / "vocab.bpe"), "--beam", "1", "--max-len-b", "6", "--cpu",
    ])
    assert code == 0
    # tiny_raw_dir's test split has 4 records (conftest: n_test=4), each summarized
    assert len(read_jsonl(out)) == 4
