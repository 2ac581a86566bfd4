"""Issue 25 (hostile inputs, round two), items 1, 2, 3, 6, 8 (the warning), 11: nothing destroyed,
nothing silently wrong, one clear line. Each test reproduces the issue's case (it failed before
the fix); the item number is in the test's name. Tests that start fairseq processes are slow.
"""
import contextlib
import json
import os
import signal

import pytest

from summ_plugin.cli.eval_retrieval import main as eval_retrieval_main
from summ_plugin.cli.make_vocab import main as make_vocab_main
from summ_plugin.cli.prepare import main as prepare_main
from summ_plugin.cli.report import main as report_main
from summ_plugin.cli.score import main as score_main
from summ_plugin.cli.summarize import main as summarize_main
from summ_plugin.cli.train_selector import main as train_selector_main
from tests._prepare_fixtures import make_records, write_jsonl
from tests.test_hostile_inputs import assert_one_line_error
from tests.test_reliability import prepare_args, run_cli, train_file  # noqa: F401 (fixture)


def alias_of(source, tmp_path, how, name="alias.jsonl"):
    """``source`` under another name: the same path, a hard link or a symlink."""
    if how == "same path":
        return source
    alias = tmp_path / name
    (os.link if how == "hard link" else os.symlink)(source, alias)
    return alias


def snapshot(*paths):
    return {str(p): p.read_bytes() for p in paths}


@pytest.fixture
def scored_files(tmp_path):
    records = make_records(4, seed=5)
    refs = tmp_path / "refs.jsonl"
    hyps = tmp_path / "hyps.jsonl"
    write_jsonl(str(refs), records)
    write_jsonl(str(hyps), [{"id": r["id"], "hypothesis": r["summary"].split("\n")[0]} for r in records])
    return refs, hyps


# ----------------------------------------------------------------------------- 1: outputs onto inputs


@pytest.mark.parametrize("how", ["same path", "hard link", "symlink"])
@pytest.mark.parametrize("option,target", [("--json", "refs"), ("--per-sample", "hyps"), ("--json", "hyps")])
def test_item01_score_refuses_an_output_onto_an_input(option, target, how, scored_files, tmp_path, capsys):
    refs, hyps = scored_files
    before = snapshot(refs, hyps)
    out = alias_of(refs if target == "refs" else hyps, tmp_path, how)
    code, _, err = run_cli(score_main, ["--hyps", str(hyps), "--refs", str(refs), option, str(out),
                                        "--bootstrap", "0", "--quiet"], capsys)
    assert code == 2, err
    assert_one_line_error(err, "summ-score: error:", str(out), option, f"--{target}", "is the input file")
    assert snapshot(refs, hyps) == before


def test_item01_score_refuses_two_outputs_on_one_file(scored_files, tmp_path, capsys):
    refs, hyps = scored_files
    out = tmp_path / "scores.json"
    code, _, err = run_cli(score_main, ["--hyps", str(hyps), "--refs", str(refs), "--json", str(out),
                                        "--per-sample", str(out), "--bootstrap", "0", "--quiet"], capsys)
    assert code == 2
    assert_one_line_error(err, str(out), "--per-sample", "--json")
    assert not out.exists()


def test_item01_score_still_writes_to_distinct_paths(scored_files, tmp_path, capsys):
    refs, hyps = scored_files
    code, _, err = run_cli(score_main, ["--hyps", str(hyps), "--refs", str(refs), "--json",
                                        str(tmp_path / "s.json"), "--bootstrap", "0", "--quiet"], capsys)
    assert code == 0, err
    assert "rouge1" in json.loads((tmp_path / "s.json").read_text())["scores"]


@pytest.mark.parametrize("how", ["same path", "hard link", "symlink"])
@pytest.mark.parametrize("onto", ["--input", "--valid"])
def test_item01_train_selector_refuses_out_onto_an_input(onto, how, tmp_path, capsys):
    train = tmp_path / "train.jsonl"
    valid = tmp_path / "valid.jsonl"
    write_jsonl(str(train), make_records(6, seed=1))
    write_jsonl(str(valid), make_records(3, seed=2))
    before = snapshot(train, valid)
    out = alias_of(train if onto == "--input" else valid, tmp_path, how)
    code, _, err = run_cli(train_selector_main, ["--input", str(train), "--valid", str(valid), "--out", str(out),
                                                 "--log-level", "WARNING"], capsys)
    assert code == 2, err
    assert_one_line_error(err, "summ-train-selector: error:", str(out), "--out", onto)
    assert snapshot(train, valid) == before


@pytest.mark.parametrize("how", ["same path", "hard link", "symlink"])
def test_item01_eval_retrieval_refuses_json_onto_its_input(how, tmp_path, capsys):
    source = tmp_path / "test.jsonl"
    write_jsonl(str(source), make_records(3, seed=4))
    before = snapshot(source)
    out = alias_of(source, tmp_path, how)
    code, _, err = run_cli(eval_retrieval_main, ["--input", str(source), "--retrievers", "lead", "--json", str(out),
                                                 "--log-level", "WARNING"], capsys)
    assert code == 2, err
    assert_one_line_error(err, "summ-eval-retrieval: error:", str(out), "--json", "--input")
    assert snapshot(source) == before


def test_item01_eval_retrieval_refuses_json_onto_the_selector(tmp_path, capsys):
    source = tmp_path / "test.jsonl"
    write_jsonl(str(source), make_records(3, seed=4))
    selector = tmp_path / "selector.json"
    selector.write_text("{}")
    code, _, err = run_cli(eval_retrieval_main, ["--input", str(source), "--retrievers", "learned",
                                                 "--option", f"learned.selector={selector}", "--json", str(selector),
                                                 "--log-level", "WARNING"], capsys)
    assert code == 2, err
    assert_one_line_error(err, str(selector), "--json", "selector")
    assert selector.read_text() == "{}"


@pytest.mark.parametrize("how", ["same path", "hard link", "symlink"])
@pytest.mark.parametrize("skip", [False, True])
def test_item01_prepare_convert_only_refuses_its_own_input(how, skip, tmp_path, capsys):
    source = tmp_path / "train.csv"
    source.write_text("id,document,summary\na,One document here.,A summary.\nb,,bad record without a document\n")
    before = snapshot(source)
    out = alias_of(source, tmp_path, how, name="alias.csv")
    argv = ["--train", str(source), "--convert-only", str(out), "--log-level", "WARNING"]
    code, _, err = run_cli(prepare_main, argv + (["--on-bad-record", "skip"] if skip else []), capsys)
    assert code == 2, err
    assert_one_line_error(err, "summ-prepare: error:", str(out), "--convert-only", "--train")
    assert snapshot(source) == before


