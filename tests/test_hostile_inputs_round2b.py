"""Hostile inputs, round two (issue 25 items 4, 9, 12, 13): non-finite numbers, a killed
prepare worker, torch files that are not fairseq checkpoints, paths of the wrong kind,
impossible sizes and a full disk. Each must end in one line naming the file or option, never
a traceback, a hang, or an output that is silently wrong.
"""
import json
import os

import numpy as np
import pytest

from summ_plugin.data.config import PrepareError
from summ_plugin.data.data_bin import DataBinError
from tests._prepare_fixtures import make_records, write_jsonl
from tests.test_hostile_inputs import assert_one_line_error, prepare_argv, run_prepare
from tests.test_reliability import run_cli


def assert_option_error(err, prog, *must_contain):
    """argparse's refusal of a bad option value: its usage, then one ``PROG: error:`` line."""
    assert "Traceback" not in err, err
    line = err.strip().splitlines()[-1]
    assert line.startswith(f"{prog}: error: argument "), err
    for text in must_contain:
        assert text in line, (text, line)
    return line


@pytest.fixture
def small_inputs(tmp_path):
    train = write_jsonl(str(tmp_path / "train.jsonl"), make_records(12, seed=1))
    valid = write_jsonl(str(tmp_path / "valid.jsonl"), make_records(4, seed=2))
    return train, valid


# ----------------------------------------------------------------------------- item 4: non-finite numbers


def _selector_dict():
    from summ_plugin.retrieval.learned import LearnedSelector, Tree

    # root splits feature 0 at 0.5; leaves 1 and 2
    tree = Tree([0, 0, 0], [0.5, 0.0, 0.0], [True, False, False], [1, -1, -1], [2, -1, -1], [0.0, 1.0, -1.0])
    return LearnedSelector(0.1, [tree]).to_dict()


def _set_baseline(value):
    return lambda d: d.__setitem__("baseline", value)


def _set_tree(key, index, value):
    return lambda d: d["trees"][0][key].__setitem__(index, value)


# (name, change, words the error must hold)
NON_FINITE_SELECTORS = [
    ("baseline NaN", _set_baseline(float("nan")), "baseline"),
    ("baseline Infinity", _set_baseline(float("inf")), "baseline"),
    ("baseline -Infinity", _set_baseline(float("-inf")), "baseline"),
    ("baseline 1e308", _set_baseline(1e308), "baseline"),
    ("leaf NaN", _set_tree("value", 1, float("nan")), "value[1]"),
    ("leaf Infinity", _set_tree("value", 2, float("inf")), "value[2]"),
    ("leaf 1e308", _set_tree("value", 1, 1e308), "value[1]"),
    ("threshold NaN", _set_tree("threshold", 0, float("nan")), "threshold[0]"),
    ("threshold -Infinity", _set_tree("threshold", 0, float("-inf")), "threshold[0]"),
]


def _write_selector(path, data, raw_text=None):
    # json.dumps writes NaN / Infinity as Python does: what a hand-edited or crafted file holds
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(raw_text if raw_text is not None else json.dumps(data))
    return str(path)


@pytest.mark.parametrize("name,change,where", NON_FINITE_SELECTORS, ids=[c[0] for c in NON_FINITE_SELECTORS])
def test_selector_with_non_finite_value_is_refused_naming_the_key(name, change, where, tmp_path):
    from summ_plugin.retrieval.learned import LearnedSelector

    data = _selector_dict()
    change(data)
    path = _write_selector(tmp_path / "selector.json", data)
    with pytest.raises(ValueError) as info:
        LearnedSelector.load(path)
    assert path in str(info.value) and where in str(info.value), str(info.value)


def test_selector_with_huge_number_literal_is_refused(tmp_path):
    """1e400 is valid JSON that Python reads as inf."""
    from summ_plugin.retrieval.learned import LearnedSelector

    text = json.dumps(_selector_dict()).replace('"baseline": 0.1', '"baseline": 1e400')
    assert "1e400" in text
    path = _write_selector(tmp_path / "selector.json", None, text)
    with pytest.raises(ValueError, match="baseline"):
        LearnedSelector.load(path)


def test_selector_with_non_finite_leaf_is_refused_by_summ_prepare_in_one_line(tiny_vocab, small_inputs, tmp_path, capsys):
    data = _selector_dict()
    data["trees"][0]["value"][1] = 1e308
    selector = _write_selector(tmp_path / "selector.json", data)
    train, valid = small_inputs
    argv = prepare_argv(tiny_vocab, tmp_path / "bin", train, valid)
    argv[argv.index("--retriever") + 1] = "learned"
    code, _, err = run_prepare(argv + ["--retriever-options", json.dumps({"selector": selector})], capsys)
    assert code == 2
    assert_one_line_error(err, selector, "value[1]")
    assert not os.path.exists(tmp_path / "bin")


