"""Real fairseq-train / fairseq-hydra-train / fairseq-generate processes through the plugin."""
import json
import os
import re
import shutil

import pytest

from tests._fairseq import PLUGIN_DIR, REPO, fairseq_train, json_log_lines, run, script

# every test here starts fairseq processes: marked slow by conftest
pytestmark = pytest.mark.usefixtures("fairseq_processes")


def test_train_stop_resume_and_generate(tiny_data_bin, tiny_vocab, tmp_path):
    save = str(tmp_path / "ckpt")
    # relative --user-dir, as a user in a checkout would type it
    out = fairseq_train(tiny_data_bin, save, "--max-update", "3", user_dir="summ_plugin", cwd=REPO)
    assert "task: RetrieveSummarizeTask" in out
    assert "criterion: SummarizationCrossEntropyCriterion" in out
    assert os.path.isfile(os.path.join(save, "checkpoint_last.pt"))
    first = json_log_lines(out, "train_inner")
    assert [s["num_updates"] for s in first] == ["1", "2", "3"]
    assert all("accuracy" in s for s in first)

    # same command, more updates: resumes from checkpoint_last.pt (torch >= 2.6 safe loading)
    out = fairseq_train(tiny_data_bin, save, "--max-update", "5")
    assert re.search(r"Loaded checkpoint .*checkpoint_last\.pt \(epoch \d+ @ 3 updates\)", out), out[-3000:]
    resumed = json_log_lines(out, "train_inner")
    assert [s["num_updates"] for s in resumed] == ["4", "5"]

    gen = run([
        script("fairseq-generate"), tiny_data_bin, "--user-dir", PLUGIN_DIR, "--task", "retrieve_summarize",
        "--path", os.path.join(save, "checkpoint_last.pt"), "--gen-subset", "valid", "--cpu",
        "--beam", "2", "--max-len-b", "20", "--batch-size", "4",
        "--bpe", "gpt2", "--gpt2-encoder-json", tiny_vocab["encoder_json"], "--gpt2-vocab-bpe", tiny_vocab["vocab_bpe"],
    ])
    hyps = [line for line in gen.splitlines() if line.startswith("H-")]
    detok = [line for line in gen.splitlines() if line.startswith("D-")]
    assert len(hyps) == 6 and len(detok) == 6


def test_eval_rouge_keeps_best_checkpoint_by_rouge_l(tiny_data_bin, tiny_vocab, tmp_path):
    save = str(tmp_path / "ckpt")
    out = fairseq_train(
        tiny_data_bin, save, "--max-update", "4", "--validate-interval-updates", "2",
        "--eval-rouge", "--eval-rouge-args", '{"beam": 1, "max_len_b": 16}', "--eval-rouge-print-samples",
        "--encoder-json", tiny_vocab["encoder_json"], "--vocab-bpe", tiny_vocab["vocab_bpe"],
        "--best-checkpoint-metric", "rougeL", "--maximize-best-checkpoint-metric",
    )
    valid = json_log_lines(out, "valid")
    assert len(valid) >= 2
    for stats in valid:
        for key in ("valid_rouge1", "valid_rouge2", "valid_rougeL", "valid_rougeLsum"):
            assert key in stats, stats
            assert 0.0 <= float(stats[key]) <= 100.0
    # fairseq adds best_<metric> once a checkpoint has been kept by that metric
    assert float(valid[-1]["valid_best_rougeL"]) == max(float(s["valid_rougeL"]) for s in valid)
    assert "example hypothesis:" in out and "example reference:" in out
    assert os.path.isfile(os.path.join(save, "checkpoint_best.pt"))


def test_hydra_train_with_tiny_config(tiny_data_bin, tmp_path):
    save = tmp_path / "hydra_ckpt"
    out = run([
        script("fairseq-hydra-train"), "--config-dir", os.path.join(REPO, "conf"), "--config-name", "tiny",
        f"task.data={tiny_data_bin}", f"common.user_dir={PLUGIN_DIR}", f"checkpoint.save_dir={save}",
        "optimization.max_update=3",
    ], cwd=str(tmp_path))
    assert "RetrieveSummarizeTask" in out and "SummarizationCrossEntropyCriterion" in out
    assert "num_updates: 3 >= max_update: 3" in out
    assert (save / "checkpoint_last.pt").is_file()


