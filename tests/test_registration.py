"""Registration through --user-dir (relative, absolute), the installed package, and both at once."""
import os
import shutil
import subprocess
import sys

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


def run_check(before, *user_dirs, cwd=REPO):
    proc = subprocess.run(
        [sys.executable, "-c", CHECK.format(before=before), *user_dirs], cwd=cwd,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-3000:]
    return proc.stdout


def test_user_dir_relative_and_absolute():
    assert "module summ_plugin.tasks" in run_check("", "summ_plugin")
    assert "module summ_plugin.tasks" in run_check("", PLUGIN_DIR, cwd="/")


def test_installed_package_registers_on_import():
    out = run_check("import summ_plugin", cwd="/")
    assert "module summ_plugin.tasks" in out


def test_installed_package_and_user_dir_together():
    # the same package imported by name, then named again with --user-dir: no double registration
    run_check("import summ_plugin", PLUGIN_DIR)


def test_a_second_copy_under_another_name_does_not_crash(tmp_path):
    copy = tmp_path / "my_summ_copy"
    shutil.copytree(PLUGIN_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    out = run_check("import summ_plugin", str(copy), cwd="/")
    # the first registration wins; the copy's classes are not registered over it
    assert "module summ_plugin.tasks" in out


def test_pure_modules_do_not_import_fairseq():
    """Retrieval, scoring and file formats stay free of fairseq imports (fast to test alone)."""
    import ast

    pure = [os.path.join(PLUGIN_DIR, "retrieval", f) for f in os.listdir(os.path.join(PLUGIN_DIR, "retrieval"))
            if f.endswith(".py")]
    pure += [os.path.join(PLUGIN_DIR, f) for f in ("rouge.py", "rouge_tokens.py", "rouge_overlap.py", "report.py")]
    pure += [os.path.join(PLUGIN_DIR, "data", "records.py")]
    formats_dir = os.path.join(PLUGIN_DIR, "data", "formats")
    pure += [os.path.join(formats_dir, f) for f in os.listdir(formats_dir) if f.endswith(".py")]
    pure += [os.path.join(PLUGIN_DIR, "data", f) for f in ("text.py", "bad_records.py", "pool.py", "data_bin.py")]
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