def test_selector_infinite_threshold_is_written_as_json_null_and_scores_the_same(tmp_path):
    """scikit-learn splits missing values from all numbers with a threshold of +inf: a real
    selector holds it. It is written as null (JSON has no Infinity) and read back the same."""
    from summ_plugin.retrieval.learned import LearnedSelector, Tree

    tree = Tree([1, 0, 0], [float("inf"), 0.0, 0.0], [False, False, False], [1, -1, -1], [2, -1, -1],
                [0.0, 2.0, -3.0])
    selector = LearnedSelector(0.5, [tree])
    path = str(tmp_path / "selector.json")
    selector.save(path)
    text = open(path, encoding="utf-8").read()
    assert "Infinity" not in text and "NaN" not in text
    json.loads(text, parse_constant=lambda name: pytest.fail(f"{name} in the file"))
    loaded = LearnedSelector.load(path)
    features = np.zeros((3, 20))
    features[:, 1] = [1e300, -5.0, np.nan]
    assert loaded.score_features(features).tolist() == [2.5, 2.5, -2.5]
    assert loaded.score_features(features).tolist() == selector.score_features(features).tolist()
    # a file of the former writer (bare Infinity for that threshold) still loads
    legacy = _write_selector(tmp_path / "legacy.json", None, text.replace("null", "Infinity"))
    assert LearnedSelector.load(legacy).score_features(features).tolist() == [2.5, 2.5, -2.5]


def test_selector_file_above_the_size_limit_is_refused_before_it_is_read(tmp_path, monkeypatch):
    from summ_plugin.retrieval import learned

    path = str(tmp_path / "huge.json")
    with open(path, "wb") as handle:  # sparse: 64 MiB + 1 of zero bytes, no disk used
        handle.truncate(learned.MAX_SELECTOR_BYTES + 1)

    def no_read(*args, **kwargs):
        raise AssertionError("the file was opened")

    monkeypatch.setattr("builtins.open", no_read)
    with pytest.raises(ValueError, match=r"huge.json: 67108865 bytes is not a selector"):
        learned.LearnedSelector.load(path)


@pytest.mark.parametrize("options", ['{"k1": Infinity}', '{"k1": NaN}', '{"k1": -Infinity}', '{"k1": 1e400}',
                                     '{"k1": 1e308}'])
def test_retriever_options_with_non_finite_number_are_refused(options, tiny_vocab, small_inputs, tmp_path, capsys):
    train, valid = small_inputs
    argv = prepare_argv(tiny_vocab, tmp_path / "bin", train, valid)
    argv[argv.index("--retriever") + 1] = "bm25"
    code, _, err = run_prepare(argv + ["--retriever-options", options], capsys)
    assert code == 2
    line = assert_option_error(err, "summ-prepare", "--retriever-options")
    assert "k1" in line or "NaN" in line or "Infinity" in line or "large" in line, line
    assert not os.path.exists(tmp_path / "bin")


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "NaN", "1e999"])
def test_max_unk_rate_must_be_a_finite_number(value, tiny_vocab, small_inputs, tmp_path, capsys):
    train, valid = small_inputs
    code, _, err = run_prepare(prepare_argv(tiny_vocab, tmp_path / "bin", train, valid, f"--max-unk-rate={value}"), capsys)
    assert code == 2
    assert_option_error(err, "summ-prepare", "--max-unk-rate", value)
    assert not os.path.exists(tmp_path / "bin")


def test_max_unk_rate_nan_through_the_api_is_refused(tiny_vocab, small_inputs, tmp_path):
    """PrepareConfig built in code (the raw-directory path does this): NaN compares False with
    every rate, so it would publish any share of <unk>."""
    from summ_plugin.data.config import PrepareConfig
    from summ_plugin.data.prepare import prepare_data_bin

    train, valid = small_inputs
    config = PrepareConfig(destdir=str(tmp_path / "bin"), encoder_json=tiny_vocab["encoder_json"],
                           vocab_bpe=tiny_vocab["vocab_bpe"], dict_path=tiny_vocab["dict"],
                           inputs={"train": train, "valid": valid}, retriever="lead", max_unk_rate=float("nan"))
    with pytest.raises(PrepareError, match="--max-unk-rate"):
        prepare_data_bin(config)
    assert not os.path.exists(tmp_path / "bin")


def test_float_options_of_every_tool_refuse_nan(capsys):
    """Every float option built from a config dataclass (summ-summarize --lenpen, ...) takes
    the one finite-number type."""
    from summ_plugin.cli.summarize import main as summarize_main

    code, _, err = run_cli(summarize_main, ["--checkpoint", "x.pt", "--input", "x.jsonl", "--output", "y",
                                            "--lenpen", "nan"], capsys)
    assert code == 2
    assert_option_error(err, "summ-summarize", "--lenpen", "nan")


