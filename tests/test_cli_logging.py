"""Quiet start-up: the summ-* tools log at INFO, without fairseq's import-time noise."""
import os
import re
import subprocess
import sys

from tests._fairseq import BIN, run, script
from tests._prepare_fixtures import make_raw_dir

# fairseq's import notice, and the 48-name allow-list summ_plugin.checkpoints logs at DEBUG
NOISE = ("Please install tensorboardX", "globals that fairseq checkpoints hold")
# a DEBUG record in either log format: ours ("| DEBUG |") or logging's default ("DEBUG:name:")
DEBUG_LINE = re.compile(r"\| DEBUG \||^DEBUG:", re.MULTILINE)


def test_eval_retrieval_logs_info_and_no_debug_or_import_noise(tmp_path):
    raw = make_raw_dir(str(tmp_path), n_train=1, n_valid=4, n_test=0, with_query=True)
    # bm25 with a query and a budget that cuts passages: the code paths that log per record at DEBUG
    proc = run([script("summ-eval-retrieval"), "--input", os.path.join(raw, "valid.jsonl"),
                "--retrievers", "lead,bm25", "--max-positions", "32"], check=False)
    assert proc.returncode == 0, proc.stdout
    # the INFO line this run logs is there: logging is on, at INFO
    assert "| INFO | summ_plugin.cli.eval_retrieval | no --encoder-json/--vocab-bpe" in proc.stdout
    assert not DEBUG_LINE.search(proc.stdout), proc.stdout
    for noise in NOISE:
        assert noise not in proc.stdout


def test_importing_the_plugin_leaves_the_root_logger_unconfigured():
    # fairseq's import runs logging.basicConfig(level=DEBUG); after `import summ_plugin` the
    # program's own basicConfig must still take effect, and nothing is printed on import
    code = ("import logging, summ_plugin; root = logging.getLogger(); "
            "print(len(root.handlers), logging.getLevelName(root.level))")
    proc = subprocess.run([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          env=dict(os.environ, PATH=BIN + os.pathsep + os.environ.get("PATH", "")), timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "0 WARNING"
    assert proc.stderr == ""


def test_every_summ_tool_sets_up_logging_the_one_way():
    cli_dir = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "summ_plugin", "cli")
    tools = [name for name in sorted(os.listdir(cli_dir))
             if name.endswith(".py") and name not in ("__init__.py", "common.py")]
    assert len(tools) == 9  # the 9 summ-* console scripts of setup.py
    for name in tools:
        with open(os.path.join(cli_dir, name), encoding="utf-8") as handle:
            source = handle.read()
        assert "run_main(" in source, name  # cli.common.run_main sets up logging
        assert "logging.basicConfig" not in source, name
