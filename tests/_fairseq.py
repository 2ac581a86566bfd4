"""Running real fairseq console scripts (fairseq-train, fairseq-generate, ...) in tests."""
import os
import subprocess

# One definition of the tiny bart_base-architecture model (1 layer, 16 dims: seconds on 2 CPU
# cores) and of the script paths, shared with the benchmarks.
from bench.commands import BIN, PLUGIN_DIR, REPO, TINY_BART, script  # noqa: F401 (re-exported)

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


def run(cmd, cwd=None, env=None, check=True, timeout=600):
    """Run a command, returning its combined output; fail the test with the output on error."""
    check_fairseq_process_allowed(cmd)
    full_env = dict(os.environ, PYTHONUNBUFFERED="1", OMP_NUM_THREADS="1")
    full_env["PATH"] = BIN + os.pathsep + full_env.get("PATH", "")
    full_env.update(env or {})
    proc = subprocess.run(
        [str(c) for c in cmd], cwd=cwd, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, timeout=timeout,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"command failed ({proc.returncode}): {' '.join(map(str, cmd))}\n{proc.stdout[-6000:]}")
    return proc.stdout if check else proc


def fairseq_train(data, save_dir, *extra, user_dir=PLUGIN_DIR, cwd=None, check=True):
    cmd = [script("fairseq-train"), data, "--user-dir", user_dir, "--task", "retrieve_summarize",
           "--criterion", "summarization_cross_entropy", "--label-smoothing", "0.1",
           *TINY_BART, *TRAIN_COMMON, "--save-dir", save_dir, *extra]
    return run(cmd, cwd=cwd, check=check)