def test_prepare_json_is_never_written_with_nan_and_never_read_with_it(tiny_data_bin, tmp_path):
    import shutil

    from summ_plugin.data.data_bin import read_manifest, write_manifest

    path = os.path.join(tiny_data_bin, "prepare.json")
    manifest = read_manifest(path)
    manifest.options["retriever_options"] = {"k1": float("inf")}
    out = tmp_path / "bin"
    out.mkdir()
    with pytest.raises(DataBinError, match=r"retriever_options.k1 is not a finite number"):
        write_manifest(str(out), manifest)
    assert not (out / "prepare.json").exists()
    copy_dir = tmp_path / "copy"
    shutil.copytree(tiny_data_bin, copy_dir)
    text = open(path, encoding="utf-8").read()
    obj = json.loads(text)
    obj["splits"]["train"]["examples"] = float("nan")
    (copy_dir / "prepare.json").write_text(json.dumps(obj), encoding="utf-8")
    with pytest.raises(DataBinError, match="prepare.json: .*not a finite number"):
        read_manifest(str(copy_dir / "prepare.json"))


@pytest.mark.parametrize("options,expected", [('{"k1": Infinity}', "k1 is not a finite number"),
                                              ('{"k1": 1e400}', "k1 is not a finite number"),
                                              ('[1]', "JSON object")])
def test_raw_directory_retriever_options_are_checked_like_summ_prepares(options, expected, tiny_raw_dir):
    from types import SimpleNamespace

    from summ_plugin.errors import UserError
    from summ_plugin.tasks.raw_data import raw_prepare_options

    cfg = SimpleNamespace(data=tiny_raw_dir, retriever_options=options, retriever=None, train_retriever=None,
                          split_mode="sentence", max_source_positions=96, max_target_positions=64,
                          encoder_json=None, vocab_bpe=None, dict_path=None, prepare_workers=1)
    with pytest.raises(UserError, match=expected):
        raw_prepare_options(cfg)


# ----------------------------------------------------------------------------- item 9: a worker killed


def _children(pid):
    import subprocess

    ps = subprocess.Popen(["ps", "-o", "pid=", "--ppid", str(pid)], stdout=subprocess.PIPE, text=True)
    out, _ = ps.communicate()
    return [int(p) for p in out.split() if int(p) != ps.pid]  # not ps itself


def test_sigkill_of_one_prepare_worker_ends_the_run_with_one_line_and_no_temp_dir(tiny_vocab, tmp_path):
    """What the OOM killer does: the run stops (no hang on the other worker's pipe) with one line
    saying a worker died and why, removes DEST.tmp-PID, and leaves no worker behind."""
    import signal
    import subprocess
    import sys
    import time

    train = write_jsonl(str(tmp_path / "train.jsonl"), make_records(4000, seed=1))
    valid = write_jsonl(str(tmp_path / "valid.jsonl"), make_records(8, seed=2))
    dest = tmp_path / "bin"
    argv = prepare_argv(tiny_vocab, dest, train, valid, "--workers", "2")
    run = subprocess.Popen([sys.executable, "-m", "summ_plugin.cli.prepare", *argv], stderr=subprocess.PIPE,
                           text=True, cwd=str(tmp_path))
    try:
        workers = []
        for _ in range(600):
            workers = _children(run.pid)
            if len(workers) >= 2 or run.poll() is not None:
                break
            time.sleep(0.05)
        assert len(workers) >= 2, "the workers did not start"
        os.kill(workers[0], signal.SIGKILL)
        _, err = run.communicate(timeout=120)  # a hang fails here
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    assert run.returncode == 2, err
    line = assert_one_line_error(err, "summ-prepare: error: a worker process", f"PID {workers[0]}",
                                 "signal 9: killed, perhaps out of memory")
    assert "Traceback" not in line
    assert not dest.exists()
    assert not [name for name in os.listdir(tmp_path) if name.startswith("bin.")], os.listdir(tmp_path)
    for pid in workers:
        assert not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().split()[2] == "Z"


def test_worker_death_message_names_the_signal_not_the_terminated_rest():
    from summ_plugin.data.pool import worker_death_message

    assert worker_death_message({11: -15, 12: -9}) == \
        "a worker process (PID 12) died (signal 9: killed, perhaps out of memory)"
    assert worker_death_message({11: 3, 12: None}) == "a worker process (PID 11) died (exit status 3)"
    assert worker_death_message({11: None}) == "a worker process died (cause unknown)"


# ----------------------------------------------------------------------------- item 12: not a fairseq checkpoint


def _hostile_torch_files(directory, base_state):
    """name -> (path, text the one line must hold): the torch files of issue 25 item 12."""
    import torch

    files = {}

    def save(name, obj, expected):
        path = os.path.join(directory, name + ".pt")
        torch.save(obj, path)
        files[name] = (path, expected)

    save("empty_dict", {}, "no model weights (no 'model' key")
    save("no_model_key", {k: v for k, v in base_state.items() if k != "model"}, "no model weights (no 'model' key")
    save("bare_tensor", torch.zeros(3, 4), "not a fairseq checkpoint (it holds a bare tensor of shape [3, 4]")
    save("bare_state_dict", dict(base_state["model"]), "a bare state dict")
    save("model_not_a_dict", dict(base_state, model=[1, 2]), "no model weights ('model' is a list")
    nan_model = {k: v.clone() for k, v in base_state["model"].items()}
    name = "encoder.layers.0.fc1.weight"
    nan_model[name][0, 0] = float("nan")
    save("nan_weights", dict(base_state, model=nan_model), f"non-finite weights (NaN or infinity) in {name}")
    inf_model = {k: v.clone() for k, v in base_state["model"].items()}
    inf_model["decoder.layers.0.fc2.bias"][0] = float("inf")
    save("inf_weights", dict(base_state, model=inf_model), "non-finite weights (NaN or infinity) in decoder.layers.0.fc2.bias")
    save("no_config", dict(base_state, args=None, cfg=None), "holds no configuration")
    return files


