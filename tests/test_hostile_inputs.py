"""Hostile and broken inputs: fuzzed raw records, corrupt vocabulary and checkpoint files.

Each must end in either a usable output or one clear error line naming the file (and line)
and what to fix; never a traceback, never an output that looks complete after a failure.
"""
import json
import os
import re
import shutil
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from summ_plugin.cli.prepare import main as prepare_main
from summ_plugin.data.data_bin import DataBin
from tests._fairseq import BIN, REPO, fairseq_train
from tests._prepare_fixtures import WORDS, make_records, write_jsonl

MAX_SOURCE = 64
MAX_TARGET = 32


# ----------------------------------------------------------------------------- helpers


def prepare_argv(vocab, destdir, train, valid, *extra):
    return ["--train", str(train), "--valid", str(valid), "--destdir", str(destdir),
            "--encoder-json", vocab["encoder_json"], "--vocab-bpe", vocab["vocab_bpe"], "--dict", vocab["dict"],
            "--retriever", "lead", "--max-source-positions", str(MAX_SOURCE),
            "--max-target-positions", str(MAX_TARGET), "--log-level", "WARNING", *extra]


def run_prepare(argv, capsys):
    """summ-prepare in-process: (exit code, stdout, stderr). Any other exception fails the test."""
    try:
        code = prepare_main(argv)
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


TQDM_LINE = re.compile(r"\d+doc \[")


def assert_one_line_error(err, *must_contain):
    """stderr holds exactly one line besides log lines and progress bars, with these texts."""
    lines = [line for line in err.splitlines() if line.strip() and "| INFO |" not in line
             and "| WARNING |" not in line and not TQDM_LINE.search(line)]
    assert "Traceback" not in err, err
    assert len(lines) == 1, err
    for text in must_contain:
        assert text in lines[0], (text, lines[0])
    return lines[0]


def dataset_sizes(data_bin, split, lang):
    from fairseq.data.indexed_dataset import MMapIndexedDataset

    dataset = MMapIndexedDataset(os.path.join(data_bin, f"{split}.source-target.{lang}"))
    # copy while the dataset (and its mmap) is alive: its .sizes is a view into the mmap
    sizes = [int(size) for size in dataset.sizes]
    del dataset
    return sizes


def read_jsonl(path):
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def counted_lines(data: bytes):
    """Line numbers summ-prepare must account for: undecodable or non-blank lines."""
    numbers = []
    for number, raw in enumerate(data.split(b"\n"), start=1):
        try:
            if not raw.decode("utf-8").strip():
                continue
        except UnicodeDecodeError:
            pass
        numbers.append(number)
    return numbers


# ----------------------------------------------------------------------------- fuzzed records

hostile_text = st.text(
    alphabet=st.characters(codec=None, exclude_categories=()),  # any code point, controls and lone surrogates included
    max_size=60,
)
whitespace = st.text(alphabet=" \t\n\r\x0b\x0c\u00a0\u2003\u3000", max_size=8)
long_token = st.integers(min_value=200, max_value=3000).map(lambda n: "x" * n)
leaf = st.one_of(hostile_text, whitespace, long_token, st.integers(), st.floats(allow_nan=True), st.booleans(), st.none())
json_value = st.recursive(leaf, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                         st.dictionaries(st.text(max_size=5), inner, max_size=3)),
                          max_leaves=8)
field_value = st.one_of(hostile_text, whitespace, long_token, json_value,
                        st.lists(st.one_of(hostile_text, whitespace), max_size=3))
fuzz_record = st.fixed_dictionaries(
    {},
    optional={"id": st.one_of(hostile_text, st.integers(), json_value), "document": field_value,
              "documents": field_value, "summary": field_value, "query": field_value, "title": field_value},
)


def good_line(rng_index):
    rec = make_records(1, seed=100 + rng_index)[0]
    rec["id"] = f"good\u2603{rng_index}"
    return json.dumps(rec)


