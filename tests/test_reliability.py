"""Issue 14: nothing lost, nothing silently wrong. Each test reproduces one failure found by
attacking the tools (the item number is in the test's name) and checks the fix.

Tests that start fairseq processes are marked slow; the rest run in seconds.
"""
import errno
import gzip
import json
import logging
import os
import re
import signal
import stat
import subprocess
import sys
import time

import pytest

from summ_plugin.cli.prepare import main as prepare_main
from summ_plugin.cli.score import main as score_main
from summ_plugin.data.data_bin import DataBin
from tests._prepare_fixtures import make_records, write_jsonl
from tests.test_hostile_inputs import assert_one_line_error, other_dict_data_bin  # noqa: F401 (fixture)

# ----------------------------------------------------------------------------- helpers


def prepare_args(vocab, dest, train, *extra, valid=None):
    args = ["--train", str(train), "--destdir", str(dest), "--encoder-json", vocab["encoder_json"],
            "--vocab-bpe", vocab["vocab_bpe"], "--dict", vocab["dict"], "--retriever", "lead",
            "--max-source-positions", "64", "--max-target-positions", "32", "--log-level", "WARNING"]
    if valid:
        args += ["--valid", str(valid)]
    return args + list(extra)


def run_cli(main, argv, capsys):
    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    if isinstance(code, str):  # SystemExit("message"): Python prints it and exits 1
        err, code = err + code + "\n", 1
    return code, out, err


@pytest.fixture
def train_file(tmp_path):
    return write_jsonl(str(tmp_path / "in" / "train.jsonl"), make_records(6, seed=1))


def leftovers(directory, dest_name):
    return sorted(n for n in os.listdir(directory) if n.startswith(dest_name + ".") or n.startswith("." + dest_name))


# ----------------------------------------------------------------------------- 1: output == input


@pytest.mark.parametrize("alias", ["same path", "hard link", "symlink"])
def test_item01_summarize_refuses_an_output_that_is_the_input(alias, tmp_path, capsys):
    from summ_plugin.cli.summarize import main as summarize_main

    source = tmp_path / "docs.jsonl"
    write_jsonl(str(source), make_records(2, seed=3))
    before = source.read_bytes()
    output = tmp_path / "out.jsonl"
    if alias == "same path":
        output = source
    elif alias == "hard link":
        os.link(source, output)
    else:
        os.symlink(source, output)
    code, _, err = run_cli(summarize_main, ["--path", str(tmp_path / "model.pt"), "--input", str(source),
                                            "--output", str(output), "--cpu"], capsys)
    assert code == 2
    assert_one_line_error(err, "is the input file", str(output))
    assert source.read_bytes() == before  # the documents and references are intact


# ----------------------------------------------------------------------------- 2: destdir lock, re-check at publish


def test_item02_second_prepare_on_the_same_destdir_is_refused(tiny_vocab, train_file, tmp_path, capsys):
    from summ_plugin.safe_io import DestinationLock

    dest = tmp_path / "bin"
    with DestinationLock(f"{dest}.summ-prepare"):  # what a concurrent summ-prepare holds
        code, _, err = run_cli(prepare_main, prepare_args(tiny_vocab, dest, train_file), capsys)
    assert code == 2
    assert_one_line_error(err, str(dest), "another process is writing it")
    assert not dest.exists()
    # the lock is released with its holder: the next run works and leaves no lock file
    code, _, err = run_cli(prepare_main, prepare_args(tiny_vocab, dest, train_file), capsys)
    assert code == 0, err
    assert leftovers(tmp_path, "bin") == []


@pytest.mark.parametrize("overwrite", [False, True])
def test_item02_directory_made_during_the_run_is_never_replaced(overwrite, tiny_vocab, train_file, tmp_path,
                                                                 capsys, monkeypatch):
    import summ_plugin.data.prepare as prepare_module

    dest = tmp_path / "bin"
    if overwrite:  # an earlier data-bin, which someone else replaces while this run works
        assert run_cli(prepare_main, prepare_args(tiny_vocab, dest, train_file), capsys)[0] == 0
    real_prepare_split = prepare_module._prepare_split

    def prepare_split_then_someone_writes_dest(*args, **kwargs):
        result = real_prepare_split(*args, **kwargs)
        if overwrite:
            (dest / "prepare.json").write_text('{"theirs": true}\n')
        else:
            dest.mkdir()
            (dest / "theirs.txt").write_text("precious")
        return result

    monkeypatch.setattr(prepare_module, "_prepare_split", prepare_split_then_someone_writes_dest)
    extra = ["--overwrite"] if overwrite else []
    code, _, err = run_cli(prepare_main, prepare_args(tiny_vocab, dest, train_file, *extra), capsys)
    assert code == 2
    assert_one_line_error(err, str(dest), "changed while this run was working")
    if overwrite:
        assert json.loads((dest / "prepare.json").read_text()) == {"theirs": True}
    else:
        assert (dest / "theirs.txt").read_text() == "precious"
    assert leftovers(tmp_path, "bin") == []  # no tmp-PID, old-PID or lock left