@pytest.fixture(scope="module")
def bart_like_state(tmp_path_factory):
    from tests._checkpoint_fixtures import GPT2_LIKE_SYMBOLS, make_bart_checkpoint

    path = str(tmp_path_factory.mktemp("bart") / "model.pt")
    return make_bart_checkpoint(path, GPT2_LIKE_SYMBOLS)


def test_check_checkpoint_contents_accepts_a_real_layout_and_names_what_others_are_not(bart_like_state, tmp_path):
    from summ_plugin.checkpoint_contents import CheckpointContentsError, check_checkpoint_contents
    from summ_plugin.checkpoints import load_checkpoint_safely, load_fairseq_checkpoint

    import torch

    good = str(tmp_path / "good.pt")
    torch.save(bart_like_state, good)
    assert set(load_fairseq_checkpoint(good)["model"]) == set(bart_like_state["model"])
    for name, (path, expected) in _hostile_torch_files(str(tmp_path), bart_like_state).items():
        with pytest.raises(CheckpointContentsError) as info:
            check_checkpoint_contents(load_checkpoint_safely(path), path)
        message = str(info.value)
        assert message.startswith(path + ": ") and expected in message and "\n" not in message, (name, message)


@pytest.mark.parametrize("tool", ["summ-fix-vocab", "summ-export-hf", "summ-summarize"])
def test_torch_files_that_are_not_checkpoints_get_one_line_from_every_tool(tool, bart_like_state, tiny_vocab,
                                                                          tiny_raw_dir, tmp_path, capsys):
    if tool == "summ-export-hf":
        pytest.importorskip("transformers")
        from summ_plugin.cli.export_hf import main

        def argv(path):
            return ["--checkpoint", path, "--out", str(tmp_path / "export")]
    elif tool == "summ-fix-vocab":
        from summ_plugin.cli.fix_vocab import main

        def argv(path):
            return ["--checkpoint", path, "--out", str(tmp_path / "fixed.pt"), "--max-source-positions", "2048"]
    else:
        from summ_plugin.cli.summarize import main

        def argv(path):
            return ["--path", path, "--input", os.path.join(tiny_raw_dir, "test.jsonl"),
                    "--output", str(tmp_path / "out.jsonl"), "--encoder-json", tiny_vocab["encoder_json"],
                    "--vocab-bpe", tiny_vocab["vocab_bpe"], "--cpu"]

    for name, (path, expected) in _hostile_torch_files(str(tmp_path), bart_like_state).items():
        code, _, err = run_cli(main, argv(path), capsys)
        assert code == 2, (name, err)
        line = assert_one_line_error(err, f"{tool}: error: ", expected)
        assert path in line, (name, line)
        assert not [n for n in os.listdir(tmp_path) if n.startswith(("export", "fixed", "out", "."))], name


def test_summarize_exits_2_on_an_unsafe_checkpoint(tiny_vocab, tiny_raw_dir, tmp_path, capsys):
    import fractions

    import torch

    from summ_plugin.cli.summarize import main

    path = str(tmp_path / "unsafe.pt")
    torch.save({"model": {}, "payload": fractions.Fraction(1, 2)}, path)
    code, _, err = run_cli(main, ["--path", path, "--input", os.path.join(tiny_raw_dir, "test.jsonl"),
                                  "--output", str(tmp_path / "out.jsonl"), "--cpu"], capsys)
    assert code == 2
    assert_one_line_error(err, "summ-summarize: error: refusing to load checkpoint", "fractions.Fraction")


def test_state_dict_mismatch_is_one_line():
    from summ_plugin.checkpoint_contents import state_dict_mismatch

    report = ('Error(s) in loading state_dict for BARTModel:\n\tMissing key(s) in state_dict: "a.weight", '
              '"b.bias", "c". \n\tUnexpected key(s) in state_dict: "z.extra". \n\tsize mismatch for '
              'enc.fc1.weight: copying a param with shape torch.Size([5, 7]) from checkpoint, the shape in '
              'current model is torch.Size([32, 16]).\n\tsize mismatch for enc.fc2.weight: copying a param '
              'with shape torch.Size([7]) from checkpoint, the shape in current model is torch.Size([16]).')
    assert state_dict_mismatch(report) == (
        "3 parameters missing from the checkpoint (first a.weight); 1 parameter in the checkpoint but not in "
        "the model (first z.extra); shapes do not fit: enc.fc1.weight is [5, 7] in the checkpoint, [32, 16] "
        "in the model (and 1 more)")
    assert state_dict_mismatch("CUDA out of memory") is None