def test_item01_prepare_convert_only_into_an_input_directory_is_refused(tmp_path, capsys):
    raw = tmp_path / "raw"
    write_jsonl(str(raw / "train.jsonl"), make_records(3, seed=1))
    before = snapshot(raw / "train.jsonl")
    code, _, err = run_cli(prepare_main, ["--input", str(raw), "--convert-only", str(raw / "train.jsonl"),
                                          "--log-level", "WARNING"], capsys)
    assert code == 2, err
    assert_one_line_error(err, str(raw / "train.jsonl"), "--convert-only", "--input")
    assert snapshot(raw / "train.jsonl") == before


def test_item01_summarize_refuses_output_onto_the_selector(tmp_path, capsys):
    source = tmp_path / "docs.jsonl"
    write_jsonl(str(source), make_records(2, seed=3))
    selector = tmp_path / "selector.json"
    selector.write_text("{}")
    code, _, err = run_cli(summarize_main, ["--path", str(tmp_path / "model.pt"), "--input", str(source),
                                            "--retriever", "learned", "--retriever-options",
                                            json.dumps({"selector": str(selector)}), "--output", str(selector),
                                            "--cpu"], capsys)
    assert code == 2
    assert_one_line_error(err, str(selector), "--output", "selector")
    assert selector.read_text() == "{}"


def test_item01_make_vocab_refuses_to_write_its_input(tmp_path, capsys):
    out = tmp_path / "vocab"
    out.mkdir()
    corpus = out / "dict.txt"  # a corpus the user named like an output of the tool
    write_jsonl(str(corpus), make_records(3, seed=1))
    before = snapshot(corpus)
    code, _, err = run_cli(make_vocab_main, ["--input", str(corpus), "--vocab-size", "300", "--out", str(out),
                                             "--overwrite", "--log-level", "WARNING"], capsys)
    assert code == 2, err
    assert_one_line_error(err, str(corpus), "--out", "--input")
    assert snapshot(corpus) == before


def test_item01_report_refuses_to_write_over_its_log(tmp_path, capsys):
    out_dir = tmp_path / "report"
    out_dir.mkdir()
    log = out_dir / "report.md"
    log.write_text('{"epoch": 1, "valid_loss": "3.1"}\n')
    before = snapshot(log)
    code, _, err = run_cli(report_main, ["--log", str(log), "--out-dir", str(out_dir), "--quiet"], capsys)
    assert code == 2, err
    assert_one_line_error(err, str(log), "--out-dir", "--log")
    assert snapshot(log) == before


def test_item01_fix_vocab_refuses_out_onto_the_dict(tmp_path, capsys):
    from summ_plugin.cli.fix_vocab import main as fix_vocab_main

    checkpoint = tmp_path / "model.pt"
    checkpoint.write_bytes(b"not read")
    dictionary = tmp_path / "dict.txt"
    dictionary.write_text("a 1\n")
    code, _, err = run_cli(fix_vocab_main, ["--checkpoint", str(checkpoint), "--dict", str(dictionary),
                                            "--out", str(dictionary)], capsys)
    assert code == 2
    assert_one_line_error(err, str(dictionary), "--out", "--dict")
    assert dictionary.read_text() == "a 1\n"


# ----------------------------------------------------------------------------- 2: --overwrite replaces a data-bin only


def tree(path):
    """Every file under ``path`` with its bytes."""
    out = {}
    for root, _, files in os.walk(path):
        for name in files:
            full = os.path.join(root, name)
            out[os.path.relpath(full, path)] = open(full, "rb").read()
    return out


def test_item02_prepare_input_dir_as_destdir_is_refused(tiny_vocab, tmp_path, capsys):
    raw = tmp_path / "raw"
    write_jsonl(str(raw / "train.jsonl"), make_records(6, seed=1))
    write_jsonl(str(raw / "valid.jsonl"), make_records(3, seed=2))
    before = tree(raw)
    argv = prepare_args(tiny_vocab, raw, raw / "train.jsonl", "--overwrite")
    argv[argv.index("--train"):argv.index("--train") + 2] = ["--input", str(raw)]
    code, _, err = run_cli(prepare_main, argv, capsys)
    assert code == 2, err
    assert_one_line_error(err, str(raw), "--destdir", "--input")
    assert tree(raw) == before


@pytest.mark.parametrize("where", ["holds", "inside"])
def test_item02_prepare_destdir_holding_or_inside_an_input_is_refused(where, tiny_vocab, tmp_path, capsys):
    if where == "holds":
        dest = tmp_path / "bin"
        train = write_jsonl(str(dest / "raw" / "train.jsonl"), make_records(6, seed=1))
        argv = prepare_args(tiny_vocab, dest, train, "--overwrite")
    else:
        raw = tmp_path / "raw"
        train = write_jsonl(str(raw / "train.jsonl"), make_records(6, seed=1))
        dest = raw / "bin"
        argv = prepare_args(tiny_vocab, dest, train)
        argv[argv.index("--train"):argv.index("--train") + 2] = ["--input", str(raw)]
    before = open(train, "rb").read()
    code, _, err = run_cli(prepare_main, argv, capsys)
    assert code == 2, err
    assert_one_line_error(err, str(dest), "--destdir", "holds the input" if where == "holds" else "lies inside")
    assert open(train, "rb").read() == before


def test_item02_prepare_library_refuses_a_destdir_that_holds_an_input(tiny_vocab, tmp_path):
    from summ_plugin.data.config import PrepareConfig
    from summ_plugin.data.prepare import prepare_data_bin
    from summ_plugin.errors import UserError

    dest = tmp_path / "bin"
    train = write_jsonl(str(dest / "train.jsonl"), make_records(6, seed=1))
    config = PrepareConfig(inputs={"train": train}, destdir=str(dest), encoder_json=tiny_vocab["encoder_json"],
                           vocab_bpe=tiny_vocab["vocab_bpe"], dict_path=tiny_vocab["dict"], retriever="lead",
                           overwrite=True)
    with pytest.raises(UserError, match="holds the input"):
        prepare_data_bin(config)
    assert os.path.exists(train)


