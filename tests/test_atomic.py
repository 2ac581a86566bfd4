"""summ_plugin.atomic: the one atomic file writer (temp file next to the target, then rename)."""
import os
import stat

import pytest

from summ_plugin.atomic import atomic_output, atomic_write_json, atomic_write_text


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