# a line: ("good", json) | ("bad", json that is bad by construction) | ("fuzz", bytes)
line_strategy = st.one_of(
    st.builds(lambda r: ("fuzz", json.dumps(r, ensure_ascii=bool(len(r) % 2)).encode("utf-8", "surrogatepass")),
              fuzz_record),
    st.builds(lambda t: ("fuzz", t.encode("utf-8", "surrogatepass").replace(b"\n", b" ")), hostile_text),
    st.builds(lambda depth: ("bad", ("[" * depth + "]" * depth).encode()), st.integers(2000, 20000)),
    st.builds(lambda depth: ("bad", ('{"id": "deep", "document": ' + "[" * depth + "]" * depth + "}").encode()),
              st.integers(50, 5000)),
    st.builds(lambda ws: ("bad", json.dumps({"id": "ws", "document": ws, "summary": "s"}).encode()), whitespace),
    st.builds(lambda ws: ("bad", json.dumps({"id": "empty-summary", "document": "A b c.", "summary": ws}).encode()),
              whitespace),
    st.builds(lambda c: ("bad", json.dumps({"id": "controls", "document": c, "summary": "s"}).encode()),
              st.text(alphabet="\x00\x01\x02\x07\x1b\x7f\x85\x9f", min_size=1, max_size=30)),
    st.just(("good", None)),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow, HealthCheck.data_too_large])
@given(lines=st.lists(line_strategy, min_size=1, max_size=8))
def test_fuzzed_records_never_crash_prepare_and_never_exceed_the_budget(lines, tiny_vocab, tmp_path_factory, capsys):
    work = tmp_path_factory.mktemp("fuzz")
    body, kinds = [], []
    for index, (kind, payload) in enumerate([("good", None)] + lines):
        body.append(good_line(index).encode("utf-8") if kind == "good" else payload)
        kinds.append(kind)
    data = b"\n".join(body) + b"\n"
    train = work / "train.jsonl"
    train.write_bytes(data)
    valid = write_jsonl(str(work / "valid.jsonl"), make_records(2, seed=5))
    dest = work / "bin"

    code, out, err = run_prepare(prepare_argv(tiny_vocab, dest, train, valid, "--on-bad-record", "skip"), capsys)
    assert code in (0, None), err  # one good record at least: a data-bin must come out
    assert "Traceback" not in err

    # every example fits the budget, on both sides
    assert max(dataset_sizes(str(dest), "train", "source")) <= MAX_SOURCE
    assert max(dataset_sizes(str(dest), "train", "target")) <= MAX_TARGET
    meta = read_jsonl(str(dest / "train.meta.jsonl"))
    skipped = read_jsonl(str(dest / "train.skipped.jsonl"))
    assert len(meta) == len(dataset_sizes(str(dest), "train", "source"))
    # each counted input line is either an example or listed as skipped, with its cause
    assert len(meta) + len(skipped) == len(counted_lines(data))
    skipped_lines = {int(s["location"].rsplit(":", 1)[1]) for s in skipped}
    assert all(s["reason"] for s in skipped)
    for line_no, kind in enumerate(kinds, start=1):
        if kind == "bad":
            assert line_no in skipped_lines, (line_no, body[line_no - 1][:80], skipped)
    good_ids = {f"good\u2603{i}" for i, kind in enumerate(kinds) if kind == "good"}
    assert good_ids <= {m["id"] for m in meta}
    assert DataBin.read(str(dest)).manifest.splits["train"].figures["skipped"] == len(skipped)