def _broken_copies(checkpoint, directory):
    """checkpoint with one parameter missing / one of another shape / NaN weights."""
    import torch

    state = torch.load(checkpoint, weights_only=False)
    out = {}
    missing = dict(state, model={k: v for k, v in state["model"].items() if k != "decoder.layernorm_embedding.weight"})
    torch.save(missing, os.path.join(directory, "missing.pt"))
    out["missing"] = (os.path.join(directory, "missing.pt"),
                      "1 parameter missing from the checkpoint (first decoder.layernorm_embedding.weight)")
    shaped = dict(state, model=dict(state["model"], **{"encoder.layers.0.fc1.weight": torch.zeros(5, 7)}))
    torch.save(shaped, os.path.join(directory, "shape.pt"))
    out["shape"] = (os.path.join(directory, "shape.pt"),
                    "shapes do not fit: encoder.layers.0.fc1.weight is [5, 7] in the checkpoint")
    nan = {k: v.clone() for k, v in state["model"].items()}
    nan["encoder.layers.0.fc1.weight"][0, 0] = float("nan")
    torch.save(dict(state, model=nan), os.path.join(directory, "nan.pt"))
    out["nan"] = (os.path.join(directory, "nan.pt"), "non-finite weights (NaN or infinity) in encoder.layers.0.fc1.weight")
    return out


def _fairseq_error_line(output):
    lines = [line for line in output.splitlines() if line.strip() and " | " not in line]
    assert "Traceback" not in output, output[-3000:]
    return lines[-1] if lines else ""


def test_summarize_and_generate_refuse_a_checkpoint_that_does_not_fit_its_model(tiny_checkpoint, tiny_data_bin,
                                                                               tiny_vocab, tiny_raw_dir, tmp_path,
                                                                               capsys, fairseq_processes):
    from summ_plugin.cli.summarize import main
    from tests._fairseq import BIN, PLUGIN_DIR, run

    for name, (path, expected) in _broken_copies(tiny_checkpoint, str(tmp_path)).items():
        code, _, err = run_cli(main, ["--path", path, "--input", os.path.join(tiny_raw_dir, "test.jsonl"),
                                      "--output", str(tmp_path / "out.jsonl"), "--data-bin", tiny_data_bin,
                                      "--encoder-json", tiny_vocab["encoder_json"], "--vocab-bpe",
                                      tiny_vocab["vocab_bpe"], "--cpu"], capsys)
        assert code == 2, (name, err)
        assert_one_line_error(err, "summ-summarize: error: ", path, expected)
    path, expected = _broken_copies(tiny_checkpoint, str(tmp_path))["missing"]
    result = run([os.path.join(BIN, "fairseq-generate"), tiny_data_bin, "--user-dir", PLUGIN_DIR, "--task",
                  "retrieve_summarize", "--path", path, "--cpu", "--gen-subset", "valid", "--max-tokens", "2000"],
                 check=False)
    assert result.returncode != 0
    line = _fairseq_error_line(result.stdout)
    assert line.startswith("fairseq-generate: error: ") and expected in line and path in line, line


def test_fairseq_train_restore_and_resume_of_a_broken_checkpoint_is_one_line(tiny_checkpoint, tiny_data_bin, tmp_path,
                                                                            fairseq_processes):
    import shutil

    from tests._fairseq import fairseq_train

    broken = _broken_copies(tiny_checkpoint, str(tmp_path))
    for name in ("shape", "nan"):
        path, expected = broken[name]
        result = fairseq_train(tiny_data_bin, str(tmp_path / f"save-{name}"), "--max-update", "1",
                               "--restore-file", path, check=False)
        assert result.returncode != 0
        line = _fairseq_error_line(result.stdout)
        assert line.startswith("fairseq-train: error: ") and expected in line and path in line, (name, line)
    # resume: a checkpoint_last.pt whose weights went NaN
    save = tmp_path / "resume"
    save.mkdir()
    shutil.copyfile(broken["nan"][0], save / "checkpoint_last.pt")
    result = fairseq_train(tiny_data_bin, str(save), "--max-update", "1", check=False)
    assert result.returncode != 0
    line = _fairseq_error_line(result.stdout)
    assert broken["nan"][1] in line and str(save / "checkpoint_last.pt") in line, line


# ----------------------------------------------------------------------------- item 13: paths, sizes, full disk


def test_prepare_lock_path_that_is_a_directory_is_one_line(tiny_vocab, small_inputs, tmp_path, capsys):
    train, valid = small_inputs
    lock = tmp_path / "bin.summ-prepare.lock"
    lock.mkdir()
    (lock / "mine.txt").write_text("keep")
    code, _, err = run_prepare(prepare_argv(tiny_vocab, tmp_path / "bin", train, valid), capsys)
    assert code == 2
    assert_one_line_error(err, "summ-prepare: error: ", str(lock), "is a directory")
    assert (lock / "mine.txt").read_text() == "keep" and not (tmp_path / "bin").exists()


