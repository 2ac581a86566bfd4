"""Hostile inputs, round two (issue 25, the last part): the readers and options attacked the way
the issue's reproductions were, each finding a test that fails before its fix.

Every case ends in either a correct result or one line ``PROG: error: FILE[:LINE]: reason`` with
exit status 2; never a traceback, never a silently different reading of the input.
"""
import gzip
import json
import re

import pytest

from summ_plugin.cli.eval_retrieval import main as eval_retrieval_main
from summ_plugin.data.formats import iter_input_records
from summ_plugin.data.formats.jsonl import iter_jsonl_objects
from summ_plugin.data.records import BadRecordError, Record
from tests.test_reliability import run_cli

RECORDS = [
    {"id": f"r{n}", "document": f"Alice Baker opened the bakery on Main Street in {1900 + n}. "
                                f"The oven was new. Customers came from far away.", "summary": "Alice opened a bakery."}
    for n in range(3)
]


def jsonl_bytes(records=RECORDS) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in records).encode("utf-8")


def csv_bytes(records=RECORDS, header=("id", "document", "summary")) -> bytes:
    lines = [",".join(header)] + [",".join(json.dumps(r[k]) for k in ("id", "document", "summary")) for r in records]
    return ("\n".join(lines) + "\n").encode("utf-8")


TQDM_LINE = re.compile(r"\d+\w* \[\d\d:\d\d")


def error_line(err: str, prog: str) -> str:
    """The one ``PROG: error:`` line of stderr (log lines aside); no traceback."""
    assert "Traceback" not in err, err
    # progress bars (tqdm, named after the tool: "summ-summarize: 0doc [00:00, ...]") aside
    lines = [line for line in re.split(r"[\r\n]+", err) if line.startswith(f"{prog}: ") and not TQDM_LINE.search(line)]
    assert len(lines) == 1, err
    assert lines[0].startswith(f"{prog}: error: "), lines[0]
    return lines[0]


def eval_retrieval(path, capsys, *extra):
    return run_cli(eval_retrieval_main, ["--input", str(path), "--retrievers", "lead", "--log-level", "WARNING",
                                         *extra], capsys)


def items_of(path, **kwargs):
    return list(iter_input_records(str(path), **kwargs))


# ----------------------------------------------------------------------------- content unlike the file name


@pytest.mark.parametrize("name,content,reason", [
    # gzip under a plain name: was "invalid UTF-8 at byte 1" / "new-line character seen in unquoted field"
    ("train.jsonl", gzip.compress(jsonl_bytes()), "gzip-compressed"),
    ("train.csv", gzip.compress(csv_bytes()), "gzip-compressed"),
    # Excel's and PowerShell's "Unicode" text
    ("train.jsonl", jsonl_bytes().decode().encode("utf-16"), "UTF-16"),
    ("train.csv", csv_bytes().decode().encode("utf-16"), "UTF-16"),
    ("train.jsonl", b"PAR1" + b"\0" * 64, "Parquet"),
    ("train.csv", b"PK\x03\x04" + b"\0" * 64, "ZIP"),
    # classic Mac OS line endings: the whole file was one line ("new-line character seen in
    # unquoted field" for CSV, one malformed JSON record for JSONL)
    ("train.csv", csv_bytes().replace(b"\n", b"\r"), "carriage return only"),
    ("train.jsonl", jsonl_bytes().replace(b"\n", b"\r"), "carriage return only"),
    # a .gz name over plain text: was a BadGzipFile traceback for CSV
    ("train.csv.gz", csv_bytes(), "not gzip-compressed"),
    ("train.jsonl.gz", jsonl_bytes(), "not gzip-compressed"),
])
def test_content_that_is_not_utf8_text_is_named_for_what_it_is(tmp_path, capsys, name, content, reason):
    path = tmp_path / name
    path.write_bytes(content)
    code, _, err = eval_retrieval(path, capsys)
    line = error_line(err, "summ-eval-retrieval")
    assert code == 2
    assert str(path) in line and reason in line, line


