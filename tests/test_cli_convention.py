"""The one CLI convention of the summ-* tools: options built from the config dataclasses (with
their defaults), the same record-reading and logging options everywhere, and user errors as one
line ``PROG: error: ...`` with exit status 2."""
import csv
import importlib
import json
import os
import re

import pytest

from summ_plugin.cli import prepare, summarize
from summ_plugin.data.config import PrepareConfig
from summ_plugin.summarize import GenerationOptions, SummarizeConfig
from tests._prepare_fixtures import make_records, write_jsonl

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# tool -> module of summ_plugin.cli, as setup.py's console_scripts name them
TOOLS = {
    "summ-prepare": "prepare", "summ-make-vocab": "make_vocab", "summ-fix-vocab": "fix_vocab",
    "summ-summarize": "summarize", "summ-score": "score", "summ-report": "report",
    "summ-train-selector": "train_selector", "summ-eval-retrieval": "eval_retrieval", "summ-export-hf": "export_hf",
}
READERS = ("summ-prepare", "summ-make-vocab", "summ-summarize", "summ-train-selector", "summ-eval-retrieval")


def cli(tool):
    return importlib.import_module(f"summ_plugin.cli.{TOOLS[tool]}")


def options_of(parser):
    return {option: action for action in parser._actions for option in action.option_strings}


def test_the_tools_are_setup_pys_console_scripts():
    with open(os.path.join(ROOT, "setup.py"), encoding="utf-8") as handle:
        scripts = dict(re.findall(r'"(summ-[\w-]+)=summ_plugin\.cli\.(\w+):main"', handle.read()))
    assert scripts == TOOLS


# ----------------------------------------------------------------------------- options from the dataclasses


def test_prepare_options_have_the_config_defaults():
    args = prepare.build_parser().parse_args([])
    expected = {
        "destdir": None, "encoder_json": None, "vocab_bpe": None, "dict_path": None, "overwrite": False, "shards": 1,
        "max_unk_rate": 1.0, "retriever": None, "train_retriever": None, "retriever_options": {},
        "train_retriever_options": None, "selector_train_records": 200, "selector_valid_records": 200,
        "split_mode": "sentence", "max_source_positions": 1024, "max_target_positions": 1024,
        "input_format": "auto", "on_bad_record": "error", "allow_missing_summary": (), "workers": 1,
        "log_level": "INFO",
    }
    assert {name: getattr(args, name) for name in expected} == expected
    choices = {o: a.choices for o, a in options_of(prepare.build_parser()).items() if a.choices}
    assert choices["--split-mode"] == ("sentence", "paragraph", "window")
    assert choices["--format"] == ("auto", "jsonl", "csv", "parquet", "cnndm-stories")
    assert choices["--on-bad-record"] == ("error", "skip")


def test_every_prepare_config_field_is_an_option_and_reaches_the_config(tmp_path):
    parser = prepare.build_parser()
    dests = {action.dest for action in parser._actions}
    assert {"inputs", "fields"} | dests >= set(PrepareConfig.__dataclass_fields__)
    train = write_jsonl(str(tmp_path / "train.jsonl"), make_records(2))
    argv = ["--train", train, "--destdir", "D", "--encoder-json", "E", "--vocab-bpe", "V", "--dict", "T"]
    config = prepare.config_from_args(parser, parser.parse_args(argv))
    assert config == PrepareConfig(destdir="D", encoder_json="E", vocab_bpe="V", dict_path="T",
                                   inputs={"train": train})
    config = prepare.config_from_args(parser, parser.parse_args(argv + [
        "--retriever", "bm25", "--retriever-options", '{"k1": 1.5}', "--allow-missing-summary", "test",
        "--max-unk-rate", "2.5", "--overwrite", "--format", "jsonl", "--on-bad-record", "skip",
        "--summary-field", "abstract", "--workers", "3"]))
    assert (config.retriever, config.retriever_options, config.allow_missing_summary) == ("bm25", {"k1": 1.5}, ("test",))
    assert (config.max_unk_rate, config.overwrite, config.input_format, config.on_bad_record, config.workers) == (
        2.5, True, "jsonl", "skip", 3)
    assert config.fields.summary == "abstract" and config.fields.document == "document"