def test_fix_vocab_out_that_is_a_directory_is_refused_before_any_work(tmp_path, capsys, monkeypatch):
    from summ_plugin import checkpoints
    from summ_plugin.cli.fix_vocab import main

    out = tmp_path / "out"
    out.mkdir()
    (tmp_path / "model.pt").write_bytes(b"PK\x03\x04")

    def no_load(*args, **kwargs):
        raise AssertionError("the checkpoint was loaded")

    monkeypatch.setattr(checkpoints, "load_fairseq_checkpoint", no_load)
    code, _, err = run_cli(main, ["--checkpoint", str(tmp_path / "model.pt"), "--out", str(out),
                                  "--max-source-positions", "2048"], capsys)
    assert code == 2
    assert_one_line_error(err, "summ-fix-vocab: error: ", str(out), "--out is a directory")
    assert os.listdir(out) == []


def test_every_file_output_that_is_a_directory_is_one_line(tmp_path, capsys):
    """The one atomic writer refuses a directory (summ-score --json DIR, ...) naming it, rather
    than failing at the rename with the temp file's name."""
    from summ_plugin.atomic import atomic_write_text
    from summ_plugin.cli.score import main as score_main
    from summ_plugin.errors import UserError

    target = tmp_path / "dir"
    target.mkdir()
    with pytest.raises(UserError, match=r"dir: is a directory"):
        atomic_write_text(str(target), "x")
    refs = write_jsonl(str(tmp_path / "refs.jsonl"), [{"id": "a", "summary": "the cat sat"}])
    hyps = write_jsonl(str(tmp_path / "hyps.jsonl"), [{"id": "a", "summary": "the cat sat"}])
    code, _, err = run_cli(score_main, ["--hyps", hyps, "--refs", refs, "--json", str(target), "--bootstrap", "0",
                                        "--quiet"], capsys)
    assert code == 2
    assert_one_line_error(err, "summ-score: error: ", str(target), "is a directory")
    assert os.listdir(target) == [] and not [n for n in os.listdir(tmp_path) if n.startswith(".")]


def test_report_out_dir_that_is_a_file_is_one_line(tmp_path, capsys):
    from summ_plugin.cli.report import main

    log = tmp_path / "train.log"
    log.write_text(
        '2026-12-05 07:57:19 | INFO | valid | {"epoch": 1, "valid_loss": "8.675", "valid_nll_loss": "8.675", '
        '"valid_ppl": "408.6", "valid_wps": "0", "valid_wpb": "224", "valid_bsz": "6", "valid_num_updates": "2"}\n'
        '2026-12-05 07:57:19 | INFO | train | {"epoch": 1, "train_loss": "8.677", "train_nll_loss": "8.676", '
        '"train_ppl": "409.14", "train_wps": "160", "train_ups": "0.7", "train_wpb": "238.5", "train_bsz": "12", '
        '"train_num_updates": "2", "train_lr": "0.001", "train_gnorm": "2.1", "train_train_wall": "1", '
        '"train_wall": "3"}\n')
    target = tmp_path / "afile"
    target.write_text("mine")
    code, _, err = run_cli(main, ["--log", str(log), "--out-dir", str(target)], capsys)
    assert code == 2
    assert_one_line_error(err, "summ-report: error: ", str(target))
    assert target.read_text() == "mine"


@pytest.mark.parametrize("tool,value", [("summ-score", "-1"), ("summ-score", "4294967296"),
                                        ("summ-fix-vocab", "-1"), ("summ-fix-vocab", "99999999999")])
def test_seed_out_of_range_is_refused(tool, value, tmp_path, capsys):
    if tool == "summ-score":
        from summ_plugin.cli.score import main

        refs = write_jsonl(str(tmp_path / "refs.jsonl"), [{"id": "a", "summary": "the cat sat"}])
        argv = ["--hyps", refs, "--refs", refs]
    else:
        from summ_plugin.cli.fix_vocab import main

        argv = ["--checkpoint", str(tmp_path / "m.pt"), "--out", str(tmp_path / "o.pt"), "--max-source-positions", "9"]
    code, _, err = run_cli(main, argv + [f"--seed={value}"], capsys)
    assert code == 2
    assert_option_error(err, tool, "--seed", value, "0 .. 4294967295")


def test_positions_beyond_memory_are_refused_naming_the_memory(bart_like_state, tmp_path, capsys):
    import torch

    from summ_plugin.cli.fix_vocab import main

    path = str(tmp_path / "model.pt")
    torch.save(bart_like_state, path)
    code, _, err = run_cli(main, ["--checkpoint", path, "--out", str(tmp_path / "o.pt"),
                                  "--max-source-positions", str(10 ** 12)], capsys)
    assert code == 2
    line = assert_one_line_error(err, "summ-fix-vocab: error: ", "--max-source-positions 1000000000000",
                                 "TiB of memory", "more than this machine's")
    assert not (tmp_path / "o.pt").exists(), line