@pytest.mark.parametrize("extra", ["checkpoints/checkpoint_best.pt", "notes.txt", "shard0/notes.txt"])
def test_item02_overwrite_never_deletes_what_summ_prepare_did_not_write(extra, tiny_vocab, train_file, tmp_path,
                                                                       capsys):
    dest = tmp_path / "bin"
    shards = ["--shards", "2"] if extra.startswith("shard0") else []
    assert run_cli(prepare_main, prepare_args(tiny_vocab, dest, train_file, *shards), capsys)[0] == 0
    (dest / extra).parent.mkdir(parents=True, exist_ok=True)
    (dest / extra).write_bytes(b"precious")
    before = tree(dest)
    code, _, err = run_cli(prepare_main, prepare_args(tiny_vocab, dest, train_file, "--overwrite", *shards), capsys)
    assert code == 2, err
    assert_one_line_error(err, str(dest), "did not write", extra.split("/")[0] if "checkpoints" in extra else extra)
    assert tree(dest) == before


def test_item02_overwrite_replaces_a_data_bin_with_its_own_files(tiny_vocab, train_file, tmp_path, capsys):
    dest = tmp_path / "bin"
    bad = write_jsonl(str(tmp_path / "train2.jsonl"), make_records(5, seed=1) + [{"id": "x", "summary": "s"}])
    for shards in ("1", "2", "2", "1"):  # a data-bin with shards and skipped records is replaced
        argv = prepare_args(tiny_vocab, dest, bad, "--overwrite", "--shards", shards, "--on-bad-record", "skip")
        code, _, err = run_cli(prepare_main, argv, capsys)
        assert code == 0, err
        assert os.path.exists(dest / "train.skipped.jsonl")
        assert os.path.isdir(dest / "shard1") == (shards == "2")


def test_item02_a_file_added_to_the_data_bin_during_the_run_is_kept(tiny_vocab, train_file, tmp_path, capsys,
                                                                   monkeypatch):
    import summ_plugin.data.prepare as prepare_module

    dest = tmp_path / "bin"
    assert run_cli(prepare_main, prepare_args(tiny_vocab, dest, train_file), capsys)[0] == 0
    real_prepare_split = prepare_module._prepare_split

    def prepare_split_then_someone_adds_a_file(*args, **kwargs):
        result = real_prepare_split(*args, **kwargs)
        (dest / "added.txt").write_text("precious")
        return result

    monkeypatch.setattr(prepare_module, "_prepare_split", prepare_split_then_someone_adds_a_file)
    code, _, err = run_cli(prepare_main, prepare_args(tiny_vocab, dest, train_file, "--overwrite"), capsys)
    assert code == 2
    assert_one_line_error(err, str(dest), "changed while this run was working")
    assert (dest / "added.txt").read_text() == "precious"


# ----------------------------------------------------------------------------- 3: --restore-file that is not a file


def restore_cfg(tmp_path, **values):
    from types import SimpleNamespace

    base = {"restore_file": "checkpoint_last.pt", "save_dir": str(tmp_path / "ckpt"), "continue_once": None,
            "finetune_from_model": None}
    base.update(values)
    return SimpleNamespace(**base)


def test_item03_restore_file_that_is_a_directory_is_named(tmp_path):
    from summ_plugin.restore_checks import restore_file_problem

    bart = tmp_path / "bart.base"
    bart.mkdir()
    (bart / "model.pt").write_bytes(b"weights")
    problem = restore_file_problem(restore_cfg(tmp_path, restore_file=str(bart)), "")
    assert f"--restore-file {bart}: is a directory" in problem and str(bart / "model.pt") in problem
    assert restore_file_problem(restore_cfg(tmp_path, restore_file=str(bart / "model.pt")), "") is None


@pytest.mark.parametrize("option", ["finetune_from_model", "continue_once", "checkpoint_last"])
def test_item03_every_restore_path_that_is_a_directory_is_named(option, tmp_path):
    from summ_plugin.restore_checks import restore_file_problem

    directory = tmp_path / "ckpt" / "checkpoint_last.pt" if option == "checkpoint_last" else tmp_path / "dir"
    directory.mkdir(parents=True)
    cfg = restore_cfg(tmp_path, **({} if option == "checkpoint_last" else {option: str(directory)}))
    problem = restore_file_problem(cfg, "")
    assert problem is not None and f"{directory}: is a directory" in problem
    # the default with nothing there is a first launch, not an error
    assert restore_file_problem(restore_cfg(tmp_path / "fresh"), "") is None


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_item03_unreadable_restore_file_is_named(tmp_path):
    from summ_plugin.restore_checks import restore_file_problem

    checkpoint = tmp_path / "model.pt"
    checkpoint.write_bytes(b"weights")
    checkpoint.chmod(0)
    problem = restore_file_problem(restore_cfg(tmp_path, restore_file=str(checkpoint)), "")
    assert problem is not None and "cannot be read" in problem and str(checkpoint) in problem


@pytest.mark.slow
@pytest.mark.usefixtures("fairseq_processes")
def test_item03_fairseq_train_restore_file_directory_stops(tiny_data_bin, tmp_path):
    from tests._fairseq import fairseq_train
    from tests.test_reliability import fairseq_error_line

    bart = tmp_path / "bart.base"
    bart.mkdir()
    proc = fairseq_train(tiny_data_bin, str(tmp_path / "ckpt"), "--max-update", "1", "--restore-file", str(bart),
                         check=False)
    line = fairseq_error_line(proc)
    assert "RestoreError" in line and f"{bart}: is a directory" in line
    assert "No existing checkpoint found" not in proc.stdout
    assert not os.path.exists(tmp_path / "ckpt" / "checkpoint_last.pt")


@pytest.mark.slow
@pytest.mark.usefixtures("fairseq_processes")
def test_item03_hydra_checkpoint_restore_file_directory_stops(tiny_data_bin, tmp_path):
    from tests._fairseq import PLUGIN_DIR, REPO, run, script

    bart = tmp_path / "bart.base"
    bart.mkdir()
    save = tmp_path / "hydra_ckpt"
    proc = run([
        script("fairseq-hydra-train"), "--config-dir", os.path.join(REPO, "conf"), "--config-name", "tiny",
        f"task.data={tiny_data_bin}", f"common.user_dir={PLUGIN_DIR}", f"checkpoint.save_dir={save}",
        f"checkpoint.restore_file={bart}", "optimization.max_update=1",
    ], cwd=str(tmp_path), check=False)
    assert proc.returncode != 0
    assert f"{bart}: is a directory" in proc.stdout
    assert "No existing checkpoint found" not in proc.stdout
    assert not (save / "checkpoint_last.pt").exists()