@pytest.mark.parametrize("value, message", [("[1]", "expected a JSON object, got list"), ("{", "not valid JSON")])
def test_json_options_are_usage_errors(value, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        prepare.build_parser().parse_args(["--retriever-options", value])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].startswith(
        f"summ-prepare: error: argument --retriever-options: {message}")


def test_summarize_options_have_the_config_defaults():
    args = summarize.build_parser().parse_args(["--path", "m.pt", "--input", "in.jsonl", "--output", "out.jsonl"])
    expected = {
        "checkpoint": "m.pt", "input": "in.jsonl", "output": "out.jsonl", "data_bin": None, "encoder_json": None,
        "vocab_bpe": None, "retriever": None, "retriever_options": None, "split_mode": None, "batch_size": 8,
        "cpu": False, "fp16": False, "max_source_positions": None, "input_format": "auto", "on_bad_record": "error",
        # generation: None, the model's validated settings (summ_plugin.generation_settings)
        "beam": None, "lenpen": None, "max_len_a": None, "max_len_b": None, "min_len": None,
        "no_repeat_ngram_size": None,
    }
    assert {name: getattr(args, name) for name in expected} == expected
    assert summarize.config_from_args(args) == SummarizeConfig(checkpoint="m.pt", input="in.jsonl",
                                                               output="out.jsonl")
    dests = {action.dest for action in summarize.build_parser()._actions}
    assert {"fields", "generation"} | dests >= set(SummarizeConfig.__dataclass_fields__)
    assert dests >= set(GenerationOptions.__dataclass_fields__)
    args = summarize.build_parser().parse_args(["--path", "m", "--input", "i", "--output", "o", "--beam", "2",
                                                "--no-repeat-ngram-size", "3", "--cpu", "--document-field", "body"])
    config = summarize.config_from_args(args)
    assert (config.generation.beam, config.generation.no_repeat_ngram_size, config.cpu) == (2, 3, True)
    assert config.fields.document == "body"


def test_retrieval_tools_take_summ_prepares_defaults():
    """summ-train-selector and summ-eval-retrieval cut and budget passages as summ-prepare does
    by default (PrepareConfig's split_mode and max_source_positions)."""
    selector_args = cli("summ-train-selector").build_parser().parse_args(["--input", "x", "--out", "y"])
    assert (selector_args.split_mode, selector_args.max_positions, selector_args.max_docs) == ("sentence", 1024, None)
    eval_args = cli("summ-eval-retrieval").build_parser().parse_args(["--input", "x"])
    assert (eval_args.split_mode, eval_args.max_positions) == ("sentence", "1024")
    for tool in ("summ-train-selector", "summ-eval-retrieval"):
        choices = options_of(cli(tool).build_parser())["--split-mode"].choices
        assert tuple(choices) == ("sentence", "paragraph", "window")


def test_summarize_requires_path_input_output(capsys):
    with pytest.raises(SystemExit) as exit_info:
        summarize.build_parser().parse_args(["--input", "i"])
    assert exit_info.value.code == 2
    assert "the following arguments are required: --path, --output" in capsys.readouterr().err


# ----------------------------------------------------------------------------- shared options


@pytest.mark.parametrize("tool", READERS)
def test_every_record_reader_has_the_same_record_options(tool):
    options = options_of(cli(tool).build_parser())
    assert options["--format"].choices == ("auto", "jsonl", "csv", "parquet", "cnndm-stories")
    assert options["--format"].default == "auto"
    assert options["--on-bad-record"].choices == ("error", "skip") and options["--on-bad-record"].default == "error"
    for name in ("id", "document", "documents", "query", "summary", "title"):
        assert options[f"--{name}-field"].default is None, name