def test_megabyte_summary_is_truncated_to_the_target_budget(tiny_vocab, tmp_path, capsys):
    records = make_records(2, seed=7)
    records[1]["summary"] = "q" * (1 << 20)  # one megabyte-long token
    train = write_jsonl(str(tmp_path / "train.jsonl"), records)
    valid = write_jsonl(str(tmp_path / "valid.jsonl"), make_records(1, seed=8))
    dest = tmp_path / "bin"
    code, _, err = run_prepare(prepare_argv(tiny_vocab, dest, train, valid), capsys)
    assert code in (0, None), err
    assert max(dataset_sizes(str(dest), "train", "source")) <= MAX_SOURCE
    assert max(dataset_sizes(str(dest), "train", "target")) <= MAX_TARGET
    stats = DataBin.read(str(dest)).manifest.splits["train"].figures
    assert stats["examples"] == 2 and stats["targets_truncated"] >= 1 and stats["records_cleaned"] >= 1
    meta = read_jsonl(str(dest / "train.meta.jsonl"))
    assert meta[1]["target_truncated"] and meta[1]["n_target_tokens"] == MAX_TARGET


@pytest.mark.slow
def test_megabyte_token_in_a_document_is_cut_into_windows_within_the_budget(tiny_vocab, tmp_path):
    records = make_records(2, seed=7)
    records[0]["document"] = "Start of text. " + "z" * (1 << 20) + " end. " + records[0]["document"]
    train = write_jsonl(str(tmp_path / "train.jsonl"), records)
    valid = write_jsonl(str(tmp_path / "valid.jsonl"), make_records(1, seed=8))
    dest = tmp_path / "bin"
    proc = _run_module("summ_plugin.cli.prepare", *prepare_argv(tiny_vocab, dest, train, valid), timeout=90)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert max(dataset_sizes(str(dest), "train", "source")) <= MAX_SOURCE
    stats = DataBin.read(str(dest)).manifest.splits["train"].figures
    assert stats["examples"] == 2 and stats["records_cleaned"] >= 1


def test_stop_on_bad_record_names_file_line_and_cause_and_publishes_nothing(tiny_vocab, tmp_path, capsys):
    lines = [json.dumps(r) for r in make_records(3, seed=4)]
    lines.insert(2, '{"id": "broken", "document": ')
    train = tmp_path / "train.jsonl"
    train.write_text("\n".join(lines) + "\n", encoding="utf-8")
    valid = write_jsonl(str(tmp_path / "valid.jsonl"), make_records(1, seed=8))
    dest = tmp_path / "bin"
    code, _, err = run_prepare(prepare_argv(tiny_vocab, dest, train, valid), capsys)
    assert code == 2
    assert_one_line_error(err, f"{train}:3", "malformed JSON")
    # nothing that looks like a data-bin, and no temp directory left behind
    assert not dest.exists()
    assert sorted(os.listdir(tmp_path)) == ["train.jsonl", "valid.jsonl"]


# ----------------------------------------------------------------------------- vocabulary files


def _vocab_copy(tiny_vocab, tmp_path):
    copy = {}
    for key, path in tiny_vocab.items():
        copy[key] = str(tmp_path / os.path.basename(path))
        shutil.copyfile(path, copy[key])
    return copy


def _break_missing(path):
    os.remove(path)