def test_windows_line_endings_still_read(tmp_path):
    for name, content in (("train.csv", csv_bytes()), ("train.jsonl", jsonl_bytes())):
        path = tmp_path / name
        path.write_bytes(content.replace(b"\n", b"\r\n"))
        assert [i.id for i in items_of(path)] == ["r0", "r1", "r2"]
        assert items_of(path)[0].summary == "Alice opened a bakery."


def test_truncated_csv_gz_ends_with_one_line_naming_the_last_complete_line(tmp_path, capsys):
    many = [dict(r, id=f"r{n}") for n in range(200) for r in RECORDS[:1]]
    data = gzip.compress(csv_bytes(many))
    path = tmp_path / "train.csv.gz"
    path.write_bytes(data[: len(data) // 2])
    items = items_of(path)
    # whole rows first, then one error; no row cut at the truncation point slips through as a record
    assert isinstance(items[-1], BadRecordError) and "truncated or corrupt" in items[-1].reason
    assert all(isinstance(i, Record) for i in items[:-1])
    assert all(i.summary == "Alice opened a bakery." for i in items[:-1])
    code, _, err = eval_retrieval(path, capsys)
    assert code == 2 and "truncated or corrupt" in error_line(err, "summ-eval-retrieval")


def test_csv_gz_truncated_inside_the_header(tmp_path, capsys):
    path = tmp_path / "train.csv.gz"
    path.write_bytes(gzip.compress(csv_bytes())[:12])
    code, _, err = eval_retrieval(path, capsys)
    assert code == 2 and "truncated or corrupt" in error_line(err, "summ-eval-retrieval")


# ----------------------------------------------------------------------------- ambiguous records


def test_jsonl_key_given_twice_is_a_bad_record_not_the_last_value(tmp_path, capsys):
    path = tmp_path / "train.jsonl"
    path.write_text('{"id": "a", "document": "The first text.", "document": "The second text.", "summary": "s."}\n')
    [item] = items_of(path)
    assert isinstance(item, BadRecordError), item  # was a record holding "The second text." only
    assert "'document' given twice" in str(item) and str(item).startswith(f"{path}:1:")
    code, _, err = eval_retrieval(path, capsys)
    assert code == 2 and f"{path}:1: key 'document' given twice" in error_line(err, "summ-eval-retrieval")


def test_jsonl_key_given_twice_in_a_nested_object(tmp_path):
    path = tmp_path / "train.jsonl"
    path.write_text('{"id": "a", "sections": [{"title": "T", "text": "x y.", "text": "z."}], "summary": "s."}\n')
    [item] = items_of(path)
    assert isinstance(item, BadRecordError) and "'text' given twice" in str(item)


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_column_named_twice_is_refused_before_any_row(tmp_path, capsys, fmt):
    if fmt == "csv":
        path = tmp_path / "train.csv"
        path.write_text("id,document,summary,document\na,The first text.,s.,The second text.\n")
    else:
        pa = pytest.importorskip("pyarrow")
        pq = pytest.importorskip("pyarrow.parquet")
        path = tmp_path / "train.parquet"
        table = pa.table({"a": ["a"], "b": ["The first text."], "c": ["s."], "d": ["The second text."]})
        pq.write_table(table.rename_columns(["id", "document", "summary", "document"]), str(path))
    code, _, err = eval_retrieval(path, capsys)
    line = error_line(err, "summ-eval-retrieval")
    assert code == 2 and str(path) in line and "'document' appears more than once" in line, line


def test_a_column_the_reader_does_not_use_may_repeat(tmp_path):
    path = tmp_path / "train.csv"
    path.write_text("id,document,summary,note,note\na,The text.,s.,x,y\n")
    [item] = items_of(path)
    assert isinstance(item, Record) and item.documents == ["The text."]


# ----------------------------------------------------------------------------- what works now


def test_jsonl_with_a_utf8_byte_order_mark_reads_like_csv_does(tmp_path, capsys):
    path = tmp_path / "train.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + jsonl_bytes())
    items = items_of(path)  # was "malformed JSON: Unexpected UTF-8 BOM" for the first record
    assert [i.id for i in items] == ["r0", "r1", "r2"]
    objects = list(iter_jsonl_objects(str(path)))
    assert [obj["id"] for _, obj in objects] == ["r0", "r1", "r2"]
    code, out, err = eval_retrieval(path, capsys)
    assert code == 0, err
    assert "3 records" in out


# ----------------------------------------------------------------------------- retriever options


def test_an_option_to_lead_is_refused_with_one_line(tmp_path, capsys):
    """lead has no options; it has no __init__, so object's (*args, **kwargs) let any through to a
    TypeError traceback ("LeadRetriever() takes no arguments")."""
    from summ_plugin.retrieval import build_retriever

    with pytest.raises(ValueError, match="retriever 'lead' does not take option"):
        build_retriever("lead", k1=1.5)
    path = tmp_path / "test.jsonl"
    path.write_bytes(jsonl_bytes())
    code, _, err = eval_retrieval(path, capsys, "--option", "lead.k1=1.5")
    assert code == 2
    assert "retriever 'lead' does not take option(s) k1; it takes: no options" in error_line(err, "summ-eval-retrieval")


# ----------------------------------------------------------------------------- summ-report's log


LOG_PREFIX = "2026-01-01 00:00:00 | INFO | "


def log_line(tag: str, stats: dict) -> str:
    return f"{LOG_PREFIX}{tag} | {json.dumps(stats)}\n"


GOOD_LOG = (log_line("train_inner", {"epoch": 1, "update": "1.0", "loss": "9.1", "num_updates": "10"})
            + log_line("valid", {"epoch": 1, "valid_loss": "8.5", "valid_rougeL": "12.5", "valid_num_updates": "10"})
            + f"{LOG_PREFIX}fairseq.checkpoint_utils | Saved checkpoint ck/checkpoint1.pt (epoch 1 @ 10 updates, "
              "score 12.5) (writing took 0.1 seconds)\n")


def run_report(tmp_path, capsys, text, *extra):
    from summ_plugin.cli.report import main as report_main

    log = tmp_path / "train.log"
    log.write_text(text)
    out = tmp_path / "report"
    code, _, err = run_cli(report_main, ["--log", str(log), "--out-dir", str(out), "--log-level", "WARNING",
                                         *extra], capsys)
    return code, err, out


@pytest.mark.parametrize("stats", [
    {"epoch": 2, "valid_loss": "7.5", "valid_rougeL": "13.0", "valid_num_updates": "nan"},  # was ValueError
    {"epoch": 2, "valid_loss": "7.5", "valid_rougeL": "13.0", "valid_num_updates": "inf"},  # was OverflowError
    {"epoch": "1e999", "valid_loss": "7.5", "valid_rougeL": "13.0", "valid_num_updates": "20"},
    {"epoch": "nan", "valid_loss": "7.5", "valid_rougeL": "13.0", "valid_num_updates": "20"},
])
def test_report_non_finite_counters_are_no_counts_not_a_traceback(tmp_path, capsys, stats):
    code, err, out = run_report(tmp_path, capsys, GOOD_LOG + log_line("valid", stats))
    assert code == 0 and "Traceback" not in err, err
    assert "Best checkpoint by valid rougeL" in (out / "report.md").read_text()


def test_report_a_saved_checkpoint_line_with_a_5000_digit_count_is_not_a_count(tmp_path, capsys):
    text = GOOD_LOG.replace("@ 10 updates", "@ " + "9" * 5000 + " updates")
    code, err, out = run_report(tmp_path, capsys, text)  # was "Exceeds the limit (4300 digits)"
    assert code == 0 and "Traceback" not in err, err
    assert "no matching 'Saved checkpoint' line" in (out / "report.md").read_text()


@pytest.mark.parametrize("metric,value", [("rougeL", "inf"), ("loss", "-inf")])
def test_report_an_infinite_score_is_never_the_best(tmp_path, capsys, metric, value):
    """A corrupt or diverged validation line was reported as the best checkpoint."""
    stats = {"epoch": 2, "valid_loss": "7.5", "valid_rougeL": "13.0", "valid_num_updates": "20", f"valid_{metric}": value}
    code, err, out = run_report(tmp_path, capsys, GOOD_LOG + log_line("valid", stats), "--metric", metric)
    assert code == 0, err
    report = (out / "report.md").read_text()
    assert "at update 10, epoch 1; saved as `ck/checkpoint1.pt`" in report, report


# ----------------------------------------------------------------------------- summ-make-vocab's numbers


@pytest.mark.parametrize("options,message", [
    # was "Aborted" (a Rust panic in tokenizers, exit status 134), in a subprocess so that the
    # old behaviour cannot take pytest down with it
    (["--vocab-size", "10000000000"], "vocab_size must be at most 1048576"),
    (["--vocab-size", "99999999999999999999999"], "vocab_size must be at most 1048576"),  # was OverflowError
    (["--vocab-size", "600", "--min-frequency", "-1"], "min_frequency must be between 0"),  # was OverflowError
])
def test_make_vocab_sizes_tokenizers_cannot_take_are_refused(tmp_path, options, message):
    import subprocess
    import sys

    from tests._fairseq import REPO, process_env

    corpus = tmp_path / "corpus.jsonl"
    corpus.write_bytes(jsonl_bytes())
    proc = subprocess.run([sys.executable, "-m", "summ_plugin.cli.make_vocab", "--input", str(corpus),
                           "--out", str(tmp_path / "vocab"), *options], capture_output=True, text=True, timeout=300,
                          cwd=REPO, env=process_env({"PYTHONPATH": REPO}))
    assert proc.returncode == 2, proc.stderr
    assert message in error_line(proc.stderr, "summ-make-vocab")


def test_make_vocab_says_when_the_input_gives_fewer_tokens_than_asked(tmp_path, caplog):
    from summ_plugin.data.bpe import train_byte_level_bpe

    texts = [r["document"] for r in RECORDS]
    with caplog.at_level("WARNING"):
        train_byte_level_bpe(iter(texts), 5000, str(tmp_path), min_frequency=1000)
    vocab = json.loads((tmp_path / "encoder.json").read_text())
    assert len(vocab) < 5000
    assert f"the trained BPE has {len(vocab)} tokens, fewer than the 5000 asked for" in caplog.text


# ----------------------------------------------------------------------------- summ-summarize's input


@pytest.mark.parametrize("lines,skip", [
    ("", False),  # an empty file: was rc 0, "0 summaries written", an empty output
    ('{"id": "a"}\n{"id": "b", "document": "  "}\n', True),  # every record skipped: the same
])
def test_summarize_with_nothing_to_summarize_stops_and_writes_nothing(tiny_checkpoint, tmp_path, capsys, lines, skip):
    from summ_plugin.cli.summarize import main as summarize_main

    docs = tmp_path / "docs.jsonl"
    docs.write_text(lines)
    out = tmp_path / "hyps.jsonl"
    code, _, err = run_cli(summarize_main, ["--path", tiny_checkpoint, "--input", str(docs), "--output", str(out),
                                            "--cpu", "--beam", "1", "--max-len-b", "4", "--log-level", "WARNING",
                                            *(["--on-bad-record", "skip"] if skip else [])], capsys)
    assert code == 2
    line = error_line(err, "summ-summarize")
    assert f"{docs}: no records to summarize" in line
    assert ("2 skipped as bad records" in line) == skip
    assert not out.exists() and not list(tmp_path.glob(".hyps.jsonl.tmp-*"))


# ----------------------------------------------------------------------------- the task's --eval-rouge-args


@pytest.mark.parametrize("args,message", [
    # build_generator reads settings with getattr defaults: a misspelt one was silently ignored
    ('{"lenpn": 2.0}', "'lenpn' is not a fairseq generation setting (did you mean 'lenpen'?)"),
    ('{"beam": 0}', "beam must be at least 1, got 0"),
    ('{"lenpen": NaN}', "lenpen must be a finite number, got nan"),  # every hypothesis scored NaN
    ('{"max_len_b": "200"}', 'max_len_b must be a number, got "200"'),
    ('{"min_len": -1}', "min_len must not be negative"),
    ('[4]', "must be a JSON object of generation settings, got list"),  # was a TypeError traceback
])
def test_task_eval_rouge_args_are_checked_when_the_task_is_set_up(args, message, tmp_path):
    from summ_plugin.tasks.retrieve_summarize import RetrieveSummarizeConfig, RetrieveSummarizeTask

    cfg = RetrieveSummarizeConfig(data=str(tmp_path / "no-data-bin"), eval_rouge=True, eval_rouge_args=args)
    with pytest.raises(ValueError) as err:
        RetrieveSummarizeTask.setup_task(cfg)
    assert message in str(err.value)


def test_task_eval_rouge_args_of_fairseq_are_accepted():
    from summ_plugin.generation_settings import check_eval_rouge_args
    from summ_plugin.tasks.retrieve_summarize import generation_setting_names

    given = check_eval_rouge_args('{"beam": 4, "lenpen": 2.0, "max_len_b": 140, "min_len": 55, '
                                  '"no_repeat_ngram_size": 3, "sampling": false, "unkpen": 0}', generation_setting_names())
    assert given["lenpen"] == 2.0 and given["min_len"] == 55


def test_summarize_min_len_beyond_what_max_len_a_allows_is_one_line(tiny_checkpoint, tiny_raw_dir, tmp_path, capsys):
    """With --max-len-a the longest summary depends on the source; fairseq's
    ``AssertionError: min_len cannot be larger than max_len`` came out as a traceback."""
    import os

    from summ_plugin.cli.summarize import main as summarize_main

    out = tmp_path / "hyps.jsonl"
    code, _, err = run_cli(summarize_main, ["--path", tiny_checkpoint, "--input", os.path.join(tiny_raw_dir, "test.jsonl"),
                                            "--output", str(out), "--cpu", "--beam", "1", "--max-len-a", "1",
                                            "--max-len-b", "4", "--min-len", "100000", "--log-level", "WARNING"], capsys)
    assert code == 2
    assert "--min-len 100000 is more than the longest summary allowed here" in error_line(err, "summ-summarize")
    assert not out.exists()


# ----------------------------------------------------------------------------- summ-score's numbers


def test_score_bootstrap_beyond_memory_is_refused(tmp_path, capsys):
    from summ_plugin.cli.score import main as score_main

    hyps, refs = tmp_path / "h.jsonl", tmp_path / "r.jsonl"
    hyps.write_text('{"id": "a", "summary": "x y z."}\n{"id": "b", "summary": "p q."}\n')
    refs.write_text('{"id": "a", "summary": "x y w."}\n{"id": "b", "summary": "p r."}\n')
    code, _, err = run_cli(score_main, ["--hyps", str(hyps), "--refs", str(refs), "--bootstrap", "99999999999999"],
                           capsys)  # was numpy's "Unable to allocate 8.53 PiB" traceback
    assert code == 2
    assert "--bootstrap 99999999999999 is more than 100000 resamples" in error_line(err, "summ-score")
    code, out, err = run_cli(score_main, ["--hyps", str(hyps), "--refs", str(refs), "--bootstrap", "100000"], capsys)
    assert code == 0, err


# ----------------------------------------------------------------------------- summ-train-selector's numbers


@pytest.mark.parametrize("positions", ["0", "-1", "2"])
def test_train_selector_budget_without_room_is_refused_before_training(tmp_path, capsys, positions):
    from summ_plugin.cli.train_selector import main as train_selector_main

    records = tmp_path / "train.jsonl"
    records.write_bytes(jsonl_bytes())
    out = tmp_path / "selector.json"
    code, _, err = run_cli(train_selector_main, ["--input", str(records), "--valid", str(records), "--out", str(out),
                                                 "--max-positions", positions, "--log-level", "WARNING"], capsys)
    assert code == 2  # was a ValueError traceback after the selector was trained and written
    assert f"--max-positions {positions}: max_positions ({positions}) leaves no room" in error_line(
        err, "summ-train-selector")
    assert not out.exists()


# ----------------------------------------------------------------------------- conf/ presets


def test_every_preset_lists_every_task_setting_so_hydra_can_override_it():
    """fairseq-hydra-train overrides only the keys a preset lists: README's and run.sh's
    ``task.encoder_json=... task.vocab_bpe=...`` (and ``task.eval_rouge=true`` with conf/tiny)
    stopped with "Key 'encoder_json' is not in struct" before any training."""
    import dataclasses
    import glob
    import os

    import yaml
    from fairseq.tasks.translation import TranslationConfig

    from summ_plugin.tasks.retrieve_summarize import RetrieveSummarizeConfig
    from tests._fairseq import REPO

    translation = {f.name for f in dataclasses.fields(TranslationConfig)}
    settings = [f for f in dataclasses.fields(RetrieveSummarizeConfig) if f.name not in translation]
    presets = sorted(glob.glob(os.path.join(REPO, "conf", "*.yaml")))
    assert len(presets) >= 6
    for preset in presets:
        with open(preset, encoding="utf-8") as handle:
            task = yaml.safe_load(handle)["task"]
        missing = [f.name for f in settings if f.name not in task]
        assert not missing, (preset, missing)
        # listed at the task's default unless the preset says otherwise on purpose
        on_purpose = {"retriever", "vocab_fix", "eval_rouge_args"}
        assert {f.name for f in settings if task[f.name] != f.default} <= on_purpose, preset


# ----------------------------------------------------------------------------- --eval-rouge's generator and training


def test_building_the_eval_rouge_generator_leaves_the_model_s_forward_pass_alone(tmp_path):
    """The task builds its --eval-rouge generator in build_model, before training; fairseq's
    SequenceGenerator set its beam (4 in the BART presets) on the decoder, and every later
    training and validation-loss forward pass of a batch of 4k sentences attended to the wrong
    sources (others crashed: hydra's conf/tiny with task.eval_rouge=true)."""
    import argparse

    import torch
    from fairseq.data import Dictionary
    from fairseq.models.bart import BARTModel

    from summ_plugin.tasks.retrieve_summarize import RetrieveSummarizeConfig, RetrieveSummarizeTask
    from tests._checkpoint_fixtures import GPT2_LIKE_SYMBOLS, tiny_bart_args

    dictionary = Dictionary()
    for symbol in GPT2_LIKE_SYMBOLS:
        dictionary.add_symbol(symbol)
    torch.manual_seed(0)
    model = BARTModel.build_model(tiny_bart_args(), argparse.Namespace(source_dictionary=dictionary,
                                                                        target_dictionary=dictionary))
    model.eval()
    source = torch.randint(4, len(dictionary), (4, 7))
    previous = torch.randint(4, len(dictionary), (4, 5))
    lengths = torch.full((4,), 7)
    with torch.no_grad():
        before = model(source, lengths, previous)[0]
        task = RetrieveSummarizeTask(RetrieveSummarizeConfig(data=str(tmp_path)), dictionary, dictionary)
        task.build_generator([model], argparse.Namespace(beam=4, max_len_b=10))
        after = model(source, lengths, previous)[0]
        # the control: what fairseq's own generator leaves behind changes the output
        model.decoder.set_beam_size(4)
        shortcut = model(source, lengths, previous)[0]
    assert not torch.allclose(before, shortcut)
    assert torch.equal(before, after)


@pytest.mark.parametrize("value", ["0", "-1"])
def test_eval_retrieval_max_docs_below_one_says_so(tmp_path, capsys, value):
    path = tmp_path / "test.jsonl"
    path.write_bytes(jsonl_bytes())
    code, _, err = eval_retrieval(path, capsys, "--max-docs", value)
    assert code == 2
    assert error_line(err, "summ-eval-retrieval").endswith("--max-docs must be >= 1")