@pytest.mark.parametrize("tool", sorted(TOOLS))
def test_every_tool_has_the_log_level_option(tool):
    option = options_of(cli(tool).build_parser())["--log-level"]
    assert option.default == "INFO" and "DEBUG" in option.choices and "WARNING" in option.choices


# ----------------------------------------------------------------------------- user errors: one line, status 2


def _missing_input_argv(tool, missing, tmp_path):
    out = str(tmp_path / "out")
    return {
        "summ-prepare": ["--train", missing, "--destdir", out, "--encoder-json", missing, "--vocab-bpe", missing,
                         "--dict", missing],
        "summ-make-vocab": ["--input", missing, "--vocab-size", "300", "--out", out],
        "summ-fix-vocab": ["--checkpoint", missing, "--dict", missing, "--out", out],
        "summ-summarize": ["--path", missing, "--input", missing, "--output", out],
        "summ-score": ["--hyps", missing, "--refs", missing],
        "summ-report": ["--log", missing, "--out-dir", out],
        "summ-train-selector": ["--input", missing, "--out", out],
        "summ-eval-retrieval": ["--input", missing],
        "summ-export-hf": ["--checkpoint", missing, "--out", out],
    }[tool]


@pytest.mark.parametrize("tool", sorted(TOOLS))
def test_a_missing_input_is_one_line_and_exit_status_2(tool, tmp_path, capsys):
    missing = str(tmp_path / "no-such-file.jsonl")
    with pytest.raises(SystemExit) as exit_info:
        cli(tool).main(_missing_input_argv(tool, missing, tmp_path))
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip() and " | INFO | " not in line]
    assert "Traceback" not in err
    assert len(lines) == 1 and lines[0].startswith(f"{tool}: error: "), err
    if tool != "summ-export-hf" or "optional extra" not in lines[0]:  # without transformers it says so first
        assert missing in lines[0], lines[0]


# ----------------------------------------------------------------------------- every input format


def write_csv(path, records):
    """Records under column names that no known layout uses: only the --*-field options find them."""
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["key", "body", "abstract"])
        for record in records:
            writer.writerow([record["id"], record["document"], record["summary"]])
    return str(path)


FIELDS = ["--id-field", "key", "--document-field", "body", "--summary-field", "abstract"]


def test_train_selector_reads_csv_with_field_options(tmp_path, capsys):
    from summ_plugin.cli import train_selector

    data = write_csv(tmp_path / "train.csv", make_records(12, seed=3))
    out = tmp_path / "selector.json"
    with pytest.raises(SystemExit) as exit_info:  # the layout is not one formats.py knows
        train_selector.main(["--input", data, "--out", str(out)])
    assert exit_info.value.code == 2 and data in capsys.readouterr().err
    assert train_selector.main(["--input", data, "--out", str(out), "--valid", data, *FIELDS]) == 0
    assert out.exists()
    printed = capsys.readouterr().out
    assert f"coverage of the reference on {data} (12 records" in printed


def test_eval_retrieval_reads_csv_with_field_options(tmp_path, capsys):
    from summ_plugin.cli import eval_retrieval

    data = write_csv(tmp_path / "test.csv", make_records(5, seed=4))
    with pytest.raises(SystemExit) as exit_info:
        eval_retrieval.main(["--input", data, "--retrievers", "lead,oracle"])
    assert exit_info.value.code == 2 and data in capsys.readouterr().err
    out = tmp_path / "report.json"
    assert eval_retrieval.main(["--input", data, "--retrievers", "lead,oracle", "--max-positions", "32",
                                "--json", str(out), *FIELDS]) == 0
    report = json.loads(out.read_text())
    assert report["records"] == 5
    # the oracle read the summaries from the "abstract" column: it covers them better than lead
    assert report["results"]["oracle"]["rouge1_recall"] > report["results"]["lead"]["rouge1_recall"]
