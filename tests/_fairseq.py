"""Running real fairseq console scripts (fairseq-train, fairseq-generate, ...) in tests, and the
one way tests train: ``train_command`` / ``fairseq_train``."""
import json
import os
import re
import subprocess
from typing import List, Optional

# the script paths, shared with the benchmarks
from bench.commands import BIN, PLUGIN_DIR, REPO, script  # noqa: F401 (re-exported)

# the task and criterion of each side: the plugin's, and stock fairseq's (-s/-t: a summ-prepare
# data-bin holds source/target files, and the tiny data-bins of tests/_checkpoint_fixtures too)
PLUGIN_TASK = ["--task", "retrieve_summarize", "--criterion", "summarization_cross_entropy", "--label-smoothing", "0.1"]
STOCK_TASK = ["--task", "translation", "--source-lang", "source", "--target-lang", "target",
              "--criterion", "label_smoothed_cross_entropy", "--label-smoothing", "0.1"]
TRAIN_COMMON = [
    "--cpu", "--seed", "1", "--num-workers", "0", "--max-tokens", "2048",
    "--optimizer", "adam", "--lr", "1e-3", "--required-batch-size-multiple", "1",
    "--no-progress-bar", "--log-interval", "1", "--log-format", "json",
]


# Set by conftest for each test: whether it is marked slow (None outside pytest).
RUNNING_TEST_IS_SLOW = None


def check_fairseq_process_allowed(cmd) -> None:
    """A fairseq console script takes seconds to start: only tests marked slow may run one, and
    they get the mark by requesting the ``fairseq_processes`` fixture (tests/conftest.py)."""
    if RUNNING_TEST_IS_SLOW is False and os.path.basename(str(cmd[0])).startswith("fairseq-"):
        raise AssertionError(
            f"{os.path.basename(str(cmd[0]))} started by a test not marked slow: request the "
            "fairseq_processes fixture in the test (or its fixture), which marks it slow")


def process_env(env=None) -> dict:
    """The environment of every process a test starts: one OpenMP thread, unbuffered output, this
    venv's scripts first on PATH."""
    full_env = dict(os.environ, PYTHONUNBUFFERED="1", OMP_NUM_THREADS="1")
    full_env["PATH"] = BIN + os.pathsep + full_env.get("PATH", "")
    full_env.update(env or {})
    return full_env


def run(cmd, cwd=None, env=None, check=True, timeout=600):
    """Run a command, returning its combined output; fail the test with the output on error.
    ``check=False``: the CompletedProcess instead, whatever its exit status."""
    check_fairseq_process_allowed(cmd)
    proc = subprocess.run(
        [str(c) for c in cmd], cwd=cwd, env=process_env(env), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, timeout=timeout,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"command failed ({proc.returncode}): {' '.join(map(str, cmd))}\n{proc.stdout[-6000:]}")
    return proc.stdout if check else proc


def train_args(data, *extra, task: List[str] = PLUGIN_TASK, user_dir: Optional[str] = PLUGIN_DIR) -> List[str]:
    """fairseq-train's arguments for the tiny model on ``data``: ``task`` is PLUGIN_TASK or
    STOCK_TASK, ``user_dir`` None for stock fairseq; ``extra`` comes last, so it may override."""
    # imported here: the summ_plugin package loads fairseq (seconds), which conftest, and so every
    # test, imports this module for
    from summ_plugin.tiny_model import tiny_bart_cli_args

    return [str(data), *(["--user-dir", str(user_dir)] if user_dir else []), *task, *tiny_bart_cli_args(),
            *TRAIN_COMMON, *map(str, extra)]


def train_command(data, save_dir, *extra, task: List[str] = PLUGIN_TASK,
                  user_dir: Optional[str] = PLUGIN_DIR) -> List[str]:
    """The fairseq-train command line of ``train_args``, saving to ``save_dir``."""
    return [script("fairseq-train"), *train_args(data, "--save-dir", save_dir, *extra, task=task, user_dir=user_dir)]


def fairseq_train(data, save_dir, *extra, task: List[str] = PLUGIN_TASK, user_dir: Optional[str] = PLUGIN_DIR,
                  cwd=None, check=True, timeout=600):
    """Run ``train_command``: its output, or with ``check=False`` the CompletedProcess."""
    return run(train_command(data, save_dir, *extra, task=task, user_dir=user_dir), cwd=cwd, check=check,
               timeout=timeout)


def json_log_lines(output, tag):
    """The JSON stats fairseq logs for one tag ('train', 'valid', 'train_inner')."""
    stats = []
    for line in output.splitlines():
        match = re.search(r"\| %s \| (\{.*\})\s*$" % re.escape(tag), line)
        if match:
            stats.append(json.loads(match.group(1)))
    return stats


def train_losses(output) -> List[float]:
    """Per-update training losses (``--log-interval 1``)."""
    return [float(stats["loss"]) for stats in json_log_lines(output, "train_inner")]