def test_position_tables_of_the_model_are_checked_before_they_are_allocated():
    from types import SimpleNamespace

    from summ_plugin.positions import PositionFixError
    from summ_plugin.tasks.positions_check import check_position_tables_fit_memory

    check_position_tables_fit_memory(SimpleNamespace(max_source_positions=1024, max_target_positions=1024,
                                                     encoder_embed_dim=768, decoder_embed_dim=768))
    with pytest.raises(PositionFixError, match=r"--max-target-positions 1000000000000: .* needs 2\.7 PiB"):
        check_position_tables_fit_memory(SimpleNamespace(max_source_positions=1024, max_target_positions=10 ** 12,
                                                         encoder_embed_dim=768, decoder_embed_dim=768))


def _full_disk_save(obj, f, *args, **kwargs):
    """torch.save on a full disk: some bytes reach the file, then the write fails."""
    import errno

    if hasattr(f, "write"):
        f.write(b"PK\x03\x04 partial")
    raise OSError(errno.ENOSPC, "No space left on device")


def test_fix_vocab_on_a_full_disk_is_one_line_and_leaves_nothing(bart_like_state, tmp_path, capsys, monkeypatch):
    import torch

    from summ_plugin.cli.fix_vocab import main

    path = str(tmp_path / "model.pt")
    torch.save(bart_like_state, path)
    out = tmp_path / "out"
    out.mkdir()
    (out / "fixed.pt").write_bytes(b"the previous output")
    monkeypatch.setattr(torch, "save", _full_disk_save)
    code, _, err = run_cli(main, ["--checkpoint", path, "--out", str(out / "fixed.pt"),
                                  "--max-source-positions", "2048"], capsys)
    assert code == 2
    assert_one_line_error(err, "summ-fix-vocab: error: ", str(out / "fixed.pt"), "no space left on device")
    assert os.listdir(out) == ["fixed.pt"] and (out / "fixed.pt").read_bytes() == b"the previous output"


def test_fairseq_checkpoint_save_on_a_full_disk_leaves_no_partial_file(tmp_path, monkeypatch):
    import torch
    from fairseq import checkpoint_utils

    import summ_plugin  # noqa: F401  (installs the atomic save)
    from summ_plugin.checkpoints import CheckpointWriteError

    target = tmp_path / "checkpoint_last.pt"
    target.write_bytes(b"previous")
    monkeypatch.setattr(torch, "save", _full_disk_save)
    with pytest.raises(CheckpointWriteError, match=r"checkpoint_last.pt: cannot write the checkpoint \(no space"):
        checkpoint_utils.torch_persistent_save({"model": {}}, str(target))
    assert os.listdir(tmp_path) == ["checkpoint_last.pt"] and target.read_bytes() == b"previous"
    monkeypatch.undo()
    checkpoint_utils.torch_persistent_save({"model": {"w": torch.ones(2)}}, str(target))
    assert torch.load(str(target))["model"]["w"].tolist() == [1.0, 1.0]
    assert os.listdir(tmp_path) == ["checkpoint_last.pt"]


def test_raw_directory_errors_are_plugin_errors(tiny_raw_dir, tmp_path):
    """Under fairseq-train a UserError is one line (errors.find_user_error); an OSError of the
    raw-directory path (a cache directory that is a file, a lock that is a directory) is one."""
    from types import SimpleNamespace

    from summ_plugin.tasks.raw_data import resolve_data_path

    cache = tmp_path / "cache-file"
    cache.write_text("")
    cfg = SimpleNamespace(data=tiny_raw_dir, retriever_options="{}", retriever="lead", train_retriever="lead",
                          split_mode="sentence", max_source_positions=96, max_target_positions=64,
                          encoder_json=None, vocab_bpe=None, dict_path=None, prepare_workers=1,
                          raw_cache_dir=str(cache))
    with pytest.raises(PrepareError, match=f"{cache}: the raw-directory cache .* cannot be created"):
        resolve_data_path(cfg)