# ----------------------------------------------------------------------------- 6: corrupt prepare.json, invisible text, empty vocab input


def copy_data_bin(tiny_data_bin, tmp_path):
    import shutil

    data_bin = tmp_path / "data-bin"
    shutil.copytree(tiny_data_bin, data_bin)
    return data_bin


def break_manifest(data_bin, how):
    manifest = data_bin / "prepare.json"
    if how == "directory":
        manifest.unlink()
        manifest.mkdir()
    elif how == "dangling link":
        manifest.unlink()
        manifest.symlink_to(data_bin / "gone.json")
    elif how == "truncated":
        manifest.write_text(manifest.read_text()[:40])
    else:  # a value no summ-prepare writes
        obj = json.loads(manifest.read_text())
        obj["budget"]["max_source_positions"] = {"negative budget": -5, "zero budget": 0}[how]
        manifest.write_text(json.dumps(obj))


@pytest.mark.parametrize("how", ["directory", "dangling link", "truncated", "negative budget", "zero budget"])
def test_item06_task_refuses_a_corrupt_prepare_json(how, tiny_data_bin, tmp_path):
    from summ_plugin.data.data_bin import DataBinError
    from summ_plugin.tasks.positions_check import check_positions_fit_data

    data_bin = copy_data_bin(tiny_data_bin, tmp_path)
    break_manifest(data_bin, how)
    with pytest.raises(DataBinError) as raised:
        check_positions_fit_data(str(data_bin), 1024, "task")  # what setup_task and build_model call
    assert str(data_bin / "prepare.json") in str(raised.value)


def test_item06_data_bin_manifest_with_zero_shards_is_refused(tiny_data_bin, tmp_path):
    from summ_plugin.data.data_bin import DataBin, DataBinError

    data_bin = copy_data_bin(tiny_data_bin, tmp_path)
    obj = json.loads((data_bin / "prepare.json").read_text())
    obj["shards"] = 0
    (data_bin / "prepare.json").write_text(json.dumps(obj))
    with pytest.raises(DataBinError, match="'shards': expected at least 1"):
        DataBin.locate(str(data_bin))


@pytest.mark.slow
@pytest.mark.usefixtures("fairseq_processes")
def test_item06_fairseq_train_stops_on_a_prepare_json_that_is_a_directory(tiny_data_bin, tmp_path):
    from tests._fairseq import fairseq_train
    from tests.test_reliability import fairseq_error_line

    data_bin = copy_data_bin(tiny_data_bin, tmp_path)
    break_manifest(data_bin, "directory")
    # the model has fewer positions than the data was prepared for: the skipped check let this train
    proc = fairseq_train(str(data_bin), str(tmp_path / "ckpt"), "--max-update", "1", "--max-source-positions", "32",
                         "--skip-invalid-size-inputs-valid-test", check=False)
    line = fairseq_error_line(proc)
    assert "DataBinError" in line and str(data_bin / "prepare.json") in line
    assert not os.path.exists(tmp_path / "ckpt" / "checkpoint_last.pt")


ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff"


@pytest.mark.parametrize("field", ["document", "summary"])
def test_item06_invisible_only_text_is_a_bad_record(field, tiny_vocab, tmp_path, capsys):
    records = make_records(6, seed=1)
    records[2][field] = ZERO_WIDTH + " \u200b"
    train = write_jsonl(str(tmp_path / "train.jsonl"), records)
    dest = tmp_path / "bin"
    code, _, err = run_cli(prepare_main, prepare_args(tiny_vocab, dest, train), capsys)
    assert code == 2
    assert_one_line_error(err, f"{train}:3", f"empty {field}", "invisible")
    assert not dest.exists()
    code, _, err = run_cli(prepare_main, prepare_args(tiny_vocab, dest, train, "--on-bad-record", "skip"), capsys)
    assert code == 0, err
    skipped = [json.loads(line) for line in (dest / "train.skipped.jsonl").read_text().splitlines()]
    assert [s["id"] for s in skipped] == [records[2]["id"]]
    assert sum(1 for _ in open(dest / "train.meta.jsonl")) == 5


def test_item06_invisible_only_documents_are_bad_records_for_the_selector_tools(tmp_path, capsys):
    records = make_records(6, seed=1)
    records[1]["documents"] = [ZERO_WIDTH, "\u00ad"]
    del records[1]["document"]
    train = write_jsonl(str(tmp_path / "train.jsonl"), records)
    code, _, err = run_cli(train_selector_main, ["--input", train, "--out", str(tmp_path / "s.json"),
                                                 "--log-level", "WARNING"], capsys)
    assert code == 2
    assert_one_line_error(err, f"{train}:2", "empty document", "invisible")
    assert not (tmp_path / "s.json").exists()


@pytest.mark.parametrize("content", ["", "\n\n", json.dumps({"id": "a", "document": ZERO_WIDTH}) + "\n"])
def test_item06_make_vocab_on_empty_input_refuses_and_writes_nothing(content, tmp_path, capsys):
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text(content)
    out = tmp_path / "vocab"
    code, _, err = run_cli(make_vocab_main, ["--input", str(corpus), "--vocab-size", "300", "--out", str(out),
                                             "--on-bad-record", "skip", "--log-level", "WARNING"], capsys)
    assert code == 2, err
    assert_one_line_error(err, str(corpus), "no text")
    assert not out.exists() or os.listdir(out) == []


