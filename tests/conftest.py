"""Session fixtures: a tiny GPT-2-format BPE and a data-bin made by summ-prepare from it;
the rule that marks every test starting fairseq processes ``slow``."""
import os
import shutil

# One OpenMP thread per process, set before torch and scikit-learn load their runtimes: on the
# 2-core machines tests run on (often beside other jobs), OpenMP threads spinning against each
# other made the selector-training tests 2-3x slower (26 s vs 10 s for the retrieval tests).
# The fairseq subprocesses the tests start already run with one thread (tests._fairseq).
os.environ.setdefault("OMP_NUM_THREADS", "1")

import pytest  # noqa: E402
from hypothesis import settings  # noqa: E402

from tests import _fairseq  # noqa: E402
from tests._prepare_fixtures import build_vocab, make_raw_dir  # noqa: E402


# Property tests are deterministic: the same examples on every run and machine, no example
# database, so a suite passes or fails for the code alone (a randomly found counterexample
# made runs fail at random). A new counterexample found while exploring goes in as an
# @example. Explore with HYPOTHESIS_PROFILE=explore (random, more examples, local database).
settings.register_profile("deterministic", derandomize=True, database=None, print_blob=True)
settings.register_profile("explore", derandomize=False, max_examples=2000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "deterministic"))


@pytest.fixture(scope="session")
def fairseq_processes():
    """Requested by every test or fixture that starts fairseq-train, -generate or -hydra-train
    (seconds each on 2 cores): the tests that use it, directly or through another fixture,
    are marked ``slow`` below, so ``-m "not slow"`` leaves them out without marks by hand."""
    return _fairseq


@pytest.hookimpl(tryfirst=True)  # before -m deselects by mark
def pytest_collection_modifyitems(config, items):
    for item in items:
        if "fairseq_processes" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    # read by tests._fairseq, which refuses to start a fairseq process in a test not marked slow
    _fairseq.RUNNING_TEST_IS_SLOW = item.get_closest_marker("slow") is not None


@pytest.fixture(scope="session")
def tiny_vocab(tmp_path_factory):
    """encoder.json, vocab.bpe (byte-level BPE in GPT-2 format) and dict.txt."""
    return build_vocab(str(tmp_path_factory.mktemp("vocab")))


@pytest.fixture(scope="session")
def tiny_raw_dir(tmp_path_factory, tiny_vocab):
    """train/valid/test JSONL plus the BPE files and dict.txt, as the task's raw mode wants them."""
    root = make_raw_dir(str(tmp_path_factory.mktemp("raw")), n_train=24, n_valid=6, n_test=4, with_query=True)
    for key, name in (("encoder_json", "encoder.json"), ("vocab_bpe", "vocab.bpe"), ("dict", "dict.txt")):
        shutil.copyfile(tiny_vocab[key], os.path.join(root, name))
    return root


@pytest.fixture(scope="session")
def tiny_data_bin(tmp_path_factory, tiny_vocab, tiny_raw_dir):
    """A data-bin prepared with bm25 (oracle for train) under a 96-token source budget."""
    from summ_plugin.data.config import PrepareConfig
    from summ_plugin.data.prepare import find_split_inputs, prepare_data_bin

    dest = os.path.join(str(tmp_path_factory.mktemp("bin")), "data-bin")
    config = PrepareConfig(
        destdir=dest, encoder_json=tiny_vocab["encoder_json"], vocab_bpe=tiny_vocab["vocab_bpe"],
        dict_path=tiny_vocab["dict"], inputs=find_split_inputs(tiny_raw_dir), retriever="bm25",
        train_retriever="oracle", max_source_positions=96, max_target_positions=64,
    )
    return prepare_data_bin(config)


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory, tiny_data_bin, fairseq_processes):
    """checkpoint_last.pt of a tiny model trained 3 updates on tiny_data_bin."""
    from tests._fairseq import fairseq_train

    save = str(tmp_path_factory.mktemp("tiny_ckpt"))
    fairseq_train(tiny_data_bin, save, "--max-update", "3")
    return os.path.join(save, "checkpoint_last.pt")