@pytest.mark.parametrize("lines,power,floor,expected", [
    (None, 1.0, 0.1, "needs"),
    (['{"rouge1_recall": NaN}'], 1.0, 0.1, "not a coverage"),
    (['{"rouge1_recall": 7}'], 1.0, 0.1, "not a coverage"),
    (['[1, 2]'], 1.0, 0.1, "expected a JSON object"),
    (['{"rouge1_recall": 0.5'], 1.0, 0.1, "malformed JSON"),
    (['{"rouge1_recall": 0.5}'], float("nan"), 0.1, "--support-weighting-power"),
    (['{"rouge1_recall": 0.5}'], 1.0, -0.5, "--support-weighting-floor"),
    (['{"rouge1_recall": 0.5}'], -1.0, 0.0, "infinite weight"),
    (['{"rouge1_recall": 0.0}'], 1.0, 0.0, "every pair would get weight 0"),
])
def test_support_weighting_meta_errors_are_user_errors(lines, power, floor, expected, tmp_path):
    from summ_plugin.errors import UserError
    from summ_plugin.tasks.support_weights import load_support_weights

    if lines is not None:
        (tmp_path / "train.meta.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.raises(UserError, match=expected):
        load_support_weights(str(tmp_path), "train", len(lines or []), power=power, floor=floor)


def test_fairseq_train_impossible_positions_full_disk_and_raw_directory_are_one_line(tiny_data_bin, tiny_raw_dir,
                                                                                    tmp_path, fairseq_processes):
    import sys

    from tests._fairseq import run, train_command

    # --max-source-positions far beyond memory: refused before the model is built
    result = run(train_command(tiny_data_bin, str(tmp_path / "save-positions"), "--max-update", "1",
                               "--max-source-positions", str(10 ** 12)), check=False)
    line = _fairseq_error_line(result.stdout)
    assert result.returncode != 0 and "--max-source-positions 1000000000000" in line and "of memory" in line, line
    # a full disk at the first save: one line, no partial checkpoint_best.pt.tmp
    wrapper = tmp_path / "full_disk_train.py"
    wrapper.write_text(
        "import errno, sys\nimport torch\n"
        "def save(obj, f, *a, **k):\n"
        "    if hasattr(f, 'write'):\n        f.write(b'PK partial')\n"
        "    raise OSError(errno.ENOSPC, 'No space left on device')\n"
        "torch.save = save\nsys.argv[0] = 'fairseq-train'\n"
        "from fairseq_cli.train import cli_main\ncli_main()\n")
    save = tmp_path / "save-full"
    command = train_command(tiny_data_bin, str(save), "--max-update", "1")
    result = run([sys.executable, str(wrapper), *command[1:]], check=False)
    line = _fairseq_error_line(result.stdout)
    assert result.returncode != 0 and line.startswith("fairseq-train: error: CheckpointWriteError: "), line
    assert "no space left on device" in line
    assert os.listdir(save) == [], os.listdir(save)
    # a raw directory whose cache directory is a file
    cache = tmp_path / "cache-file"
    cache.write_text("")
    result = run(train_command(tiny_raw_dir, str(tmp_path / "save-raw"), "--max-update", "1",
                               "--max-source-positions", "96", "--max-target-positions", "64",
                               "--raw-cache-dir", str(cache)), check=False)
    line = _fairseq_error_line(result.stdout)
    assert result.returncode != 0 and line.startswith("fairseq-train: error: PrepareError: ") and str(cache) in line, line


def test_absurd_worker_counts_start_a_bounded_number_of_processes():
    """--workers 100000 forked 100000 processes (the executor starts them all) and stalled the
    machine: the pool uses at most max_useful_workers(), and says so."""
    from summ_plugin.data.pool import OrderedPool, max_useful_workers, usable_workers

    assert usable_workers(100000) == max_useful_workers() >= 4
    assert usable_workers(2) == 2
    before = set(_children(os.getpid()))
    with OrderedPool(100000, int, ()) as pool:
        assert list(pool.imap(abs, range(-50, 0))) == list(range(50, 0, -1))
        assert pool.workers == max_useful_workers()
        assert 1 <= len(set(_children(os.getpid())) - before) <= max_useful_workers()


@pytest.mark.parametrize("extra,expected", [(["--vocab-size", str(10 ** 12)], "vocab_size must be at most"),
                                            (["--vocab-size", "300", "--min-frequency", "-1"], "min_frequency")])
def test_make_vocab_impossible_sizes_are_one_line(extra, expected, tmp_path, capsys):
    """--vocab-size 10**12 aborted the process inside tokenizers (Rust panic, exit 134);
    --min-frequency -1 was an OverflowError traceback."""
    from summ_plugin.cli.make_vocab import main

    corpus = write_jsonl(str(tmp_path / "corpus.jsonl"), make_records(4, seed=5))
    code, _, err = run_cli(main, ["--input", corpus, "--out", str(tmp_path / "vocab"), *extra], capsys)
    assert code == 2
    assert_one_line_error(err, "summ-make-vocab: error: ", expected)
    assert not (tmp_path / "vocab" / "encoder.json").exists()


def test_train_selector_budget_too_small_is_refused(tmp_path, capsys):
    """--max-positions -1 trained and wrote a selector, rc 0."""
    from summ_plugin.cli.train_selector import main

    train = write_jsonl(str(tmp_path / "train.jsonl"), make_records(6, seed=1))
    code, _, err = run_cli(main, ["--input", train, "--valid", train, "--out", str(tmp_path / "s.json"),
                                  "--max-positions", "-1"], capsys)
    assert code == 2
    assert_one_line_error(err, "summ-train-selector: error: ", "--max-positions -1: max_positions (-1) leaves no room")
    assert not (tmp_path / "s.json").exists()


def test_eval_rouge_args_with_nan_are_not_generation_settings():
    from summ_plugin.generation_settings import UNVALIDATED_DEFAULTS, validated_generation_settings

    settings, where = validated_generation_settings('{"lenpen": NaN, "beam": 4}')
    assert settings == UNVALIDATED_DEFAULTS and "no --eval-rouge-args" in where