# ----------------------------------------------------------------------------- 3: stale temp dirs, orphan workers


def dead_pid():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_item03_stale_temp_dirs_of_dead_runs_are_removed_and_logged(tiny_vocab, train_file, tmp_path, capsys):
    dest = tmp_path / "bin"
    stale = tmp_path / f"bin.tmp-{dead_pid()}"
    (stale / "shard0").mkdir(parents=True)
    (stale / "train.source-target.source.bin").write_bytes(b"x" * 100)
    live = tmp_path / "bin.tmp-1"  # PID 1 is alive: a running writer's work is never touched
    live.mkdir()
    other = tmp_path / f"other.tmp-{dead_pid()}"  # another destination's: not this run's business
    other.mkdir()
    code, _, err = run_cli(prepare_main, prepare_args(tiny_vocab, dest, train_file), capsys)
    assert code == 0, err
    assert not stale.exists() and live.is_dir() and other.is_dir()
    assert f"removed {stale}: temporary directory left by a run that was killed" in err


def test_item03_raw_dir_cache_removes_stale_temp_dirs(tiny_raw_dir, tmp_path, caplog):
    from summ_plugin.data.cache import prepare_cached

    cache = tmp_path / "cache"
    stale = cache / f"{'0' * 64}.tmp-{dead_pid()}"
    stale.mkdir(parents=True)
    with caplog.at_level(logging.WARNING, logger="summ_plugin.safe_io"):
        prepare_cached(tiny_raw_dir, {"retriever": "lead", "max_source_positions": 64}, cache_root=str(cache))
    assert not stale.exists()
    assert any(str(stale) in r.getMessage() for r in caplog.records)


