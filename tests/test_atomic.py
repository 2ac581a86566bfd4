"""summ_plugin.atomic: the one atomic writer of files and directories (a PID-named temp next to
the target, then rename; a killed run's temp is removed by the next run)."""
import logging
import os
import signal
import stat

import pytest

from summ_plugin.atomic import (
    DestinationChangedError, atomic_output, atomic_write_json, atomic_write_text, directory_state, publish_directory,
)


class Boom(Exception):
    pass


def test_an_error_mid_write_keeps_the_old_file_and_leaves_no_temp(tmp_path):
    target = tmp_path / "out.jsonl"
    target.write_text("old\n", encoding="utf-8")
    with pytest.raises(Boom):
        with atomic_output(str(target)) as handle:
            handle.write("new, half written\n" * 1000)
            handle.flush()
            raise Boom()
    assert target.read_text(encoding="utf-8") == "old\n"
    assert os.listdir(tmp_path) == ["out.jsonl"]


def test_an_error_mid_write_of_a_new_file_leaves_nothing(tmp_path):
    target = tmp_path / "sub" / "out.bin"
    with pytest.raises(Boom):
        with atomic_output(str(target), "wb") as handle:
            handle.write(b"\x00" * 100)
            raise Boom()
    assert not target.exists()
    assert os.listdir(tmp_path / "sub") == []


def test_complete_writes_replace_the_file_with_the_usual_mode(tmp_path):
    previous = os.umask(0o027)
    try:
        target = tmp_path / "out.txt"
        target.write_text("old\n", encoding="utf-8")
        atomic_write_text(str(target), "ü\nnew\n")
        assert target.read_bytes() == "ü\nnew\n".encode("utf-8")
        atomic_write_json(str(tmp_path / "o.json"), {"a": [1, "é"]})
        assert (tmp_path / "o.json").read_text(encoding="utf-8") == '{\n  "a": [\n    1,\n    "é"\n  ]\n}\n'
    finally:
        os.umask(previous)
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o640
    assert sorted(os.listdir(tmp_path)) == ["o.json", "out.txt"]


# ----------------------------------------------------------------------------- killed writers


def _killed_child(write) -> int:
    """Fork a child that calls ``write()`` and is SIGKILLed inside it (what the OOM killer or
    kill -9 does: no clean-up runs); return its PID once it is gone."""
    pid = os.fork()
    if pid == 0:  # the child
        try:
            write()
        finally:
            os._exit(3)  # not reached: write() kills the child
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    return pid


def test_a_killed_writers_temp_file_is_pid_named_and_removed_by_the_next_write(tmp_path, caplog):
    target = tmp_path / "hyps.jsonl"

    def write():
        with atomic_output(str(target)) as handle:
            handle.write("half written\n" * 1000)
            handle.flush()
            os.kill(os.getpid(), signal.SIGKILL)

    pid = _killed_child(write)
    assert os.listdir(tmp_path) == [f".hyps.jsonl.tmp-{pid}"]  # the debris: hidden, named by its PID
    other = tmp_path / f".other.jsonl.tmp-{pid}"  # another output's: not this write's business
    other.write_text("x")
    live = tmp_path / ".hyps.jsonl.tmp-1"  # PID 1 is alive: a running writer's file is left alone
    live.write_text("x")
    with caplog.at_level(logging.WARNING, logger="summ_plugin.safe_io"):
        atomic_write_text(str(target), "done\n")
    assert sorted(os.listdir(tmp_path)) == sorted(["hyps.jsonl", other.name, live.name])
    assert target.read_text() == "done\n"
    assert f"removed {tmp_path / f'.hyps.jsonl.tmp-{pid}'}: temporary file left by a run that was killed" in caplog.text


def test_publish_directory_builds_under_the_pid_and_cleans_a_killed_runs_directory(tmp_path, caplog):
    dest = tmp_path / "export"

    def build():
        with publish_directory(str(dest)) as tmp:
            with open(os.path.join(tmp, "model.safetensors"), "wb") as handle:
                handle.write(b"\x00" * 1000)
            os.kill(os.getpid(), signal.SIGKILL)

    pid = _killed_child(build)
    assert os.listdir(tmp_path) == [f"export.tmp-{pid}"]
    with caplog.at_level(logging.WARNING, logger="summ_plugin.safe_io"):
        with publish_directory(str(dest)) as tmp:
            assert tmp == f"{dest}.tmp-{os.getpid()}"
            (tmp_path / tmp / "config.json").write_text("{}")
    assert os.listdir(tmp_path) == ["export"] and os.listdir(dest) == ["config.json"]
    assert f"temporary directory left by a run that was killed (pid {pid} is gone)" in caplog.text


def test_publish_directory_replaces_only_what_was_checked(tmp_path):
    dest = tmp_path / "bin"
    with pytest.raises(Boom):
        with publish_directory(str(dest)) as tmp:
            (tmp_path / tmp / "half").write_text("x")
            raise Boom()
    assert os.listdir(tmp_path) == []  # a failed run leaves nothing
    # a new directory: published; then replaced when it is the one checked at start
    with publish_directory(str(dest)) as tmp:
        (tmp_path / tmp / "prepare.json").write_text("1")
    state = directory_state(str(dest), "prepare.json")
    with publish_directory(str(dest), state, "prepare.json") as tmp:
        (tmp_path / tmp / "prepare.json").write_text("2")
    assert (dest / "prepare.json").read_text() == "2" and os.listdir(tmp_path) == ["bin"]
    # something made or changed at the destination during the run is left alone
    stale_state = directory_state(str(dest), "prepare.json")
    with pytest.raises(DestinationChangedError, match="changed while this run was working"):
        with publish_directory(str(dest), stale_state, "prepare.json") as tmp:
            (dest / "prepare.json").write_text("someone else's, longer")
    assert (dest / "prepare.json").read_text() == "someone else's, longer" and os.listdir(tmp_path) == ["bin"]
    with pytest.raises(DestinationChangedError):
        with publish_directory(str(tmp_path / "new")) as tmp:
            (tmp_path / "new").mkdir()
    assert sorted(os.listdir(tmp_path)) == ["bin", "new"] and os.listdir(tmp_path / "new") == []