@pytest.mark.parametrize("failure", ["bad record", "disk full while counting"])
def test_item06_failed_make_vocab_leaves_nothing_and_the_rerun_works(failure, tmp_path, capsys, monkeypatch):
    import errno

    import summ_plugin.data.bpe as bpe_module

    good = write_jsonl(str(tmp_path / "a.jsonl"), make_records(6, seed=1))
    bad = tmp_path / "b.jsonl"
    bad.write_text('{"id": "x", "document": "fine text", "summary": "s"}\n'
                   + ('{"id": \n' if failure == "bad record" else ""))
    out = tmp_path / "vocab"
    argv = ["--input", f"{good},{bad}", "--vocab-size", "300", "--out", str(out), "--log-level", "WARNING"]
    with monkeypatch.context() as patch:
        if failure != "bad record":  # the BPE is trained; writing dict.txt fails
            def full_disk(*args, **kwargs):
                raise OSError(errno.ENOSPC, "No space left on device", str(out / "dict.txt"))

            patch.setattr(bpe_module, "build_dictionary", full_disk)
        code, _, err = run_cli(make_vocab_main, argv, capsys)
    assert code == 2
    assert_one_line_error(err, f"{bad}:2" if failure == "bad record" else "no space left on device")
    assert not out.exists() or os.listdir(out) == []  # no encoder.json / vocab.bpe, no scratch directory
    bad.write_text('{"id": "x", "document": "fine text", "summary": "s"}\n')
    code, _, err = run_cli(make_vocab_main, argv, capsys)
    assert code == 0, err  # not "already holds encoder.json"
    assert sorted(os.listdir(out)) == ["dict.txt", "encoder.json", "vocab.bpe"]


def test_item06_make_vocab_with_given_bpe_files_in_out_recounts_the_dictionary(tiny_vocab, tmp_path, capsys):
    import shutil

    out = tmp_path / "vocab"
    out.mkdir()
    for key, name in (("encoder_json", "encoder.json"), ("vocab_bpe", "vocab.bpe")):
        shutil.copyfile(tiny_vocab[key], out / name)
    corpus = write_jsonl(str(tmp_path / "c.jsonl"), make_records(3, seed=4))
    before = (out / "encoder.json").read_bytes()
    code, _, err = run_cli(make_vocab_main, ["--input", corpus, "--encoder-json", str(out / "encoder.json"),
                                             "--vocab-bpe", str(out / "vocab.bpe"), "--out", str(out), "--overwrite",
                                             "--log-level", "WARNING"], capsys)
    assert code == 0, err
    assert (out / "encoder.json").read_bytes() == before
    assert (out / "dict.txt").exists()


# ----------------------------------------------------------------------------- 11: integers past Python's 4300-digit limit

HUGE = "9" * 5000  # int() refuses more than 4300 digits (sys.get_int_max_str_digits)


def with_huge_integer_line(path, records, at=2, key="id"):
    """JSONL ``records`` with line ``at`` (1-based) holding a 5000-digit integer under ``key``."""
    lines = [json.dumps(r) for r in records]
    broken = dict(records[at - 1])
    broken[key] = 0
    lines[at - 1] = json.dumps(broken).replace(f'"{key}": 0', f'"{key}": {HUGE}')
    path.write_text("\n".join(lines) + "\n")
    return str(path)


@pytest.mark.parametrize("key", ["id", "summary"])
def test_item11_prepare_names_the_line_and_skips_it(key, tiny_vocab, tmp_path, capsys):
    train = with_huge_integer_line(tmp_path / "train.jsonl", make_records(6, seed=1), key=key)
    dest = tmp_path / "bin"
    code, _, err = run_cli(prepare_main, prepare_args(tiny_vocab, dest, train), capsys)
    assert code == 2
    assert_one_line_error(err, f"summ-prepare: error: {train}:2:", "4300 digits")
    assert not dest.exists()
    code, _, err = run_cli(prepare_main, prepare_args(tiny_vocab, dest, train, "--on-bad-record", "skip"), capsys)
    assert code == 0, err
    skipped = [json.loads(line) for line in (dest / "train.skipped.jsonl").read_text().splitlines()]
    assert [s["location"] for s in skipped] == [f"{train}:2"]


def test_item11_train_selector_and_eval_retrieval_name_the_line(tmp_path, capsys):
    train = with_huge_integer_line(tmp_path / "train.jsonl", make_records(6, seed=1), at=4)
    code, _, err = run_cli(train_selector_main, ["--input", train, "--out", str(tmp_path / "s.json"),
                                                 "--log-level", "WARNING"], capsys)
    assert code == 2
    assert_one_line_error(err, f"summ-train-selector: error: {train}:4:", "4300 digits")
    code, _, err = run_cli(eval_retrieval_main, ["--input", train, "--retrievers", "lead", "--log-level", "WARNING"],
                           capsys)
    assert code == 2
    assert_one_line_error(err, f"summ-eval-retrieval: error: {train}:4:", "4300 digits")
    code, out, err = run_cli(eval_retrieval_main, ["--input", train, "--retrievers", "lead", "--on-bad-record", "skip",
                                                   "--log-level", "WARNING"], capsys)
    assert code == 0, err
    assert "5 records" in out


def test_item11_raw_directory_path_names_the_line(tiny_vocab, tmp_path):
    import shutil

    from summ_plugin.tasks.retrieve_summarize import RetrieveSummarizeConfig, RetrieveSummarizeTask
    from summ_plugin.errors import UserError

    raw = tmp_path / "raw"
    raw.mkdir()
    train = with_huge_integer_line(raw / "train.jsonl", make_records(6, seed=1), at=3)
    write_jsonl(str(raw / "valid.jsonl"), make_records(3, seed=2))
    for key, name in (("encoder_json", "encoder.json"), ("vocab_bpe", "vocab.bpe"), ("dict", "dict.txt")):
        shutil.copyfile(tiny_vocab[key], raw / name)
    cfg = RetrieveSummarizeConfig(data=str(raw), retriever="lead", train_retriever="oracle", max_source_positions=96,
                                  raw_cache_dir=str(tmp_path / "cache"))
    with pytest.raises(UserError) as raised:
        RetrieveSummarizeTask.setup_task(cfg)
    assert f"{train}:3" in str(raised.value) and "4300 digits" in str(raised.value)


def test_item11_score_and_make_vocab_name_the_line(scored_files, tmp_path, capsys):
    refs, hyps = scored_files
    rows = [json.loads(line) for line in hyps.read_text().splitlines()]
    bad_hyps = with_huge_integer_line(tmp_path / "bad_hyps.jsonl", rows, at=3)
    code, _, err = run_cli(score_main, ["--hyps", bad_hyps, "--refs", str(refs), "--bootstrap", "0", "--quiet"], capsys)
    assert code == 2
    assert_one_line_error(err, f"summ-score: error: {bad_hyps}:3", "4300 digits")
    corpus = with_huge_integer_line(tmp_path / "corpus.jsonl", make_records(4, seed=1), at=2)
    code, _, err = run_cli(make_vocab_main, ["--input", corpus, "--vocab-size", "300", "--out", str(tmp_path / "v"),
                                             "--log-level", "WARNING"], capsys)
    assert code == 2
    assert_one_line_error(err, f"summ-make-vocab: error: {corpus}:2", "4300 digits")


