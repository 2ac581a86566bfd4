"""Registration through --user-dir (relative, absolute), the installed package, and both at once."""
import os
import shutil
import subprocess
import sys

import pytest

from tests._fairseq import PLUGIN_DIR, REPO

CHECK = """
import sys
from argparse import Namespace
from fairseq import utils
from fairseq.tasks import TASK_REGISTRY
from fairseq.criterions import CRITERION_REGISTRY
{before}
for user_dir in sys.argv[1:]:
    utils.import_user_module(Namespace(user_dir=user_dir))
assert "retrieve_summarize" in TASK_REGISTRY, "task not registered"
assert "summarization_cross_entropy" in CRITERION_REGISTRY, "criterion not registered"
print("module", TASK_REGISTRY["retrieve_summarize"].__module__)
"""


# Each check is a fresh interpreter (registration happens at import); they are started together
# and run side by side, since each spends its ~3 s importing fairseq.
CHECKS = {
    "relative user-dir": ("", ["summ_plugin"], REPO),
    "absolute user-dir": ("", [PLUGIN_DIR], "/"),
    "installed package": ("import summ_plugin", [], "/"),
    # the same package imported by name, then named again with --user-dir: no double registration
    "package and user-dir": ("import summ_plugin", [PLUGIN_DIR], REPO),
    # a copy under another name: the first registration wins, the copy's classes are not registered over it
    "second copy": ("import summ_plugin", ["{copy}"], "/"),
}


@pytest.fixture(scope="module")
def check_outputs(tmp_path_factory):
    copy = tmp_path_factory.mktemp("copy") / "my_summ_copy"
    shutil.copytree(PLUGIN_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    procs = {
        name: subprocess.Popen(
            [sys.executable, "-c", CHECK.format(before=before), *(d.format(copy=copy) for d in user_dirs)], cwd=cwd,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        for name, (before, user_dirs, cwd) in CHECKS.items()
    }
    outputs = {}
    for name, proc in procs.items():
        out, _ = proc.communicate(timeout=300)
        outputs[name] = (proc.returncode, out)
    return outputs


def registered_by(check_outputs, name):
    code, out = check_outputs[name]
    assert code == 0, out[-3000:]
    return out


def test_user_dir_relative_and_absolute(check_outputs):
    assert "module summ_plugin.tasks" in registered_by(check_outputs, "relative user-dir")
    assert "module summ_plugin.tasks" in registered_by(check_outputs, "absolute user-dir")


def test_installed_package_registers_on_import(check_outputs):
    assert "module summ_plugin.tasks" in registered_by(check_outputs, "installed package")


def test_installed_package_and_user_dir_together(check_outputs):
    assert "module summ_plugin.tasks" in registered_by(check_outputs, "package and user-dir")


def test_a_second_copy_under_another_name_does_not_crash(check_outputs):
    assert "module summ_plugin.tasks" in registered_by(check_outputs, "second copy")


def test_pure_modules_do_not_import_fairseq():
    """Retrieval, scoring and file formats stay free of fairseq imports (fast to test alone)."""
    import ast

    pure = [os.path.join(PLUGIN_DIR, "retrieval", f) for f in os.listdir(os.path.join(PLUGIN_DIR, "retrieval"))
            if f.endswith(".py")]
    pure += [os.path.join(PLUGIN_DIR, f) for f in ("rouge.py", "rouge_tokens.py", "rouge_overlap.py", "report.py",
                                                   "errors.py", "atomic.py", "safe_io.py", "checkpoint_format.py",
                                                   "checkpoint_contents.py", "numbers.py", "scoring.py",
                                                   "summarizer.py", "generation_settings.py")]
    pure += [os.path.join(PLUGIN_DIR, "export_hf", "inference.py")]
    pure += [os.path.join(PLUGIN_DIR, "data", "records.py")]
    formats_dir = os.path.join(PLUGIN_DIR, "data", "formats")
    pure += [os.path.join(formats_dir, f) for f in os.listdir(formats_dir) if f.endswith(".py")]
    pure += [os.path.join(PLUGIN_DIR, "data", f) for f in ("text.py", "bad_records.py", "pool.py", "data_bin.py",
                                                           "bpe_record.py")]
    for path in pure:
        with open(path, encoding="utf-8") as handle:
            tree = ast.parse(handle.read(), path)
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] if node.level == 0 else []
            assert not any(n == "fairseq" or n.startswith("fairseq.") for n in names), f"{path} imports {names}"
