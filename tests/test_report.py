"""summ-report: parsing fairseq's json log, best checkpoint, plots, Markdown, errors."""
import json
import os

import pytest

from summ_plugin import report
from summ_plugin.cli.report import main

# Lines of a real `fairseq-train --task translation --log-format json --log-interval 5
# --validate-interval-updates 10 --save-interval-updates 10 --eval-bleu
# --best-checkpoint-metric bleu --maximize-best-checkpoint-metric` run (fairseq 0.12.3.1, CPU);
# the config line is cut short.
REAL_TRANSLATION_LOG = """\
2026-11-25 13:00:44 | INFO | fairseq_cli.train | {'_name': None, 'common': {'_name': None, 'no_progress_bar': True, 'log_interval': 5, 'log_format': 'json', 'log_file': None, 'aim_repo': None, 'aim_run_hash': None, 'tensorboard_logdir': None, 'wandb_project': None, 'azureml_logging': False, 'seed': }}
2026-11-25 13:00:54 | INFO | valid | {"epoch": 1, "valid_loss": "5.151", "valid_ppl": "35.53", "valid_bleu": "0.03", "valid_wps": "0", "valid_wpb": "101", "valid_bsz": "16", "valid_num_updates": "4"}
2026-11-25 13:00:54 | INFO | fairseq.checkpoint_utils | Saved checkpoint ckpt/checkpoint1.pt (epoch 1 @ 4 updates, score 0.03) (writing took 0.01899458700006562 seconds)
2026-11-25 13:00:54 | INFO | train | {"epoch": 1, "train_loss": "5.337", "train_ppl": "40.41", "train_wps": "141.9", "train_ups": "0.45", "train_wpb": "345.2", "train_bsz": "50", "train_num_updates": "4", "train_lr": "0.001", "train_gnorm": "1.343", "train_train_wall": "1", "train_wall": "10"}
2026-11-25 13:00:54 | INFO | train_inner | {"epoch": 2, "update": 1.25, "loss": "5.319", "ppl": "39.91", "wps": "165.1", "ups": "0.6", "wpb": "308.2", "bsz": "43.2", "num_updates": "5", "lr": "0.001", "gnorm": "1.293", "train_wall": "1", "wall": "10"}
2026-11-25 13:00:54 | INFO | valid | {"epoch": 2, "valid_loss": "4.911", "valid_ppl": "30.09", "valid_bleu": "0.05", "valid_wps": "0", "valid_wpb": "101", "valid_bsz": "16", "valid_num_updates": "8", "valid_best_bleu": "0.05"}
2026-11-25 13:00:54 | INFO | fairseq.checkpoint_utils | Saved checkpoint ckpt/checkpoint2.pt (epoch 2 @ 8 updates, score 0.05) (writing took 0.023934467999993103 seconds)
2026-11-25 13:00:54 | INFO | train | {"epoch": 2, "train_loss": "5.067", "train_ppl": "33.52", "train_wps": "2221.3", "train_ups": "6.43", "train_wpb": "345.2", "train_bsz": "50", "train_num_updates": "8", "train_lr": "0.001", "train_gnorm": "1.113", "train_train_wall": "0", "train_wall": "10"}
2026-11-25 13:00:55 | INFO | train_inner | {"epoch": 3, "update": 2.5, "loss": "5.011", "ppl": "32.24", "wps": "3022.7", "ups": "7.55", "wpb": "400.2", "bsz": "64", "num_updates": "10", "lr": "0.001", "gnorm": "1.092", "train_wall": "0", "wall": "10"}
2026-11-25 13:00:55 | INFO | valid | {"epoch": 3, "valid_loss": "4.813", "valid_ppl": "28.11", "valid_bleu": "0.08", "valid_wps": "0", "valid_wpb": "101", "valid_bsz": "16", "valid_num_updates": "10", "valid_best_bleu": "0.08"}
2026-11-25 13:00:55 | INFO | fairseq.checkpoint_utils | Saved checkpoint ckpt/checkpoint_3_10.pt (epoch 3 @ 10 updates, score 0.08) (writing took 0.015058100000032937 seconds)
2026-11-25 13:00:56 | INFO | valid | {"epoch": 3, "valid_loss": "4.734", "valid_ppl": "26.62", "valid_bleu": "0.13", "valid_wps": "0", "valid_wpb": "101", "valid_bsz": "16", "valid_num_updates": "12", "valid_best_bleu": "0.13"}
2026-11-25 13:00:56 | INFO | fairseq.checkpoint_utils | Saved checkpoint ckpt/checkpoint3.pt (epoch 3 @ 12 updates, score 0.13) (writing took 0.02264846499997475 seconds)
2026-11-25 13:00:56 | INFO | train | {"epoch": 3, "train_loss": "4.904", "train_ppl": "29.95", "train_wps": "1006.3", "train_ups": "2.91", "train_wpb": "345.2", "train_bsz": "50", "train_num_updates": "12", "train_lr": "0.001", "train_gnorm": "0.931", "train_train_wall": "0", "train_wall": "12"}
2026-11-25 13:00:56 | INFO | train_inner | {"epoch": 4, "update": 3.75, "loss": "4.76", "ppl": "27.09", "wps": "1290.6", "ups": "3.54", "wpb": "364.4", "bsz": "49.6", "num_updates": "15", "lr": "0.001", "gnorm": "0.816", "train_wall": "0", "wall": "12"}
2026-11-25 13:00:57 | INFO | valid | {"epoch": 4, "valid_loss": "4.605", "valid_ppl": "24.34", "valid_bleu": "0.27", "valid_wps": "0", "valid_wpb": "101", "valid_bsz": "16", "valid_num_updates": "16", "valid_best_bleu": "0.27"}
2026-11-25 13:00:57 | INFO | fairseq.checkpoint_utils | Saved checkpoint ckpt/checkpoint4.pt (epoch 4 @ 16 updates, score 0.27) (writing took 0.023527645000058328 seconds)
2026-11-25 13:00:57 | INFO | train | {"epoch": 4, "train_loss": "4.726", "train_ppl": "26.46", "train_wps": "1900.7", "train_ups": "5.51", "train_wpb": "345.2", "train_bsz": "50", "train_num_updates": "16", "train_lr": "0.001", "train_gnorm": "0.818", "train_train_wall": "0", "train_wall": "12"}
2026-11-25 13:00:57 | INFO | train_inner | {"epoch": 5, "update": 5.0, "loss": "4.657", "ppl": "25.23", "wps": "2051.1", "ups": "6.66", "wpb": "308.2", "bsz": "43.2", "num_updates": "20", "lr": "0.001", "gnorm": "0.76", "train_wall": "0", "wall": "13"}
2026-11-25 13:00:57 | INFO | valid | {"epoch": 5, "valid_loss": "4.51", "valid_ppl": "22.79", "valid_bleu": "0", "valid_wps": "0", "valid_wpb": "101", "valid_bsz": "16", "valid_num_updates": "20", "valid_best_bleu": "0.27"}
2026-11-25 13:00:57 | INFO | fairseq.checkpoint_utils | Saved checkpoint ckpt/checkpoint5.pt (epoch 5 @ 20 updates, score 0.0) (writing took 0.02246205500000542 seconds)
"""