def test_raw_directory_is_prepared_once_and_reused(tiny_raw_dir, tmp_path):
    cache = str(tmp_path / "cache")
    args = ["--max-update", "1", "--max-source-positions", "96", "--max-target-positions", "64",
            "--retriever", "bm25", "--raw-cache-dir", cache]
    out = fairseq_train(tiny_raw_dir, str(tmp_path / "a"), *args)
    assert "is a raw directory: preparing with retriever=bm25" in out
    assert os.path.isfile(os.path.join(tmp_path / "a", "checkpoint_last.pt"))
    prepared = [d for d in os.listdir(cache) if not d.startswith(".")]
    out = fairseq_train(tiny_raw_dir, str(tmp_path / "b"), *args)
    assert [d for d in os.listdir(cache) if not d.startswith(".")] == prepared
    assert "reus" in out.lower()


def test_support_weighting_scales_each_pairs_loss(tiny_data_bin, tmp_path):
    data_bin = str(tmp_path / "data-bin")
    shutil.copytree(tiny_data_bin, data_bin)
    meta_path = os.path.join(data_bin, "train.meta.jsonl")
    with open(meta_path, encoding="utf-8") as handle:
        meta = [json.loads(line) for line in handle]
    assert len(meta) == 24  # conftest's tiny_raw_dir: n_train=24
    # coverage 1 for the first pair, 0 for the other 23; with no floor the weights are
    # 1 / mean = 24 for it and 0 for the rest
    for i, entry in enumerate(meta):
        entry["rouge1_recall"] = 1.0 if i == 0 else 0.0
    with open(meta_path, "w", encoding="utf-8") as handle:
        handle.writelines(json.dumps(entry) + "\n" for entry in meta)
    out = fairseq_train(data_bin, str(tmp_path / "w"), "--max-update", "24", "--batch-size", "1",
                        "--support-weighting", "--support-weighting-floor", "0")
    losses = sorted(float(s["loss"]) for s in json_log_lines(out, "train_inner"))
    # one pair per update, one epoch: the 23 pairs of weight 0 give a loss of exactly 0 (and no
    # gradient, so the model is still the initial one when the weighted pair comes); that pair
    # gives 24 times an untrained model's per-token loss (~8.7 bits for a 408-symbol vocabulary),
    # about 200. Without weighting every loss would be near 8.7.
    assert losses[:23] == [0.0] * 23
    assert losses[23] > 100


def test_raw_directory_with_learned_and_hybrid_retrievers(tiny_raw_dir, tmp_path):
    from summ_plugin.cli.train_selector import main as train_selector

    selector = str(tmp_path / "selector.json")
    assert train_selector(["--input", os.path.join(tiny_raw_dir, "train.jsonl"), "--out", selector]) == 0
    cache = str(tmp_path / "cache")
    out = fairseq_train(
        tiny_raw_dir, str(tmp_path / "ckpt"), "--max-update", "1", "--max-source-positions", "96",
        "--max-target-positions", "64", "--retriever", "learned", "--retriever-options",
        json.dumps({"selector": selector}), "--train-retriever", "hybrid", "--raw-cache-dir", cache,
    )
    assert "retriever=learned (train: hybrid)" in out
    (prepared,) = [d for d in os.listdir(cache) if not d.startswith(".") and not d.endswith(".lock")]
    with open(os.path.join(cache, prepared, "valid.meta.jsonl")) as handle:
        assert {json.loads(line)["retriever"] for line in handle} == {"learned"}
    with open(os.path.join(cache, prepared, "train.meta.jsonl")) as handle:
        assert {json.loads(line)["retriever"] for line in handle} == {"hybrid"}
