"""One error family: every error class of the plugin is a summ_plugin.errors.UserError, and
under fairseq-train any of them ends the run with one line."""
import ast
import importlib
import os
import pkgutil
import shutil
import subprocess
import sys

import pytest

import summ_plugin
from summ_plugin.errors import UserError, find_user_error
from tests._fairseq import REPO, fairseq_train
from tests._prepare_fixtures import make_records, write_jsonl

PACKAGE_DIR = os.path.dirname(summ_plugin.__file__)


def _plugin_modules():
    for info in pkgutil.walk_packages([PACKAGE_DIR], "summ_plugin."):
        yield importlib.import_module(info.name)


def test_every_error_class_of_the_plugin_is_a_user_error():
    errors = {}
    for module in _plugin_modules():
        for name, value in vars(module).items():
            if isinstance(value, type) and issubclass(value, BaseException) and value.__module__ == module.__name__:
                errors[f"{module.__name__}.{name}"] = value
    # the ones named in issue 22 among them, each defined once
    for name in ("checkpoints.UnsafeCheckpointError", "checkpoints.CorruptCheckpointError",
                 "restore_checks.RestoreError", "vocab_fix.VocabFixError", "positions.PositionFixError",
                 "data.data_bin.DataBinError", "data.config.PrepareError", "data.bpe.BPEFileError"):
        assert f"summ_plugin.{name}" in errors, name
    assert [name for name in errors if name.endswith(".DataBinError")] == ["summ_plugin.data.data_bin.DataBinError"]
    not_user_errors = sorted(name for name, cls in errors.items() if not issubclass(cls, UserError))
    assert not_user_errors == []


def _relative_imports(path):
    tree = ast.parse(open(path, encoding="utf-8").read())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level:
            found.add(node.module or "")
            found.update(alias.name for alias in node.names if not node.module)
    return found


def test_checkpoints_and_restore_checks_do_not_import_each_other():
    assert "restore_checks" not in _relative_imports(os.path.join(PACKAGE_DIR, "checkpoints.py"))
    assert "checkpoints" not in _relative_imports(os.path.join(PACKAGE_DIR, "restore_checks.py"))


def test_the_user_error_is_found_behind_fairseqs_wrapping():
    from summ_plugin.data.config import PrepareError

    try:
        try:
            raise PrepareError("raw/train.jsonl:3: malformed JSON")
        except PrepareError as err:
            raise Exception("Cannot load model parameters from checkpoint x.pt; please ensure ...") from err
    except Exception as wrapped:
        found = find_user_error(wrapped)
    assert isinstance(found, PrepareError) and str(found) == "raw/train.jsonl:3: malformed JSON"
    assert find_user_error(ValueError("a bug")) is None


def test_the_hook_prints_one_line_for_any_user_error_and_leaves_bugs_alone():
    """The hook as installed on import, in a fresh interpreter: a UserError subclass that no
    list names (a BPE file error) is one line, exit status 1; a plain bug keeps its traceback."""
    script = (
        "import sys, summ_plugin\n"
        "from summ_plugin.data.bpe import BPEFileError\n"
        "if sys.argv[1] == 'user':\n"
        "    raise RuntimeError('wrapped') from BPEFileError('raw/encoder.json: not a JSON object')\n"
        "raise KeyError('a bug')\n")
    env = dict(os.environ, PYTHONPATH=REPO, OMP_NUM_THREADS="1")
    user = subprocess.run([sys.executable, "-c", script, "user"], env=env, capture_output=True, text=True, timeout=300)
    assert user.returncode == 1 and "Traceback" not in user.stderr
    assert user.stderr.strip().splitlines()[-1] == "-c: error: BPEFileError: raw/encoder.json: not a JSON object"
    bug = subprocess.run([sys.executable, "-c", script, "bug"], env=env, capture_output=True, text=True, timeout=300)
    assert bug.returncode == 1 and "Traceback" in bug.stderr and "KeyError: 'a bug'" in bug.stderr


@pytest.mark.usefixtures("fairseq_processes")
@pytest.mark.parametrize("broken", ["train.jsonl", "encoder.json"])
def test_fairseq_train_on_a_broken_raw_directory_is_one_line(tiny_raw_dir, tmp_path, broken):
    """A raw directory as fairseq-train's DATA is prepared by the task: its bad record or bad
    BPE file (summ-prepare's PrepareError) ends the run with one line naming the file."""
    raw = tmp_path / "raw"
    shutil.copytree(tiny_raw_dir, raw, ignore=shutil.ignore_patterns(".summ_cache"))
    if broken == "train.jsonl":
        lines = (raw / "train.jsonl").read_text(encoding="utf-8").splitlines()
        lines.insert(2, '{"id": "cut", "document": ')
        (raw / "train.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
        where = f"{raw / 'train.jsonl'}:3"
    else:
        (raw / "encoder.json").write_text("[1, 2, 3]", encoding="utf-8")
        where = str(raw / "encoder.json")
    write_jsonl(str(raw / "test.jsonl"), make_records(2, seed=5))
    proc = fairseq_train(str(raw), str(tmp_path / "ckpt"), "--max-update", "1", "--raw-cache-dir",
                         str(tmp_path / "cache"), check=False)
    assert proc.returncode == 1, proc.stdout[-3000:]
    assert "Traceback" not in proc.stdout, proc.stdout[-4000:]
    last = proc.stdout.strip().splitlines()[-1]
    assert last.startswith("fairseq-train: error: PrepareError: ") and where in last, last
