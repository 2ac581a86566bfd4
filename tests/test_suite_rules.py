"""The suite's own rules: only tests marked slow (through the fairseq_processes fixture) start
fairseq processes, so that `-m "not slow"` stays fast; every test trains through one helper."""
import ast
import glob
import os

import pytest

from tests import _fairseq


def test_a_fast_test_may_not_start_a_fairseq_process():
    # refused before anything starts: fairseq-train --help would otherwise take seconds
    with pytest.raises(AssertionError, match="fairseq_processes fixture"):
        _fairseq.run(_fairseq.train_command("no-data", "no-save-dir"))


def test_other_commands_are_not_affected():
    assert _fairseq.run(["echo", "fast"]).strip() == "fast"


@pytest.mark.usefixtures("fairseq_processes")
def test_the_fixture_marks_the_test_slow(request):
    assert request.node.get_closest_marker("slow") is not None


def test_only_the_helper_names_fairseq_train():
    # a test that trains builds its command with tests/_fairseq.train_command (the tiny model,
    # the task, the common options), not by hand
    tests_dir = os.path.dirname(os.path.abspath(__file__))
    by_hand = []
    for path in sorted(glob.glob(os.path.join(tests_dir, "*.py"))):
        if os.path.basename(path) in ("_fairseq.py", os.path.basename(__file__)):
            continue
        with open(path, encoding="utf-8") as handle:
            tree = ast.parse(handle.read(), path)
        by_hand += [f"{os.path.basename(path)}:{node.lineno}" for node in ast.walk(tree)
                    if isinstance(node, ast.Constant) and node.value == "fairseq-train"]
    assert by_hand == []


def test_property_tests_are_deterministic():
    """The suite's Hypothesis profile (tests/conftest.py) draws the same examples on every run
    and keeps no example database; no test opts out of it."""
    from hypothesis import settings

    if os.environ.get("HYPOTHESIS_PROFILE", "deterministic") == "deterministic":
        assert settings.default.derandomize is True and settings.default.database is None
    tests_dir = os.path.dirname(os.path.abspath(__file__))
    for path in glob.glob(os.path.join(tests_dir, "test_*.py")):
        tree = ast.parse(open(path, encoding="utf-8").read(), path)
        for node in ast.walk(tree):
            if isinstance(node, ast.keyword) and node.arg in ("derandomize", "database"):
                raise AssertionError(f"{path}:{node.value.lineno}: '{node.arg}=' overrides the deterministic profile")