def test_item11_csv_documents_cell_with_a_huge_integer_is_a_bad_record(tiny_vocab, tmp_path, capsys):
    train = tmp_path / "train.csv"
    train.write_text(f"id,documents,summary\na,\"[\"\"One doc.\"\"]\",Sum.\nb,[{HUGE}],Sum.\n")
    code, _, err = run_cli(prepare_main, prepare_args(tiny_vocab, tmp_path / "bin", train), capsys)
    assert code == 2
    assert_one_line_error(err, str(train), "column 'documents'", "4300 digits")


@pytest.mark.parametrize("which", ["prepare.json", "selector", "encoder.json", "retriever option"])
def test_item11_json_files_and_options_with_a_huge_integer_are_one_line(which, tiny_vocab, tiny_data_bin, tmp_path,
                                                                       capsys):
    from summ_plugin.data.data_bin import DataBin, DataBinError
    from summ_plugin.retrieval.learned import LearnedSelector

    bad = tmp_path / "bad.json"
    bad.write_text('{\n  "format": 1,\n  "n": ' + HUGE + "\n}\n")
    if which == "prepare.json":
        data_bin = copy_data_bin(tiny_data_bin, tmp_path)
        (data_bin / "prepare.json").write_bytes(bad.read_bytes())
        with pytest.raises(DataBinError, match=r"prepare.json:3: .*4300 digits"):
            DataBin.locate(str(data_bin))
    elif which == "selector":
        with pytest.raises(ValueError, match=r"bad.json: .*4300 digits.*line 3"):
            LearnedSelector.load(str(bad))
    else:
        train = write_jsonl(str(tmp_path / "train.jsonl"), make_records(4, seed=1))
        argv = prepare_args(tiny_vocab, tmp_path / "bin", train)
        if which == "encoder.json":
            argv[argv.index("--encoder-json") + 1] = str(bad)
        else:
            argv[argv.index("--retriever") + 1] = "bm25"
            argv += ["--retriever-options", '{"k1": ' + HUGE + "}"]
        code, _, err = run_cli(prepare_main, argv, capsys)
        assert code == 2
        if which == "encoder.json":
            line = assert_one_line_error(err, str(bad), "4300 digits", "line 3")
        else:  # argparse's way: the usage, then the error line
            assert "Traceback" not in err
            line = err.strip().splitlines()[-1]
            assert "--retriever-options" in line and "4300 digits" in line
        assert len(line) < 400  # not the 5000 digits back


# ----------------------------------------------------------------------------- 8: (nearly) identical hypotheses are flagged

COLLAPSED = "the council said the plan would be approved ."  # what a model that ignores its input repeats


def hyps_file(path, refs, texts):
    ids = [json.loads(line)["id"] for line in refs.read_text().splitlines()]
    write_jsonl(str(path), [{"id": i, "hypothesis": t} for i, t in zip(ids, texts)])
    return path


@pytest.fixture
def many_refs(tmp_path):
    refs = tmp_path / "refs24.jsonl"
    write_jsonl(str(refs), make_records(24, seed=7))
    return refs


def test_item08_distinct_output_ratio():
    from summ_plugin.scoring import output_diversity

    same = output_diversity([COLLAPSED] * 23 + ["The Council said  the plan would be approved ."])
    assert (same.n, same.distinct, same.most_common_count) == (24, 1, 24)  # case and spaces do not count
    assert same.collapsed and same.ratio == pytest.approx(1 / 24)
    varied = output_diversity([f"summary number {i}" for i in range(24)])
    assert not varied.collapsed and varied.ratio == 1.0
    # 12 distinct of 24 (ratio 0.5): flagged; 13 of 24: not
    assert output_diversity(["a"] * 13 + [f"s{i}" for i in range(11)]).collapsed
    assert not output_diversity(["a"] * 12 + [f"s{i}" for i in range(12)]).collapsed
    assert not output_diversity(["a", "a", "a"]).collapsed  # too few to tell


def test_item08_score_warns_when_the_hypotheses_are_all_one_summary(many_refs, tmp_path, capsys):
    hyps = hyps_file(tmp_path / "hyps.jsonl", many_refs, [COLLAPSED] * 24)
    out = tmp_path / "scores.json"
    code, stdout, err = run_cli(score_main, ["--hyps", str(hyps), "--refs", str(many_refs), "--json", str(out),
                                             "--bootstrap", "0", "--quiet"], capsys)
    assert code == 0, err
    assert "only 1 distinct of 24 hypotheses" in err and "distinct-output ratio 0.04" in err
    report = json.loads(out.read_text())
    assert report["outputs"] == {"n": 24, "distinct": 1, "distinct_ratio": round(1 / 24, 4), "most_common_count": 24,
                                 "collapsed": True}


def test_item08_score_is_silent_on_varied_hypotheses(many_refs, tmp_path, capsys):
    refs = [json.loads(line) for line in many_refs.read_text().splitlines()]
    hyps = hyps_file(tmp_path / "hyps.jsonl", many_refs, [r["summary"].split("\n")[0] for r in refs])
    code, _, err = run_cli(score_main, ["--hyps", str(hyps), "--refs", str(many_refs), "--bootstrap", "0", "--quiet"],
                           capsys)
    assert code == 0, err
    assert "distinct" not in err


def test_item08_report_shows_the_distinct_output_ratio_and_warns(many_refs, tmp_path, capsys):
    from tests.test_report import REAL_TRANSLATION_LOG

    log = tmp_path / "train.log"
    log.write_text(REAL_TRANSLATION_LOG, encoding="utf-8")
    hyps = hyps_file(tmp_path / "test.hyps.jsonl", many_refs, [COLLAPSED] * 22 + ["other one", "another"])
    out = tmp_path / "rep"
    code, _, err = run_cli(report_main, ["--log", str(log), "--out-dir", str(out), "--hyps", str(hyps)], capsys)
    assert code == 0, err
    assert "only 3 distinct of 24 hypotheses" in err
    text = (out / "report.md").read_text()
    assert f"24 summaries in `{hyps}`, 3 distinct (distinct-output ratio 0.12)" in text
    assert "**Warning**" in text and "(nearly) all the same summary" in text
    varied = hyps_file(tmp_path / "varied.jsonl", many_refs, [f"summary {i}" for i in range(24)])
    code, _, err = run_cli(report_main, ["--log", str(log), "--out-dir", str(out), "--hyps", str(varied)], capsys)
    assert code == 0, err
    text = (out / "report.md").read_text()
    assert "24 distinct (distinct-output ratio 1.00)" in text and "**Warning**" not in text


