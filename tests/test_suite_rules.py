"""The suite's own rule: only tests marked slow (through the fairseq_processes fixture) start
fairseq processes, so that `-m "not slow"` stays fast."""
import pytest

from tests import _fairseq


def test_a_fast_test_may_not_start_a_fairseq_process():
    # refused before anything starts: fairseq-train --help would otherwise take seconds
    with pytest.raises(AssertionError, match="fairseq_processes fixture"):
        _fairseq.run([_fairseq.script("fairseq-train"), "--help"])


def test_other_commands_are_not_affected():
    assert _fairseq.run(["echo", "fast"]).strip() == "fast"


@pytest.mark.usefixtures("fairseq_processes")
def test_the_fixture_marks_the_test_slow(request):
    assert request.node.get_closest_marker("slow") is not None