def rouge_log(valid_tag="valid", hydra=False):
    """A --eval-rouge run as the retrieve_summarize task logs it, written by hand in fairseq's format."""
    lines = ["2026-11-25 14:00:00 | INFO | fairseq_cli.train | {'_name': None, 'task': {'_name': 'retrieve_summarize'}}"]
    rouge = {10: (30.1, 10.2, 25.0, 27.5), 20: (35.0, 14.0, 29.5, 32.0), 30: (34.0, 13.0, 29.5, 31.0), 40: (33.0, 12.5, 28.0, 30.0)}
    best = None
    for epoch, updates in enumerate((10, 20, 30, 40), start=1):
        inner = {"epoch": epoch, "update": epoch - 0.5, "loss": f"{9 - epoch:g}", "nll_loss": f"{8.5 - epoch:g}",
                 "ppl": "200", "num_updates": str(updates - 5), "lr": "3e-05"}
        lines.append(f"2026-11-25 14:0{epoch}:00 | INFO | train_inner | " + json.dumps(inner))
        r1, r2, rl, rls = rouge[updates]
        best = rl if best is None else max(best, rl)
        valid = {"epoch": epoch, "valid_loss": f"{8.2 - epoch * 0.5:g}", "valid_nll_loss": "7", "valid_ppl": "128",
                 "valid_rouge1": f"{r1:g}", "valid_rouge2": f"{r2:g}", "valid_rougeL": f"{rl:g}",
                 "valid_rougeLsum": f"{rls:g}", "valid_wps": "100", "valid_num_updates": str(updates)}
        if epoch > 1:
            valid["valid_best_rougeL"] = f"{best:g}"
        valid = {k.replace("valid_", valid_tag + "_", 1): v for k, v in valid.items()}
        if hydra:
            lines.append(f"[2026-11-25 14:0{epoch}:30,000][{valid_tag}][INFO] - " + json.dumps(valid))
        else:
            lines.append(f"2026-11-25 14:0{epoch}:30 | INFO | {valid_tag} | " + json.dumps(valid))
        lines.append(f"2026-11-25 14:0{epoch}:31 | INFO | fairseq.checkpoint_utils | Saved checkpoint "
                     f"ckpt/checkpoint{epoch}.pt (epoch {epoch} @ {updates} updates, score {rl:g}) (writing took 0.5 seconds)")
        train = {"epoch": epoch, "train_loss": f"{8.8 - epoch:g}", "train_nll_loss": "8", "train_ppl": "250",
                 "train_num_updates": str(updates), "train_wall": "12"}
        lines.append(f"2026-11-25 14:0{epoch}:32 | INFO | train | " + json.dumps(train))
    return "\n".join(lines) + "\n"