def test_item08_run_sh_gives_the_report_the_demo_summaries():
    from tests._fairseq import REPO

    with open(os.path.join(REPO, "run.sh"), encoding="utf-8") as handle:
        script = handle.read()
    report_call = script[script.index("summ-report --log"):].split("\n  echo", 1)[0]
    assert '--hyps "$work/test.hyps.jsonl"' in report_call


# ----------------------------------------------------------------------------- found by attacking every file option


class Hung(Exception):
    pass


@contextlib.contextmanager
def fails_if_blocked(seconds=20):
    """A hang (a FIFO opened without a writer) becomes a test failure, not a stuck suite."""
    def on_alarm(signum, frame):
        raise Hung(f"still blocked after {seconds} s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def test_attack_a_pipe_as_input_is_refused_at_once(tiny_vocab, tmp_path, capsys):
    """A FIFO (or <(zcat ...)) is read more than once (layout, records, checksum): the second read
    found it empty ("malformed JSON" at line 1), and a FIFO without a writer blocked forever."""
    fifo = tmp_path / "train.jsonl"
    os.mkfifo(fifo)
    with fails_if_blocked():
        code, _, err = run_cli(prepare_main, prepare_args(tiny_vocab, tmp_path / "bin", fifo), capsys)
    assert code == 2
    assert_one_line_error(err, str(fifo), "not a regular file")
    with fails_if_blocked():
        code, _, err = run_cli(make_vocab_main, ["--input", str(fifo), "--vocab-size", "300", "--out",
                                                 str(tmp_path / "v"), "--log-level", "WARNING"], capsys)
    assert code == 2
    assert_one_line_error(err, str(fifo), "not a regular file")


def test_attack_a_directory_named_like_a_file_is_named_as_such(tiny_vocab, tmp_path, capsys):
    directory = tmp_path / "train.jsonl"
    directory.mkdir()
    code, _, err = run_cli(prepare_main, prepare_args(tiny_vocab, tmp_path / "bin", directory), capsys)
    assert code == 2
    assert_one_line_error(err, str(directory), "is a directory, not a jsonl file")  # not "no .story files found"


def test_attack_output_onto_a_pipe_or_device_is_written_to_it_not_replaced(tmp_path):
    """An output renamed onto /dev/null replaced the device node with a regular file (as root)."""
    import stat
    import threading

    from summ_plugin.atomic import atomic_write_text, is_stream

    assert is_stream("/dev/null") and is_stream("/dev/stdout") and not is_stream(str(tmp_path / "x.json"))
    fifo = tmp_path / "out.fifo"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(open(fifo).read()), daemon=True)
    reader.start()
    with fails_if_blocked():
        atomic_write_text(str(fifo), '{"n": 1}\n')
    reader.join(timeout=10)
    assert received == ['{"n": 1}\n']
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)  # still the pipe


def test_attack_a_symlinked_output_replaces_its_target_and_keeps_the_link(scored_files, tmp_path, capsys):
    refs, hyps = scored_files
    target = tmp_path / "elsewhere" / "scores.json"
    target.parent.mkdir()
    target.write_text("old")
    link = tmp_path / "scores.json"
    link.symlink_to(target)
    code, _, err = run_cli(score_main, ["--hyps", str(hyps), "--refs", str(refs), "--json", str(link),
                                        "--bootstrap", "0", "--quiet"], capsys)
    assert code == 0, err
    assert link.is_symlink() and "rouge1" in json.loads(target.read_text())["scores"]


@pytest.mark.parametrize("tool", ["score", "report", "make-vocab", "prepare"])
def test_attack_an_output_under_a_file_is_one_line(tool, scored_files, tiny_vocab, tmp_path, capsys):
    refs, hyps = scored_files
    blocker = tmp_path / "notes.txt"
    blocker.write_text("a file, not a directory")
    out = blocker / "sub" / "out"
    if tool == "score":
        main, argv = score_main, ["--hyps", str(hyps), "--refs", str(refs), "--json", str(out), "--bootstrap", "0"]
    elif tool == "report":
        from tests.test_report import REAL_TRANSLATION_LOG

        log = tmp_path / "train.log"
        log.write_text(REAL_TRANSLATION_LOG)
        main, argv = report_main, ["--log", str(log), "--out-dir", str(out)]
    elif tool == "make-vocab":
        main, argv = make_vocab_main, ["--input", str(refs), "--vocab-size", "300", "--out", str(out)]
    else:
        main, argv = prepare_main, prepare_args(tiny_vocab, out, refs)
    code, _, err = run_cli(main, argv, capsys)
    assert code == 2, err
    assert_one_line_error(err, f"{blocker} is a file, not a directory")
    assert blocker.read_text() == "a file, not a directory"


def test_attack_fix_vocab_dictionary_that_is_not_text_is_one_line(tmp_path, capsys):
    from summ_plugin.cli.fix_vocab import main as fix_vocab_main

    checkpoint = tmp_path / "model.pt"
    checkpoint.write_bytes(b"not read")
    garbage = tmp_path / "dict.txt"
    garbage.write_bytes(bytes(range(256)) * 4)
    code, _, err = run_cli(fix_vocab_main, ["--checkpoint", str(checkpoint), "--dict", str(garbage),
                                            "--out", str(tmp_path / "out.pt")], capsys)
    assert code == 2
    assert_one_line_error(err, str(garbage), "bad dictionary")


def test_attack_export_never_replaces_a_named_bpe_file_by_another(tmp_path):
    from summ_plugin.export_hf.errors import ExportError
    from summ_plugin.export_hf.vocabulary import resolve_bpe_files

    # a directory given as --encoder-json was skipped for the checkpoint's or data-bin's file, rc 0
    with pytest.raises(ExportError, match=f"--encoder-json {tmp_path}: is a directory"):
        resolve_bpe_files({"encoder_json": str(tmp_path), "vocab_bpe": None}, None, None)