def _break_truncate(path):
    with open(path, "rb") as handle:
        data = handle.read()
    with open(path, "wb") as handle:
        handle.write(data[: len(data) // 2])


def _break_binary(path):
    with open(path, "wb") as handle:
        handle.write(b"\x80\x81\xfe\xff" * 64)


@pytest.mark.parametrize("key,breaker,expected", [
    ("encoder_json", _break_missing, "not found"),
    ("encoder_json", _break_truncate, "not a valid encoder.json"),
    ("encoder_json", _break_binary, "not a valid encoder.json"),
    ("vocab_bpe", _break_missing, "not found"),
    ("vocab_bpe", _break_truncate, "vocab.bpe"),
    ("vocab_bpe", _break_binary, "not a valid vocab.bpe"),
    ("dict", _break_missing, "not found"),
    ("dict", _break_binary, "not a valid fairseq dict.txt"),
])
def test_broken_vocabulary_files_give_one_clear_line(tiny_vocab, tmp_path, capsys, key, breaker, expected):
    vocab = _vocab_copy(tiny_vocab, tmp_path)
    breaker(vocab[key])
    train = write_jsonl(str(tmp_path / "train.jsonl"), make_records(2, seed=1))
    valid = write_jsonl(str(tmp_path / "valid.jsonl"), make_records(1, seed=2))
    dest = tmp_path / "bin"
    code, _, err = run_prepare(prepare_argv(vocab, dest, train, valid), capsys)
    assert code == 2
    assert_one_line_error(err, vocab[key], expected)
    assert not dest.exists()


def test_dict_of_another_vocabulary_is_refused(tiny_vocab, tmp_path, capsys):
    """A dict.txt of words (fairseq-preprocess without BPE), not of this BPE's ids: every
    token would become <unk>. summ-prepare must say so instead of writing an all-<unk> data-bin."""
    vocab = _vocab_copy(tiny_vocab, tmp_path)
    with open(vocab["dict"], "w", encoding="utf-8") as handle:
        for rank, word in enumerate(sorted(set(WORDS))):
            handle.write(f"{word} {1000 - rank}\n")
    train = write_jsonl(str(tmp_path / "train.jsonl"), make_records(2, seed=1))
    valid = write_jsonl(str(tmp_path / "valid.jsonl"), make_records(1, seed=2))
    dest = tmp_path / "bin"
    code, _, err = run_prepare(prepare_argv(vocab, dest, train, valid), capsys)
    assert code == 2
    assert_one_line_error(err, vocab["dict"], "encoder.json")
    assert not dest.exists()


# ----------------------------------------------------------------------------- checkpoints


def _truncate_copy(src, dst):
    with open(src, "rb") as handle:
        data = handle.read()
    with open(dst, "wb") as handle:
        handle.write(data[: len(data) // 3])
    return str(dst)


def _fairseq_lines(output):
    """The error lines of a failed run: exactly one is expected, and it ends the output
    (fairseq also prints its config and the model structure, which are not errors)."""
    lines = [line for line in output.splitlines() if line.strip()]
    errors = [line for line in lines if "error" in line.lower() and " | INFO | " not in line]
    assert errors and errors[-1] == lines[-1], output[-4000:]
    return errors


def test_fairseq_train_resuming_a_truncated_checkpoint_last_says_which_file(tiny_data_bin, tiny_checkpoint, tmp_path):
    save = tmp_path / "ckpt"
    save.mkdir()
    bad = _truncate_copy(tiny_checkpoint, save / "checkpoint_last.pt")
    proc = fairseq_train(tiny_data_bin, str(save), "--max-update", "5", check=False)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stdout, proc.stdout[-4000:]
    (line,) = _fairseq_lines(proc.stdout)
    assert line.startswith("fairseq-train: error: CorruptCheckpointError")
    assert bad in line and "truncated or corrupt" in line and "restore from an earlier checkpoint" in line


def test_fairseq_train_restore_file_truncated(tiny_data_bin, tiny_checkpoint, tmp_path):
    bad = _truncate_copy(tiny_checkpoint, tmp_path / "model.pt")
    proc = fairseq_train(tiny_data_bin, str(tmp_path / "ft"), "--restore-file", bad, "--reset-optimizer",
                         "--max-update", "1", check=False)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stdout, proc.stdout[-4000:]
    (line,) = _fairseq_lines(proc.stdout)
    assert bad in line and "truncated or corrupt" in line


@pytest.fixture(scope="module")
def other_dict_data_bin(tmp_path_factory, tiny_vocab, tiny_raw_dir):
    """The same raw data prepared with a dict.txt of another size (extra symbols appended)."""
    from summ_plugin.data.config import PrepareConfig
    from summ_plugin.data.prepare import find_split_inputs, prepare_data_bin

    root = tmp_path_factory.mktemp("otherdict")
    other = root / "dict.txt"
    with open(tiny_vocab["dict"], encoding="utf-8") as handle:
        text = handle.read()
    other.write_text(text + "".join(f"{900000 + i} 0\n" for i in range(16)), encoding="utf-8")
    config = PrepareConfig(
        destdir=str(root / "bin"), encoder_json=tiny_vocab["encoder_json"], vocab_bpe=tiny_vocab["vocab_bpe"],
        dict_path=str(other), inputs=find_split_inputs(tiny_raw_dir), retriever="lead",
        max_source_positions=96, max_target_positions=64,
    )
    return prepare_data_bin(config)


def test_fairseq_train_data_bin_from_another_dictionary_than_the_checkpoint(other_dict_data_bin, tiny_checkpoint,
                                                                             tmp_path):
    args = ["--restore-file", tiny_checkpoint, "--reset-optimizer", "--reset-dataloader", "--max-update", "1"]
    # --vocab-fix error: one line that names both sizes and the fix, not fairseq's
    # "please ensure that the architectures match" traceback
    proc = fairseq_train(other_dict_data_bin, str(tmp_path / "strict"), *args, "--vocab-fix", "error", check=False)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stdout, proc.stdout[-4000:]
    (line,) = _fairseq_lines(proc.stdout)
    assert "VocabFixError" in line and "summ-fix-vocab" in line and "vocabulary rows" in line
    # default: resized in memory, with a warning that says what was done
    out = fairseq_train(other_dict_data_bin, str(tmp_path / "resize"), *args)
    assert "resized in memory" in out
    assert os.path.isfile(tmp_path / "resize" / "checkpoint_last.pt")


@pytest.mark.usefixtures("fairseq_processes")
def test_fairseq_train_corrupt_dictionary_in_data_bin(tiny_data_bin, tmp_path):
    data = tmp_path / "bin"
    shutil.copytree(tiny_data_bin, data)
    (data / "dict.source.txt").write_text("this line has no count\n", encoding="utf-8")
    proc = fairseq_train(str(data), str(tmp_path / "ckpt"), "--max-update", "1", check=False)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stdout
    assert str(data / "dict.source.txt") in proc.stdout


def _run_module(module, *argv, timeout=300):
    env = dict(os.environ, PYTHONUNBUFFERED="1", OMP_NUM_THREADS="1")
    env["PATH"] = BIN + os.pathsep + env.get("PATH", "")
    return subprocess.run([sys.executable, "-m", module, *map(str, argv)], cwd=REPO, env=env, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)


def test_fix_vocab_corrupt_checkpoint(tiny_vocab, tiny_checkpoint, tmp_path):
    bad = _truncate_copy(tiny_checkpoint, tmp_path / "model.pt")
    out = tmp_path / "fixed.pt"
    proc = _run_module("summ_plugin.cli.fix_vocab", "--checkpoint", bad, "--dict", tiny_vocab["dict"],
                       "--out", str(out))
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr, proc.stderr[-4000:]
    (line,) = _fairseq_lines(proc.stderr)
    assert "error" in line and bad in line and "truncated or corrupt" in line
    assert not out.exists()


def test_summarize_corrupt_checkpoint_and_missing_bpe(tiny_checkpoint, tiny_raw_dir, tmp_path, capsys):
    from summ_plugin.cli.summarize import main as summarize_main

    bad = _truncate_copy(tiny_checkpoint, tmp_path / "model.pt")
    out = tmp_path / "out.jsonl"
    docs = os.path.join(tiny_raw_dir, "test.jsonl")
    with pytest.raises(SystemExit) as exit_info:
        summarize_main(["--path", bad, "--input", docs, "--output", str(out), "--cpu"])
    assert exit_info.value.code == 2
    line = assert_one_line_error(capsys.readouterr().err, bad, "truncated or corrupt")
    assert line.startswith("summ-summarize: error:")
    assert not out.exists()

    missing = str(tmp_path / "nowhere" / "encoder.json")
    with pytest.raises(SystemExit) as exit_info:
        summarize_main(["--path", tiny_checkpoint, "--input", docs, "--output", str(out), "--cpu",
                        "--encoder-json", missing])
    assert exit_info.value.code == 2
    assert_one_line_error(capsys.readouterr().err, missing, "not found")
    assert not out.exists()