PREPARE = {
    "format_version": 2,
    "shards": 1,
    "options": {"on_bad_record": "skip"},
    "budget": {"max_source_positions": 1024, "max_target_positions": 256, "reserved_tokens": 2,
               "separator_tokens": 1, "split_mode": "sentence"},
    "retrievers": {"train": {"name": "oracle", "options": {}}, "valid": {"name": "bm25", "options": {"k1": 1.2}}},
    "default_choice": {"reason": "given with --retriever"},
    "files": {"encoder_json": {"path": "/v/encoder.json", "sha256": "ef" * 32}},
    "splits": {
        "train": {"examples": 100, "skipped": 0, "mean_rouge1_recall": 0.81, "mean_rouge2_recall": 0.52,
                  "input": "/d/train.jsonl", "input_sha256": "ab" * 32},
        "valid": {"examples": 10, "skipped": 1, "mean_rouge1_recall": 0.64, "mean_rouge2_recall": 0.31,
                  "input": "/d/valid.jsonl", "input_sha256": "cd" * 32},
    },
}


def test_parse_real_fairseq_log(tmp_path):
    path = tmp_path / "train.log"
    path.write_text(REAL_TRANSLATION_LOG, encoding="utf-8")
    log = report.parse_log(str(path))
    assert [r["num_updates"] for r in log.valid["valid"]] == [4, 8, 10, 12, 16, 20]
    assert [r["num_updates"] for r in log.train_inner] == [5, 10, 15, 20]
    assert [r["num_updates"] for r in log.train] == [4, 8, 12, 16]
    assert log.valid["valid"][3]["bleu"] == 0.13 and log.valid["valid"][1]["best_bleu"] == 0.05
    assert log.checkpoints[2] == {"path": "ckpt/checkpoint_3_10.pt", "epoch": 3, "updates": 10, "score": 0.08}
    best = report.best_record(log.valid["valid"], "bleu")
    assert best["num_updates"] == 16 and report.checkpoint_for(log, best) == "ckpt/checkpoint4.pt"
    assert report.best_record(log.valid["valid"], "loss")["num_updates"] == 20


def test_report_from_real_log_without_rouge(tmp_path, capsys):
    log = tmp_path / "train.log"
    log.write_text(REAL_TRANSLATION_LOG, encoding="utf-8")
    out = tmp_path / "rep"
    assert main(["--log", str(log), "--out-dir", str(out), "--quiet"]) == 0
    assert sorted(os.listdir(out)) == ["loss.png", "report.md"]  # no ROUGE logged: no rouge.png
    text = (out / "report.md").read_text()
    assert "Best checkpoint by valid loss** (lower is better): 4.51 at update 20, epoch 5" in text
    assert "the run chose `checkpoint_best.pt` by bleu" in text


