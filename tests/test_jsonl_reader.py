"""The one JSONL reader (summ_plugin.data.formats.iter_jsonl_objects) and the readers built on it."""
import gzip
import json

import pytest

from summ_plugin.data.formats import iter_jsonl_objects
from summ_plugin.data.records import BadRecordError


def test_objects_come_with_file_and_line_and_blank_lines_are_skipped(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_bytes(b'{"n": 1}\n\n  \t\n{"n": 2}\r\n["not", "an", "object"]\n')
    assert list(iter_jsonl_objects(str(path))) == [
        (f"{path}:1", {"n": 1}),
        (f"{path}:4", {"n": 2}),  # blank lines still count
        (f"{path}:5", ["not", "an", "object"]),  # the shape is the caller's check
    ]


def test_a_bad_line_names_file_and_line_and_the_stream_goes_on(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_bytes(b'{"n": 1}\n{"n": \n{"n": \xff}\n{"n": 4}\n')
    items = list(iter_jsonl_objects(str(path)))
    assert [location for location, _ in items] == [f"{path}:{n}" for n in (1, 2, 3, 4)]
    assert items[0][1] == {"n": 1} and items[3][1] == {"n": 4}
    bad_json, bad_utf8 = items[1][1], items[2][1]
    assert isinstance(bad_json, BadRecordError) and str(bad_json) == f"{path}:2: malformed JSON: Expecting value"
    assert isinstance(bad_utf8, BadRecordError) and str(bad_utf8) == f"{path}:3: invalid UTF-8 at byte 6"


def test_gzip_reads_as_the_plain_file(tmp_path):
    data = b'{"n": 1}\n\n{"n": 2}\n'
    plain, packed = tmp_path / "a.jsonl", tmp_path / "a.jsonl.gz"
    plain.write_bytes(data)
    packed.write_bytes(gzip.compress(data))
    assert [obj for _, obj in iter_jsonl_objects(str(packed))] == [{"n": 1}, {"n": 2}]
    assert [loc for loc, _ in iter_jsonl_objects(str(packed))] == [f"{packed}:1", f"{packed}:3"]


def test_a_truncated_gzip_ends_with_one_error_after_the_last_complete_line(tmp_path):
    lines = [json.dumps({"n": i, "pad": "x" * (i % 7)}) for i in range(2000)]
    data = gzip.compress(("\n".join(lines) + "\n").encode("utf-8"))
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(data[: len(data) // 2])
    items = list(iter_jsonl_objects(str(path)))  # no EOFError escapes
    *good, (location, last) = items
    assert 0 < len(good) < 2000
    assert [obj for _, obj in good] == [json.loads(line) for line in lines[: len(good)]]
    assert isinstance(last, BadRecordError) and location == last.location == f"{path}:{len(good) + 1}"
    assert f"truncated or corrupt after line {len(good)}" in last.reason


def test_support_weights_read_meta_jsonl_through_it(tmp_path):
    from summ_plugin.tasks.support_weights import SupportWeightsError, load_support_weights

    meta = tmp_path / "train.meta.jsonl"
    meta.write_text('{"rouge1_recall": 0.5}\n{"rouge1_recall": 0.5\n', encoding="utf-8")
    with pytest.raises(SupportWeightsError, match=f"^{meta}:2: malformed JSON"):
        load_support_weights(str(tmp_path), "train", 2, power=1.0, floor=0.1)
    meta.write_text('{"rouge1_recall": 0.5}\n{"other": 1}\n', encoding="utf-8")
    with pytest.raises(ValueError, match=f"^{meta}:2: no 'rouge1_recall'"):
        load_support_weights(str(tmp_path), "train", 2, power=1.0, floor=0.1)
