"""prepare_cached: raw directory -> cached data-bin, reused, safe under concurrent callers."""
import json
import os
import shutil
import subprocess
import sys

import pytest

from summ_plugin.data.cache import prepare_cached
from summ_plugin.data.config import PrepareError
from summ_plugin.data.data_bin import DataBin
from tests._prepare_fixtures import build_vocab, make_raw_dir, make_records, write_jsonl

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OPTIONS = {"retriever": "lead", "max_source_positions": 64}


@pytest.fixture(scope="module")
def vocab(tmp_path_factory):
    return build_vocab(str(tmp_path_factory.mktemp("vocab")))


def raw_with_vocab(root, vocab):
    raw = make_raw_dir(str(root), n_test=0)
    for key, name in (("encoder_json", "encoder.json"), ("vocab_bpe", "vocab.bpe"), ("dict", "dict.txt")):
        shutil.copyfile(vocab[key], os.path.join(raw, name))
    return raw


def test_first_call_prepares_later_calls_reuse(vocab, tmp_path, caplog):
    raw = raw_with_vocab(tmp_path / "raw", vocab)
    caplog.set_level("INFO", logger="summ_plugin.data.cache")
    first = prepare_cached(raw, OPTIONS)
    assert first.startswith(os.path.join(raw, ".summ_cache") + os.sep)
    assert os.path.exists(os.path.join(first, "prepare.json"))
    assert os.path.exists(os.path.join(first, "train.source-target.source.bin"))
    assert "preparing" in caplog.text
    caplog.clear()
    stamp = os.stat(os.path.join(first, "prepare.json")).st_mtime_ns
    assert prepare_cached(raw, dict(OPTIONS, workers=2)) == first  # workers do not change the bytes
    assert "reusing" in caplog.text
    assert os.stat(os.path.join(first, "prepare.json")).st_mtime_ns == stamp

    # another option, or another input byte, gives another data-bin
    other = prepare_cached(raw, dict(OPTIONS, max_source_positions=48))
    assert other != first
    write_jsonl(os.path.join(raw, "valid.jsonl"), make_records(5, seed=42))
    changed = prepare_cached(raw, OPTIONS)
    assert changed not in (first, other)
    assert DataBin.read(changed).manifest.splits["valid"].examples == 5


def test_a_selector_file_is_keyed_by_its_content(vocab, tmp_path):
    from summ_plugin.cli.train_selector import main as train_selector

    raw = raw_with_vocab(tmp_path / "raw", vocab)
    selector = str(tmp_path / "selector.json")
    assert train_selector(["--input", os.path.join(raw, "train.jsonl"), "--out", selector, "--max-docs", "12"]) == 0
    options = dict(OPTIONS, retriever="learned", retriever_options={"selector": selector})
    first = prepare_cached(raw, options)
    assert prepare_cached(raw, options) == first
    # same path, retrained selector: the cached data-bin must not be reused
    assert train_selector(["--input", os.path.join(raw, "train.jsonl"), "--out", selector, "--max-docs", "20"]) == 0
    assert prepare_cached(raw, options) != first


def test_cache_root_env_and_argument(vocab, tmp_path, monkeypatch):
    raw = raw_with_vocab(tmp_path / "raw", vocab)
    monkeypatch.setenv("SUMM_PLUGIN_CACHE", str(tmp_path / "envcache"))
    assert prepare_cached(raw, OPTIONS).startswith(str(tmp_path / "envcache"))
    assert prepare_cached(raw, OPTIONS, cache_root=str(tmp_path / "argcache")).startswith(str(tmp_path / "argcache"))


def test_explicit_bpe_files_and_bad_options(vocab, tmp_path):
    raw = make_raw_dir(str(tmp_path / "raw"), n_test=0)  # no BPE files inside
    with pytest.raises(PrepareError, match="encoder.json"):
        prepare_cached(raw, OPTIONS)
    path = prepare_cached(raw, dict(OPTIONS, encoder_json=vocab["encoder_json"], vocab_bpe=vocab["vocab_bpe"],
                                    dict=vocab["dict"]))
    assert os.path.exists(os.path.join(path, "prepare.json"))
    with pytest.raises(PrepareError, match="unknown prepare option.*max_positions"):
        prepare_cached(raw, {"max_positions": 12})
    os.remove(os.path.join(raw, "valid.jsonl"))
    with pytest.raises(PrepareError, match="no valid input"):
        prepare_cached(raw, dict(OPTIONS, encoder_json=vocab["encoder_json"], vocab_bpe=vocab["vocab_bpe"],
                                 dict=vocab["dict"]))


def test_leftover_incomplete_entry_is_rebuilt(vocab, tmp_path):
    raw = raw_with_vocab(tmp_path / "raw", vocab)
    path = prepare_cached(raw, OPTIONS)
    os.remove(os.path.join(path, "prepare.json"))  # as if a foreign writer died mid-way
    assert prepare_cached(raw, OPTIONS) == path
    assert os.path.exists(os.path.join(path, "prepare.json"))


CHILD = r"""
import json, logging, sys
logging.basicConfig(level=logging.INFO, stream=sys.stderr)
from summ_plugin.data.cache import prepare_cached
print(json.dumps(prepare_cached(sys.argv[1], json.loads(sys.argv[2]))))
"""


@pytest.mark.slow  # two fresh interpreters import fairseq: ~25 s on 2 cores
def test_two_processes_at_once_prepare_once(vocab, tmp_path):
    raw = raw_with_vocab(tmp_path / "raw", vocab)
    # enough records that the preparing process holds the lock while the other arrives
    write_jsonl(os.path.join(raw, "train.jsonl"), make_records(150, seed=1, sentences=20))
    env = dict(os.environ, PYTHONPATH=REPO)
    procs = [
        subprocess.Popen([sys.executable, "-c", CHILD, raw, json.dumps(OPTIONS)], cwd=REPO, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err[-2000:] for _, err in outs]
    paths = [json.loads(out) for out, _ in outs]
    assert paths[0] == paths[1]
    logs = [err for _, err in outs]
    assert sum("preparing" in log for log in logs) == 1
    assert sum("reusing" in log for log in logs) == 1
    entries = os.listdir(os.path.join(raw, ".summ_cache"))
    assert [e for e in entries if not e.endswith(".lock")] == [os.path.basename(paths[0])]
    meta = open(os.path.join(paths[0], "train.meta.jsonl")).read().splitlines()
    assert len(meta) == 150