@pytest.mark.parametrize("how", ["file", "no dict"])
def test_attack_summarize_data_bin_that_is_not_one_is_one_line(how, tmp_path, capsys):
    checkpoint = tmp_path / "model.pt"
    checkpoint.write_bytes(b"not read: --data-bin is checked first")
    docs = write_jsonl(str(tmp_path / "docs.jsonl"), make_records(2, seed=3))
    data_bin = tmp_path / "data-bin"
    if how == "file":
        data_bin.write_text("x")
    else:
        data_bin.mkdir()
    code, _, err = run_cli(summarize_main, ["--path", str(checkpoint), "--input", docs, "--output",
                                            str(tmp_path / "out.jsonl"), "--data-bin", str(data_bin), "--cpu"], capsys)
    assert code == 2
    assert_one_line_error(err, f"--data-bin {data_bin}", "not a directory" if how == "file" else "not a data-bin")


def test_attack_make_vocab_bpe_file_that_is_a_directory_is_one_line(tiny_vocab, tmp_path, capsys):
    corpus = write_jsonl(str(tmp_path / "c.jsonl"), make_records(3, seed=1))
    code, _, err = run_cli(make_vocab_main, ["--input", corpus, "--encoder-json", str(tmp_path), "--vocab-bpe",
                                             tiny_vocab["vocab_bpe"], "--out", str(tmp_path / "v"),
                                             "--log-level", "WARNING"], capsys)
    assert code == 2
    assert_one_line_error(err, str(tmp_path), "--encoder-json", "is a directory")


def test_attack_two_inputs_of_one_split_are_refused(tiny_vocab, tmp_path, capsys):
    """``--input a/train.jsonl,b/train.jsonl`` used only the second file, rc 0."""
    first = write_jsonl(str(tmp_path / "a" / "train.jsonl"), make_records(6, seed=1))
    second = write_jsonl(str(tmp_path / "b" / "train.jsonl"), make_records(3, seed=2))
    argv = prepare_args(tiny_vocab, tmp_path / "bin", first)
    argv[argv.index("--train"):argv.index("--train") + 2] = ["--input", f"{first},{second}"]
    code, _, err = run_cli(prepare_main, argv, capsys)
    assert code == 2
    assert err.strip().splitlines()[-1].endswith(f"{first} and {second} are both the train split; give one file per split")
    assert not (tmp_path / "bin").exists()


def test_attack_overwrite_through_a_symlinked_destdir_keeps_the_link(tiny_vocab, train_file, tmp_path, capsys):
    """The link was renamed away and replaced by a directory; the data-bin it named was left stale."""
    real = tmp_path / "disk" / "bin"
    assert run_cli(prepare_main, prepare_args(tiny_vocab, real, train_file), capsys)[0] == 0
    link = tmp_path / "bin"
    link.symlink_to(real)
    more = write_jsonl(str(tmp_path / "train2.jsonl"), make_records(9, seed=4))
    code, _, err = run_cli(prepare_main, prepare_args(tiny_vocab, link, more, "--overwrite"), capsys)
    assert code == 0, err
    assert link.is_symlink()
    assert sum(1 for _ in open(real / "train.meta.jsonl")) == 9


@pytest.mark.parametrize("what", ["directory", "fifo"])
def test_attack_a_selector_that_is_not_a_file_is_one_line(what, tiny_vocab, train_file, tmp_path, capsys):
    """A directory or FIFO as the selector: an IsADirectoryError / SpecialFileError traceback from
    the copy into the data-bin (summ-prepare), or a hang (summ-summarize, summ-eval-retrieval)."""
    selector = tmp_path / "selector.json"
    selector.mkdir() if what == "directory" else os.mkfifo(selector)
    argv = prepare_args(tiny_vocab, tmp_path / "bin", train_file)
    argv[argv.index("--retriever") + 1] = "learned"
    with fails_if_blocked():
        code, _, err = run_cli(prepare_main, argv + ["--retriever-options", json.dumps({"selector": str(selector)})],
                               capsys)
    assert code == 2
    assert_one_line_error(err, str(selector), "is a directory" if what == "directory" else "not a regular file")
    valid = write_jsonl(str(tmp_path / "valid.jsonl"), make_records(3, seed=2))
    with fails_if_blocked():
        code, _, err = run_cli(eval_retrieval_main, ["--input", valid, "--retrievers", "learned", "--selector",
                                                     str(selector), "--log-level", "WARNING"], capsys)
    assert code == 2
    assert_one_line_error(err, str(selector))


def test_attack_raw_cache_dir_that_is_a_file_is_one_line(tiny_vocab, tmp_path):
    import shutil

    from summ_plugin.errors import UserError
    from summ_plugin.tasks.retrieve_summarize import RetrieveSummarizeConfig, RetrieveSummarizeTask

    raw = tmp_path / "raw"
    write_jsonl(str(raw / "train.jsonl"), make_records(6, seed=1))
    write_jsonl(str(raw / "valid.jsonl"), make_records(3, seed=2))
    for key, name in (("encoder_json", "encoder.json"), ("vocab_bpe", "vocab.bpe"), ("dict", "dict.txt")):
        shutil.copyfile(tiny_vocab[key], raw / name)
    cache = tmp_path / "cache"
    cache.write_text("a file")
    cfg = RetrieveSummarizeConfig(data=str(raw), retriever="lead", max_source_positions=96, raw_cache_dir=str(cache))
    with pytest.raises(UserError, match=f"{cache} is a file, not a directory"):  # was a FileExistsError traceback
        RetrieveSummarizeTask.setup_task(cfg)
    assert cache.read_text() == "a file"


def test_item01_every_tool_declares_its_file_options_by_real_dests():
    """A misspelled dest would silently skip the output-onto-input check: every name in a tool's
    FileOptions must be one of its parser's dests, and every tool must declare one."""
    import importlib
    import re

    from summ_plugin.cli.common import FileOptions
    from tests._fairseq import REPO

    with open(os.path.join(REPO, "setup.py"), encoding="utf-8") as handle:
        modules = re.findall(r'"summ-[\w-]+=(summ_plugin\.cli\.\w+):main"', handle.read())
    assert len(modules) >= 9
    for name in modules:
        module = importlib.import_module(name)
        files = getattr(module, "FILES", None)
        assert isinstance(files, FileOptions), name
        dests = {action.dest for action in module.build_parser()._actions}
        declared = files.reads + files.writes + files.writes_dirs + files.reads_whole + files.comma_separated
        assert set(declared) <= dests, (name, set(declared) - dests)
        assert files.writes or files.writes_dirs or files.more, name