def children_of(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as handle:
            return [int(p) for p in handle.read().split()]
    except OSError:
        return []


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split(") ")[-1][:1] != "Z"
    except OSError:
        return False


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists("/proc/self/task"), reason="reads /proc")
@pytest.mark.parametrize("how", ["SIGKILL", "SIGTERM"])
def test_item03_workers_die_with_summ_prepare(how, tiny_vocab, tmp_path):
    train = write_jsonl(str(tmp_path / "train.jsonl"), make_records(3000, seed=5, sentences=30))
    dest = tmp_path / "bin"
    env = dict(os.environ, PYTHONUNBUFFERED="1", OMP_NUM_THREADS="1")
    log = tmp_path / "stderr.txt"  # a file, not a pipe: orphans would hold a pipe open forever
    with open(log, "w") as stderr:
        proc = subprocess.Popen([sys.executable, "-m", "summ_plugin.cli.prepare",
                                 *prepare_args(tiny_vocab, dest, train, "--workers", "2")],
                                stdout=subprocess.DEVNULL, stderr=stderr, env=env)
    deadline = time.time() + 120
    workers = []
    while time.time() < deadline and len(workers) < 2 and proc.poll() is None:
        time.sleep(0.2)
        workers = children_of(proc.pid)
    assert len(workers) >= 2, "the workers never started"
    time.sleep(1.0)  # let them work
    os.kill(proc.pid, getattr(signal, how))
    proc.wait(timeout=60)
    err = log.read_text()
    deadline = time.time() + 15
    while time.time() < deadline and any(alive(w) for w in workers):
        time.sleep(0.2)
    orphans = [w for w in workers if alive(w)]
    for pid in orphans:  # do not leave them behind when the test fails
        os.kill(pid, signal.SIGKILL)
    assert not orphans, f"orphan workers {orphans} outlived summ-prepare ({how})"
    assert not dest.exists()
    if how == "SIGTERM":  # SIGTERM unwinds: the temporary directory is removed at once
        assert proc.returncode == 130 and "nothing was published" in err
        assert leftovers(tmp_path, "bin") == []
    else:  # SIGKILL leaves bin.tmp-PID; the next run removes it and says so
        assert [n for n in leftovers(tmp_path, "bin") if ".tmp-" in n]
        small = write_jsonl(str(tmp_path / "small" / "train.jsonl"), make_records(4, seed=6))
        done = subprocess.run([sys.executable, "-m", "summ_plugin.cli.prepare",
                               *prepare_args(tiny_vocab, dest, small)[:-2], "--log-level", "WARNING"],
                              capture_output=True, text=True, env=env, timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
        assert "temporary directory left by a run that was killed" in done.stderr
        assert leftovers(tmp_path, "bin") == []


# ----------------------------------------------------------------------------- 4: <unk> rate


def cut_dictionary(src, dst, lines):
    with open(src, encoding="utf-8") as handle:
        kept = handle.readlines()[:lines]
    with open(dst, "w", encoding="utf-8") as handle:
        handle.writelines(kept)
    return str(dst)


@pytest.mark.parametrize("lines", [0, 1, 20])
def test_item04_dictionary_that_does_not_fit_the_bpe_stops_prepare(lines, tiny_vocab, train_file, tmp_path, capsys):
    bad_dict = cut_dictionary(tiny_vocab["dict"], tmp_path / "dict.txt", lines)
    vocab = dict(tiny_vocab, dict=bad_dict)
    dest = tmp_path / "bin"
    code, _, err = run_cli(prepare_main, prepare_args(vocab, dest, train_file), capsys)
    assert code == 2
    line = assert_one_line_error(err, bad_dict, "<unk>", "--max-unk-rate")
    assert float(re.search(r"([0-9.]+)% of the train tokens", line).group(1)) > 30
    assert not dest.exists()
    # raising the limit lets it through, and the rate is recorded
    code, _, err = run_cli(prepare_main, prepare_args(vocab, dest, train_file, "--max-unk-rate", "100"), capsys)
    assert code == 0, err
    rate = DataBin.read(str(dest)).manifest.splits["train"].figures["unk_rate_percent"]
    assert rate > 30


def test_item04_fitting_dictionary_records_a_zero_unk_rate(tiny_vocab, train_file, tmp_path, capsys):
    dest = tmp_path / "bin"
    assert run_cli(prepare_main, prepare_args(tiny_vocab, dest, train_file), capsys)[0] == 0
    assert DataBin.read(str(dest)).manifest.splits["train"].figures["unk_rate_percent"] == 0


@pytest.mark.parametrize("lines", [0, 1, 100])
def test_item04_fix_vocab_refuses_an_empty_or_tiny_dictionary(lines, tmp_path, capsys):
    from summ_plugin.cli.fix_vocab import main as fix_vocab_main
    from tests._checkpoint_fixtures import make_bart_checkpoint, write_dict

    symbols = [f"w{i}" for i in range(2000)]
    checkpoint = str(tmp_path / "model.pt")
    make_bart_checkpoint(checkpoint, symbols)
    tiny = write_dict(str(tmp_path / "dict.txt"), symbols[:lines])
    out = tmp_path / "fixed.pt"
    code, _, err = run_cli(fix_vocab_main, ["--checkpoint", checkpoint, "--dict", tiny, "--out", str(out)], capsys)
    assert code == 2
    assert "summ-fix-vocab: error:" in err and tiny in err
    assert ("empty" in err) if lines == 0 else ("would drop" in err)
    assert not out.exists()
    # the full dictionary still works
    full = write_dict(str(tmp_path / "full.txt"), symbols)
    code, _, err = run_cli(fix_vocab_main, ["--checkpoint", checkpoint, "--dict", full, "--out", str(out)], capsys)
    assert code == 0, err


# ----------------------------------------------------------------------------- 7: both document and documents


def test_item07_record_with_document_and_documents_is_bad(tiny_vocab, tmp_path, capsys):
    from summ_plugin.data.records import BadRecordError, record_from_dict

    both = {"id": "x", "document": "One text.", "documents": ["Two.", "Texts."], "summary": "s"}
    with pytest.raises(BadRecordError, match="both 'document' and 'documents'"):
        record_from_dict(both, "f.jsonl:1")
    records = make_records(3, seed=1)
    records[1]["documents"] = ["Another document that would drop the first."]
    train = write_jsonl(str(tmp_path / "train.jsonl"), records)
    code, _, err = run_cli(prepare_main, prepare_args(tiny_vocab, tmp_path / "bin", train), capsys)
    assert code == 2
    assert_one_line_error(err, f"{train}:2", "both 'document' and 'documents'")
    code, _, err = run_cli(prepare_main, prepare_args(tiny_vocab, tmp_path / "bin", train, "--on-bad-record", "skip"),
                           capsys)
    assert code == 0, err
    assert DataBin.read(str(tmp_path / "bin")).manifest.splits["train"].figures["skipped"] == 1


def test_item07_hypothesis_with_summary_and_hypothesis_is_refused(tmp_path, capsys):
    hyps = write_jsonl(str(tmp_path / "h.jsonl"), [{"id": "a", "summary": "x y", "hypothesis": "z"}])
    refs = write_jsonl(str(tmp_path / "r.jsonl"), [{"id": "a", "summary": "x y"}])
    code, _, err = run_cli(score_main, ["--hyps", hyps, "--refs", refs, "--bootstrap", "0", "--quiet"], capsys)
    assert code == 2
    assert_one_line_error(err, f"{hyps}:1", "'hypothesis' and 'summary'")


# ----------------------------------------------------------------------------- 8: summ-score pairing


SENTENCES = ["the council approved the school budget", "storms hit the coast overnight",
             "the bridge near the market will be repaired", "teachers welcomed new funding"]


def test_item08_ids_on_one_side_only_are_refused(tmp_path, capsys):
    hyps = write_jsonl(str(tmp_path / "h.jsonl"), [{"id": str(i), "summary": s} for i, s in enumerate(SENTENCES)])
    refs = tmp_path / "r.txt"
    refs.write_text("\n".join(reversed(SENTENCES)) + "\n")  # another order: by position would be wrong
    code, _, err = run_cli(score_main, ["--hyps", hyps, "--refs", str(refs), "--bootstrap", "0", "--quiet"], capsys)
    assert code == 2
    assert_one_line_error(err, hyps, "has ids", "--match-by-position")
    code, out, _ = run_cli(score_main, ["--hyps", hyps, "--refs", str(refs), "--bootstrap", "0", "--quiet",
                                        "--match-by-position"], capsys)
    assert code == 0 and "rouge1" in out


def test_item08_ids_on_both_sides_are_matched_by_id(tmp_path, capsys):
    hyps = write_jsonl(str(tmp_path / "h.jsonl"), [{"id": str(i), "summary": s} for i, s in enumerate(SENTENCES)])
    refs = write_jsonl(str(tmp_path / "r.jsonl"),
                       [{"id": str(i), "summary": s} for i, s in reversed(list(enumerate(SENTENCES)))])
    out_json = tmp_path / "s.json"
    code, _, err = run_cli(score_main, ["--hyps", hyps, "--refs", refs, "--bootstrap", "0", "--quiet",
                                        "--json", str(out_json)], capsys)
    assert code == 0, err
    assert json.loads(out_json.read_text())["scores"]["rouge1"]["fmeasure"]["mean"] == pytest.approx(100.0)


def generate_output(path, targets, hypotheses):
    lines = []
    for i, (t, h) in enumerate(zip(targets, hypotheses)):
        lines += [f"S-{i}\tsource {i}", f"T-{i}\t{t}", f"H-{i}\t-0.5\t{h}", f"D-{i}\t-0.5\t{h}"]
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def test_item08_generate_output_of_other_examples_than_the_references_is_refused(tmp_path, capsys):
    valid_refs = ["residents asked about taxes", "the mayor kept spending flat", "work starts in spring",
                  "critics warned about costs"]
    refs = tmp_path / "refs.txt"
    refs.write_text("\n".join(valid_refs) + "\n")
    test_output = generate_output(tmp_path / "gen.out", SENTENCES, SENTENCES)
    code, _, err = run_cli(score_main, ["--fairseq-generate", test_output, "--refs", str(refs), "--bootstrap", "0",
                                        "--quiet"], capsys)
    assert code == 2
    assert_one_line_error(err, test_output, "T- (target) lines of 4 of 4 samples differ", str(refs))
    # the T- lines of the right split match (also when fairseq capitalises or detokenizes differently)
    refs.write_text("\n".join(s.capitalize() + "." for s in SENTENCES) + "\n")
    code, out, err = run_cli(score_main, ["--fairseq-generate", test_output, "--refs", str(refs), "--bootstrap",
                                          "0", "--quiet"], capsys)
    assert code == 0, err


# ----------------------------------------------------------------------------- 9: shards


def test_item09_more_shards_than_train_records_is_refused(tiny_vocab, tmp_path, capsys):
    train = write_jsonl(str(tmp_path / "train.jsonl"), make_records(3, seed=1))
    dest = tmp_path / "bin"
    code, _, err = run_cli(prepare_main, prepare_args(tiny_vocab, dest, train, "--shards", "4"), capsys)
    assert code == 2
    assert_one_line_error(err, "--shards 4", "only 3 examples")
    assert not dest.exists() and leftovers(tmp_path, "bin") == []
    assert run_cli(prepare_main, prepare_args(tiny_vocab, dest, train, "--shards", "3"), capsys)[0] == 0


# ----------------------------------------------------------------------------- 10: positions vs prepare.json


def test_item10_positions_below_the_prepared_budget_are_refused(tiny_data_bin):
    from summ_plugin.tasks.positions_check import PositionsMismatchError, check_positions_fit_data

    with pytest.raises(PositionsMismatchError, match="prepared for 96 source positions .* --max-source-positions 64"):
        check_positions_fit_data(tiny_data_bin, 64, "task")
    check_positions_fit_data(tiny_data_bin, 96, "task")
    check_positions_fit_data(tiny_data_bin, 1024, "model")


def test_item10_sharded_data_path_finds_prepare_json(tiny_vocab, tmp_path, capsys):
    from summ_plugin.tasks.positions_check import PositionsMismatchError, check_positions_fit_data

    train = write_jsonl(str(tmp_path / "train.jsonl"), make_records(4, seed=1))
    code, out, err = run_cli(prepare_main, prepare_args(tiny_vocab, tmp_path / "bin", train, "--shards", "2"), capsys)
    assert code == 0, err
    data = out.strip().splitlines()[-1]
    assert ":" in data
    with pytest.raises(PositionsMismatchError):
        check_positions_fit_data(data, 32, "task")


# ----------------------------------------------------------------------------- 13: one line, not a traceback


def enospc(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "/data/full/file")


def erofs(*args, **kwargs):
    raise OSError(errno.EROFS, os.strerror(errno.EROFS), "/data/ro/file")


@pytest.mark.parametrize("failure,text", [(enospc, "no space left on device"), (erofs, "read-only file system")])
def test_item13_prepare_disk_full_or_read_only_is_one_line(failure, text, tiny_vocab, train_file, tmp_path,
                                                           capsys, monkeypatch):
    from summ_plugin.data.split_writer import SplitWriter

    monkeypatch.setattr(SplitWriter, "add", failure)
    dest = tmp_path / "bin"
    code, _, err = run_cli(prepare_main, prepare_args(tiny_vocab, dest, train_file), capsys)
    assert code == 2
    assert_one_line_error(err, "summ-prepare: error:", text, "nothing was published")
    assert not dest.exists() and leftovers(tmp_path, "bin") == []


@pytest.mark.parametrize("failure,text", [(enospc, "no space left on device"), (erofs, "read-only file system")])
def test_item13_score_json_disk_full_or_read_only_is_one_line(failure, text, tmp_path, capsys, monkeypatch):
    import summ_plugin.scoring as scoring

    monkeypatch.setattr(scoring, "atomic_write_text", failure)
    hyps = write_jsonl(str(tmp_path / "h.jsonl"), [{"id": "a", "summary": "x y"}])
    code, _, err = run_cli(score_main, ["--hyps", hyps, "--refs", hyps, "--bootstrap", "0", "--quiet",
                                        "--json", str(tmp_path / "s.json")], capsys)
    assert code == 2
    assert_one_line_error(err, "summ-score: error:", text)


@pytest.mark.parametrize("failure,text", [(enospc, "no space left on device"), (erofs, "read-only file system")])
def test_item13_summarize_and_fix_vocab_disk_full_is_one_line(failure, text, tmp_path, capsys, monkeypatch):
    import summ_plugin.cli.fix_vocab as fix_vocab_module
    import summ_plugin.summarize as summarize_module
    from summ_plugin.cli.summarize import main as summarize_main
    from tests._checkpoint_fixtures import make_bart_checkpoint, write_dict

    monkeypatch.setattr(summarize_module, "summarize_file", failure)
    code, _, err = run_cli(summarize_main, ["--path", "m.pt", "--input", "in.jsonl",
                                            "--output", str(tmp_path / "o.jsonl")], capsys)
    assert code == 2
    assert_one_line_error(err, "summ-summarize: error:", text)

    symbols = [f"w{i}" for i in range(40)]
    checkpoint = str(tmp_path / "model.pt")
    make_bart_checkpoint(checkpoint, symbols)
    monkeypatch.setattr(fix_vocab_module, "atomic_output", failure)
    # the fixed checkpoint is written by the one checkpoint writer (checkpoints.save_checkpoint_atomically)
    import summ_plugin.checkpoints as checkpoints_module

    monkeypatch.setattr(checkpoints_module, "atomic_output", failure)
    code, _, err = run_cli(fix_vocab_module.main, ["--checkpoint", checkpoint, "--dict",
                                                   write_dict(str(tmp_path / "d.txt"), symbols[:30]),
                                                   "--out", str(tmp_path / "f.pt")], capsys)
    assert code == 2
    assert "summ-fix-vocab: error:" in err and text in err and "Traceback" not in err


@pytest.mark.parametrize("failure,text", [(enospc, "no space left on device"), (erofs, "read-only file system")])
def test_item13_make_vocab_disk_full_or_read_only_is_one_line(failure, text, tmp_path, capsys, monkeypatch):
    import summ_plugin.data.bpe as bpe_module
    from summ_plugin.cli.make_vocab import main as make_vocab_main

    monkeypatch.setattr(bpe_module, "atomic_write_text", failure)
    corpus = write_jsonl(str(tmp_path / "c.jsonl"), make_records(10, seed=2))
    code, _, err = run_cli(make_vocab_main, ["--input", corpus, "--vocab-size", "300", "--out", str(tmp_path / "v")],
                           capsys)
    assert code == 2
    assert_one_line_error(err, "summ-make-vocab: error:", text)


def writable_by_us_although_read_only(directory):
    return os.access(directory, os.W_OK)


def test_item13_read_only_destination_for_real(tiny_vocab, train_file, tmp_path, capsys):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        if writable_by_us_although_read_only(ro):
            pytest.skip("running as root: chmod does not make a directory read-only")
        code, _, err = run_cli(prepare_main, prepare_args(tiny_vocab, ro / "bin", train_file), capsys)
        assert code == 2
        assert_one_line_error(err, str(ro), "permission denied")
    finally:
        ro.chmod(0o755)


@pytest.mark.parametrize("options,message", [
    (["--beam", "0"], "--beam must be at least 1"),
    (["--beam", "-1"], "--beam must be at least 1"),
    (["--max-len-b", "0"], "--max-len-b 0 leaves no room"),
    (["--min-len", "50", "--max-len-b", "20"], "--min-len 50 is more than --max-len-b 20"),
    (["--batch-size", "0"], "--batch-size must be at least 1"),
])
def test_item13_summarize_generation_options_are_checked_before_work(options, message, tmp_path, capsys):
    from summ_plugin.cli.summarize import main as summarize_main

    code, _, err = run_cli(summarize_main, ["--path", str(tmp_path / "m.pt"), "--input", str(tmp_path / "in.jsonl"),
                                            "--output", str(tmp_path / "o.jsonl"), *options], capsys)
    assert code == 2
    assert_one_line_error(err, message)


@pytest.mark.parametrize("module", ["prepare", "summarize", "make_vocab"])
def test_item13_bogus_format_is_a_usage_error(module, tmp_path, capsys):
    import importlib

    main = importlib.import_module(f"summ_plugin.cli.{module}").main
    with pytest.raises(SystemExit) as exit_info:
        main(["--format", "bogus", "--input", "x", "--output", "y", "--out", "z", "--path", "p"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "invalid choice: 'bogus'" in err


def test_item13_truncated_jsonl_gz_is_one_line(tiny_vocab, tmp_path, capsys):
    records = make_records(40, seed=1)
    data = gzip.compress("".join(json.dumps(r) + "\n" for r in records).encode())
    train = tmp_path / "train.jsonl.gz"
    train.write_bytes(data[: len(data) * 2 // 3])
    code, _, err = run_cli(prepare_main, prepare_args(tiny_vocab, tmp_path / "bin", train), capsys)
    assert code == 2
    assert_one_line_error(err, str(train), "truncated or corrupt")


def test_item13_make_vocab_out_at_a_file_and_existing_vocab(tmp_path, capsys):
    from summ_plugin.cli.make_vocab import main as make_vocab_main

    corpus = write_jsonl(str(tmp_path / "c.jsonl"), make_records(20, seed=2))
    a_file = tmp_path / "notes.txt"
    a_file.write_text("mine")
    code, _, err = run_cli(make_vocab_main, ["--input", corpus, "--vocab-size", "300", "--out", str(a_file)], capsys)
    assert code == 2
    assert_one_line_error(err, str(a_file), "not a directory")
    assert a_file.read_text() == "mine"

    out = tmp_path / "vocab"
    code, _, err = run_cli(make_vocab_main, ["--input", corpus, "--vocab-size", "300", "--out", str(out)], capsys)
    assert code == 0, err
    before = {n: (out / n).read_bytes() for n in ("encoder.json", "vocab.bpe", "dict.txt")}
    code, _, err = run_cli(make_vocab_main, ["--input", corpus, "--vocab-size", "280", "--out", str(out)], capsys)
    assert code == 2
    assert_one_line_error(err, str(out), "already holds", "--overwrite")
    assert {n: (out / n).read_bytes() for n in before} == before
    code, _, err = run_cli(make_vocab_main, ["--input", corpus, "--vocab-size", "280", "--out", str(out),
                                             "--overwrite"], capsys)
    assert code == 0, err
    assert (out / "vocab.bpe").read_bytes() != before["vocab.bpe"]


def test_item13_random_bytes_are_not_a_checkpoint(tiny_vocab, tmp_path, capsys):
    import random

    from summ_plugin.checkpoints import CorruptCheckpointError, load_checkpoint_safely
    from summ_plugin.cli.fix_vocab import main as fix_vocab_main

    noise = tmp_path / "model.pt"
    rng = random.Random(7)
    noise.write_bytes(bytes([0x17]) + bytes(rng.randrange(256) for _ in range(4096)))
    with pytest.raises(CorruptCheckpointError, match="not a checkpoint"):
        load_checkpoint_safely(str(noise))
    code, _, err = run_cli(fix_vocab_main, ["--checkpoint", str(noise), "--dict", tiny_vocab["dict"],
                                            "--out", str(tmp_path / "f.pt")], capsys)
    assert code == 2 and "not a checkpoint" in err and "unsafe" not in err.lower()


@pytest.fixture
def umask_022():
    previous = os.umask(0o022)
    yield 0o644
    os.umask(previous)


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_item13_written_files_get_the_usual_mode(umask_022, tiny_vocab, train_file, tmp_path, capsys):
    from summ_plugin.atomic import atomic_write_text
    from summ_plugin.checkpoints import _AtomicCopyPathManager
    from summ_plugin.cli.make_vocab import main as make_vocab_main
    from fairseq.file_io import PathManager

    atomic_write_text(str(tmp_path / "a.txt"), "x")
    assert mode(tmp_path / "a.txt") == umask_022
    dest = tmp_path / "bin"
    assert run_cli(prepare_main, prepare_args(tiny_vocab, dest, train_file), capsys)[0] == 0
    assert mode(dest / "prepare.json") == umask_022
    corpus = write_jsonl(str(tmp_path / "c.jsonl"), make_records(20, seed=2))
    assert run_cli(make_vocab_main, ["--input", corpus, "--vocab-size", "300", "--out", str(tmp_path / "v")],
                   capsys)[0] == 0
    for name in ("encoder.json", "vocab.bpe", "dict.txt"):
        assert mode(tmp_path / "v" / name) == umask_022, name
    # what fairseq-train's copy to checkpoint_last.pt goes through
    (tmp_path / "checkpoint_1_5.pt").write_bytes(b"PK\x03\x04 checkpoint bytes")
    _AtomicCopyPathManager(PathManager).copy(str(tmp_path / "checkpoint_1_5.pt"), str(tmp_path / "checkpoint_last.pt"),
                                            overwrite=True)
    assert mode(tmp_path / "checkpoint_last.pt") == umask_022
    os.umask(0o077)
    atomic_write_text(str(tmp_path / "private.txt"), "x")
    assert mode(tmp_path / "private.txt") == 0o600  # the user's umask is respected, not widened


# ----------------------------------------------------------------------------- 5, 6, 10, 13: fairseq processes


def test_item05_summarize_with_another_dictionary_is_an_error(tiny_checkpoint, tiny_raw_dir, tiny_data_bin,
                                                              other_dict_data_bin, tmp_path, capsys):
    import shutil

    from summ_plugin.cli.summarize import main as summarize_main

    docs = os.path.join(tiny_raw_dir, "test.jsonl")
    out = tmp_path / "hyps.jsonl"
    # another size: was resized with a WARNING and wrote "The The The ..." with exit 0
    code, _, err = run_cli(summarize_main, ["--path", tiny_checkpoint, "--input", docs, "--output", str(out),
                                            "--data-bin", other_dict_data_bin, "--cpu", "--beam", "1"], capsys)
    assert code == 2
    assert_one_line_error(err, "not the one the model was trained with", "--data-bin")
    assert not out.exists()
    # the same size, other symbols (two entries swapped): also not the model's dictionary
    swapped = tmp_path / "bin"
    shutil.copytree(tiny_data_bin, swapped)
    lines = (swapped / "dict.source.txt").read_text().splitlines(keepends=True)
    lines[0], lines[1] = lines[1], lines[0]
    for side in ("source", "target"):
        (swapped / f"dict.{side}.txt").write_text("".join(lines))
    code, _, err = run_cli(summarize_main, ["--path", tiny_checkpoint, "--input", docs, "--output", str(out),
                                            "--data-bin", str(swapped), "--cpu", "--beam", "1"], capsys)
    assert code == 2
    assert_one_line_error(err, "differs from", "dict.source.txt")
    # a copy of the training data-bin elsewhere is the same dictionary: fine
    for side in ("source", "target"):
        shutil.copyfile(os.path.join(tiny_data_bin, f"dict.{side}.txt"), swapped / f"dict.{side}.txt")
    code, _, err = run_cli(summarize_main, ["--path", tiny_checkpoint, "--input", docs, "--output", str(out),
                                            "--data-bin", str(swapped), "--cpu", "--beam", "1", "--max-len-b", "4"],
                           capsys)
    assert code == 0, err


def fairseq_error_line(proc):
    from tests.test_hostile_inputs import _fairseq_lines

    assert proc.returncode != 0
    assert "Traceback" not in proc.stdout, proc.stdout[-4000:]
    (line,) = _fairseq_lines(proc.stdout)
    return line


@pytest.mark.usefixtures("fairseq_processes")
def test_item06_missing_restore_file_stops_training(tiny_data_bin, tmp_path):
    from tests._fairseq import fairseq_train

    typo = str(tmp_path / "bart.base" / "modle.pt")
    proc = fairseq_train(tiny_data_bin, str(tmp_path / "ckpt"), "--max-update", "1", "--restore-file", typo,
                         check=False)
    line = fairseq_error_line(proc)
    assert "RestoreError" in line and typo in line and "no such file" in line
    assert not os.path.exists(tmp_path / "ckpt" / "checkpoint_last.pt")


@pytest.mark.usefixtures("fairseq_processes")
def test_item10_fairseq_train_with_fewer_positions_than_the_data_is_refused(tiny_data_bin, tmp_path):
    from tests._fairseq import fairseq_train

    # tiny_data_bin was prepared for 96 source positions; the published recipe skips what does not fit
    proc = fairseq_train(tiny_data_bin, str(tmp_path / "ckpt"), "--max-update", "1", "--max-source-positions", "64",
                         "--skip-invalid-size-inputs-valid-test", check=False)
    line = fairseq_error_line(proc)
    assert "prepared for 96 source positions" in line and "--max-source-positions 64" in line


def test_item13_restore_file_of_another_architecture_is_one_line(tiny_data_bin, tiny_checkpoint, tmp_path):
    from tests._fairseq import fairseq_train

    proc = fairseq_train(tiny_data_bin, str(tmp_path / "ckpt"), "--max-update", "1", "--restore-file",
                         tiny_checkpoint, "--reset-optimizer", "--reset-dataloader",
                         "--encoder-ffn-embed-dim", "48", check=False)
    line = fairseq_error_line(proc)
    assert "RestoreError" in line and tiny_checkpoint in line and "does not fit" in line and "shapes do not fit" in line