@pytest.mark.parametrize("hydra", [False, True])
def test_report_with_rouge_and_prepare(tmp_path, capsys, hydra):
    log = tmp_path / "train.log"
    log.write_text(rouge_log(hydra=hydra), encoding="utf-8")
    prepare = tmp_path / "prepare.json"
    prepare.write_text(json.dumps(PREPARE), encoding="utf-8")
    out = tmp_path / "rep"
    assert main(["--log", str(log), "--out-dir", str(out), "--prepare-json", str(prepare), "--quiet"]) == 0
    printed = capsys.readouterr().out.split()
    assert printed == [str(out / "report.md"), str(out / "loss.png"), str(out / "rouge.png")]
    for png in ("loss.png", "rouge.png"):
        data = (out / png).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
    assert not [p for p in os.listdir(out) if ".tmp" in p]
    text = (out / "report.md").read_text()
    # rougeL ties at updates 20 and 30: fairseq's >= keeps the later one in checkpoint_best.pt
    assert "Best checkpoint by valid rougeL** (higher is better): 29.5 at update 30, epoch 3; saved as `ckpt/checkpoint3.pt`" in text
    assert "`checkpoint_best.pt` holds this checkpoint" in text
    assert "| 30 | 34 | 13 | 29.5 | 31 | 6.7 |" in text  # its ROUGE and loss
    assert "| valid | 40 | 6.2 | 7 | 128 |" in text  # last losses
    assert "| train | oracle | `{}` | 100 | 0 | 0.81 | 0.52 |" in text
    assert "| valid | bm25 | `{\"k1\": 1.2}` | 10 | 1 | 0.64 | 0.31 |" in text
    assert "max_source_positions 1024" in text and "split_mode sentence" in text
    assert "abab" not in text and "efef" not in text and "| on_bad_record | skip |" in text
    assert "![ROUGE](rouge.png)" in text


def test_metric_and_subset_options(tmp_path, capsys):
    log = tmp_path / "train.log"
    log.write_text(rouge_log(valid_tag="valid1"), encoding="utf-8")
    out = tmp_path / "rep"
    assert main(["--log", str(log), "--out-dir", str(out), "--metric", "rouge2", "--quiet"]) == 0
    text = (out / "report.md").read_text()
    assert "on `valid1`" in text and "by valid1 rouge2** (higher is better): 14 at update 20" in text
    assert "the run chose `checkpoint_best.pt` by rougeL" in text


def run_error(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv + ["--quiet"])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("summ-report: error: ")
    return err


def test_errors(tmp_path, capsys):
    simple = tmp_path / "simple.log"
    simple.write_text("2026-11-25 14:00:00 | INFO | train_inner | epoch 001:     10 / 40 loss=9.1, ppl=550\n")
    out = str(tmp_path / "rep")
    assert "was the run started with --log-format json?" in run_error(["--log", str(simple), "--out-dir", out], capsys)
    assert "cannot read" in run_error(["--log", str(tmp_path / "missing.log"), "--out-dir", out], capsys)
    log = tmp_path / "train.log"
    log.write_text(rouge_log(), encoding="utf-8")
    err = run_error(["--log", str(log), "--out-dir", out, "--metric", "bleu"], capsys)
    assert "metric 'bleu' is not in the validation lines" in err
    assert "no 'test' lines" in run_error(["--log", str(log), "--out-dir", out, "--valid-subset", "test"], capsys)
    bad = tmp_path / "prepare.json"
    bad.write_text("{\n  \"splits\": \n")
    assert f"{bad}:3: invalid JSON" in run_error(["--log", str(log), "--out-dir", out, "--prepare-json", str(bad)], capsys)
    bad.write_text(json.dumps(dict(PREPARE, format_version=3)))
    assert f"{bad}: format_version 3 is newer" in run_error(
        ["--log", str(log), "--out-dir", out, "--prepare-json", str(bad)], capsys)
    assert not os.path.exists(os.path.join(out, "report.md"))


def test_truncated_stats_line_is_skipped(tmp_path):
    text = rouge_log() + '2026-11-25 14:09:00 | INFO | valid | {"epoch": 5, "valid_loss": "5.'
    log = tmp_path / "train.log"
    log.write_text(text, encoding="utf-8")
    parsed = report.parse_log(str(log))
    assert len(parsed.valid["valid"]) == 4
