"""Tests for summ_plugin.data.formats: CNN/DM stories, HF-style JSONL/CSV/Parquet exports, convert."""
import csv
import gzip
import hashlib
import json
import os

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from summ_plugin.data.formats import (
    FORMATS,
    CnnDmStats,
    InputFormatError,
    cnndm_story_id,
    detect_format,
    field_names_from_options,
    iter_input_records,
    read_cnndm_story,
    split_input_path,
    write_canonical_jsonl,
)
from summ_plugin.data.records import BadRecordError, FieldNames, Record


def _split(items):
    records = [x for x in items if isinstance(x, Record)]
    errors = [x for x in items if isinstance(x, BadRecordError)]
    assert len(records) + len(errors) == len(items)
    return records, errors


# ------------------------------------------------------------------------------ CNN/DM stories

URL_CNN = "http://web.archive.org/web/20150401000000/http://www.cnn.com/2015/04/01/world/zurich-story/index.html"
URL_DM = "http://web.archive.org/web/20150402000000/http://www.dailymail.co.uk/news/article-1/Tokyo.html"
URL_NO_HL = "http://web.archive.org/web/20150403000000/http://www.cnn.com/2015/04/03/no-highlights/index.html"
URL_MISSING = "http://web.archive.org/web/20150404000000/http://www.cnn.com/2015/04/04/gone/index.html"
URL_EMPTY = "http://web.archive.org/web/20150405000000/http://www.dailymail.co.uk/news/article-2/empty.html"
URL_VALID = "http://web.archive.org/web/20150406000000/http://www.cnn.com/2015/04/06/valid/index.html"

STORY_CNN = (
    "Zürich (CNN) -- The café on the Limmat reopened on Monday.\n"
    "\n"
    "Its owner, Zoë Müller, said: “We are back”\n"
    "\n"
    "Photo: the terrace in spring\n"
    "\n"
    "@highlight\n"
    "\n"
    "Café in Zürich reopens\n"
    "\n"
    "@highlight\n"
    "\n"
    "Owner Zoë Müller is “back”\n"
)
STORY_DM = (
    "By . Staff Reporter .\n\n"
    "東京 — Tokyo's mayor spoke on Tuesday (local time).\n\n"
    "Crowds cheered 🎉!\n\n"
    "@highlight\n\n"
    "Mayor of 東京 speaks\n\n"
    "@highlight\n\n"
    "Crowds cheered\n"
)
STORY_NO_HL = "Some article text without any highlight markers.\n\nA second paragraph.\n"
STORY_EMPTY = "\n\n@highlight\n\nA highlight of an article that is not there\n"
STORY_VALID = "Validation story text.\n\n@highlight\n\nValidation highlight\n"


def _write_story(directory, url, text):
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, hashlib.sha1(url.encode("utf-8")).hexdigest() + ".story")
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path


@pytest.fixture
def stories_root(tmp_path):
    """A CNN/DM root as the two tarballs extract (cnn/stories, dailymail/stories) + url_lists/."""
    root = tmp_path / "cnndm"
    cnn = str(root / "cnn" / "stories")
    dm = str(root / "dailymail" / "stories")
    _write_story(cnn, URL_CNN, STORY_CNN)
    _write_story(dm, URL_DM, STORY_DM)
    _write_story(cnn, URL_NO_HL, STORY_NO_HL)
    _write_story(dm, URL_EMPTY, STORY_EMPTY)
    _write_story(cnn, URL_VALID, STORY_VALID)
    lists = root / "url_lists"
    lists.mkdir()
    (lists / "all_train.txt").write_text(
        "\n".join([URL_CNN, URL_NO_HL, URL_MISSING, URL_DM, "", URL_EMPTY]) + "\n", encoding="utf-8")
    (lists / "all_val.txt").write_text(URL_VALID + "\n", encoding="utf-8")
    (lists / "all_test.txt").write_text(URL_MISSING + "\n", encoding="utf-8")
    return str(root)


def test_story_id_is_sha1_of_url():
    assert cnndm_story_id(URL_CNN) == hashlib.sha1(URL_CNN.encode()).hexdigest()
    assert cnndm_story_id(URL_CNN + "\n") == cnndm_story_id(URL_CNN)


def test_read_story_follows_make_datafiles_rules(tmp_path):
    path = _write_story(str(tmp_path), URL_CNN, STORY_CNN)
    article, highlights = read_cnndm_story(path)
    # lines joined by a space; caption without final punctuation gets " ."; a closing curly
    # quote counts as final punctuation; "(CNN) --" byline kept; Unicode unchanged
    assert article == (
        "Zürich (CNN) -- The café on the Limmat reopened on Monday. "
        "Its owner, Zoë Müller, said: “We are back” "
        "Photo: the terrace in spring ."
    )
    assert highlights == ["Café in Zürich reopens .", "Owner Zoë Müller is “back”"]


def test_read_story_invalid_utf8_names_file(tmp_path):
    path = tmp_path / "bad.story"
    path.write_bytes(b"caf\xe9 story\n\n@highlight\n\nx\n")
    with pytest.raises(BadRecordError) as info:
        read_cnndm_story(str(path))
    assert str(path) in str(info.value) and "invalid UTF-8 at byte 3" in str(info.value)


def test_cnndm_train_split_counts_and_lists_bad_stories(stories_root):
    stats = CnnDmStats()
    items = list(iter_input_records(stories_root, "cnndm-stories", split="train", stats=stats))
    records, errors = _split(items)
    # URL-list order is kept; the blank line is ignored
    assert [r.id for r in records] == [cnndm_story_id(URL_CNN), cnndm_story_id(URL_DM)]
    dm = records[1]
    assert dm.documents == ["By . Staff Reporter . 東京 — Tokyo's mayor spoke on Tuesday (local time). Crowds cheered 🎉!"]
    # the reference is the highlights one per line, so ROUGE-Lsum sees the sentence boundaries
    assert dm.summary == "Mayor of 東京 speaks .\nCrowds cheered ."
    assert dm.location.endswith(cnndm_story_id(URL_DM) + ".story")

    reasons = {e.record_id: e.reason for e in errors}
    assert reasons[cnndm_story_id(URL_NO_HL)] == "no highlights"
    assert reasons[cnndm_story_id(URL_EMPTY)] == "empty article"
    missing = [e for e in errors if e.record_id == cnndm_story_id(URL_MISSING)][0]
    assert missing.reason.startswith(f"story missing for URL {URL_MISSING}")
    assert missing.location.endswith("all_train.txt:3")

    assert stats.urls == 5 and stats.read == 2
    assert stats.missing == [URL_MISSING]
    assert stats.no_highlights == [cnndm_story_id(URL_NO_HL)]
    assert stats.empty_article == [cnndm_story_id(URL_EMPTY)]
    assert "5 URLs, 2 stories usable, 1 missing, 1 with an empty article, 1 without highlights" in stats.summary_line()


def test_cnndm_summary_log_names_missing_url(stories_root, caplog):
    caplog.set_level("INFO", logger="summ_plugin.data.formats")
    list(iter_input_records(stories_root, "auto", split="test"))
    assert "1 URLs, 0 stories usable, 1 missing" in caplog.text
    assert URL_MISSING in caplog.text


def test_cnndm_valid_split_auto_format_and_url_lists_dir(stories_root, tmp_path):
    records, errors = _split(list(iter_input_records(stories_root, split="valid")))  # auto: a directory
    assert not errors and [r.summary for r in records] == ["Validation highlight ."]
    # lists somewhere else
    elsewhere = tmp_path / "lists"
    elsewhere.mkdir()
    (elsewhere / "all_train.txt").write_text(URL_VALID + "\n", encoding="utf-8")
    records, _ = _split(list(iter_input_records(stories_root, "cnndm-stories", split="train",
                                                url_lists_dir=str(elsewhere))))
    assert [r.id for r in records] == [cnndm_story_id(URL_VALID)]


def test_cnndm_without_split_reads_every_story_in_name_order(stories_root):
    items = list(iter_input_records(stories_root, "cnndm-stories", split=None))
    ids = [x.record_id if isinstance(x, BadRecordError) else x.id for x in items]
    assert ids == sorted(cnndm_story_id(u) for u in (URL_CNN, URL_DM, URL_NO_HL, URL_EMPTY, URL_VALID))


def test_cnndm_no_highlights_allowed_without_summary(stories_root):
    records, errors = _split(list(iter_input_records(stories_root, "cnndm-stories", split="train",
                                                     require_summary=False)))
    no_hl = [r for r in records if r.id == cnndm_story_id(URL_NO_HL)][0]
    assert no_hl.summary is None
    assert {e.reason.split(" ")[0] for e in errors} == {"story", "empty"}


def test_cnndm_invalid_utf8_story_is_a_bad_record(stories_root):
    path = os.path.join(stories_root, "cnn", "stories", cnndm_story_id(URL_VALID) + ".story")
    with open(path, "wb") as f:
        f.write(b"bad \xff byte\n\n@highlight\n\nh\n")
    stats = CnnDmStats()
    items = list(iter_input_records(stories_root, "cnndm-stories", split="valid", stats=stats))
    assert len(items) == 1 and isinstance(items[0], BadRecordError)
    assert items[0].location == path and "invalid UTF-8" in items[0].reason
    assert stats.unreadable == [cnndm_story_id(URL_VALID)]


def test_cnndm_errors_for_unusable_roots(stories_root, tmp_path):
    os.remove(os.path.join(stories_root, "url_lists", "all_val.txt"))
    with pytest.raises(InputFormatError, match="all_val.txt for split 'valid' not found"):
        iter_input_records(stories_root, "cnndm-stories", split="valid")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputFormatError, match="no .story files found"):
        iter_input_records(str(empty), "cnndm-stories", split="train")
    with pytest.raises(InputFormatError, match="unknown split 'dev'"):
        iter_input_records(stories_root, "cnndm-stories", split="dev")


def test_stories_give_the_same_records_as_a_hf_cnn_dailymail_export(stories_root, tmp_path):
    """The stories path and the HF export path must agree byte for byte (same training data)."""
    from_stories, _ = _split(list(iter_input_records(stories_root, "cnndm-stories", split="train")))
    export = tmp_path / "train.jsonl"
    with open(export, "w", encoding="utf-8") as f:
        for r in from_stories:  # the HF builder's columns: article, highlights, id
            f.write(json.dumps({"article": r.documents[0], "highlights": r.summary, "id": r.id},
                               ensure_ascii=False) + "\n")
    from_export, errors = _split(list(iter_input_records(str(export))))
    assert not errors and from_export == from_stories


# ------------------------------------------------------------------------------ HF layouts

ROWS = {
    # layout name -> (rows as the HF export has them, expected (id, documents, summary, title))
    "cnn_dailymail": (
        [{"article": "Zürich café reopens. It was closed.", "highlights": "Café reopens .\nIt was closed .", "id": "a1"},
         {"article": "東京 mayor speaks.", "highlights": "Mayor speaks .", "id": "a2"}],
        [("a1", ["Zürich café reopens. It was closed."], "Café reopens .\nIt was closed .", None),
         ("a2", ["東京 mayor speaks."], "Mayor speaks .", None)],
    ),
    "xsum": (
        [{"document": "A storm hit the coast.\nPower was cut.", "summary": "Storm cuts power.", "id": "3498"},
         {"document": "Ünïcödé document.", "summary": "Short.", "id": "3499"}],
        [("3498", ["A storm hit the coast.\nPower was cut."], "Storm cuts power.", None),
         ("3499", ["Ünïcödé document."], "Short.", None)],
    ),
    "billsum": (
        [{"text": "SECTION 1. SHORT TITLE. This Act may be cited as the Test Act.", "summary": "Test Act summary.",
          "title": "To test things."},
         {"text": "SEC. 2. Definitions — “Secretary”.", "summary": "Defines “Secretary”.", "title": "A bill."}],
        [("train-0", ["SECTION 1. SHORT TITLE. This Act may be cited as the Test Act."], "Test Act summary.",
          "To test things."),
         ("train-1", ["SEC. 2. Definitions — “Secretary”."], "Defines “Secretary”.", "A bill.")],
    ),
}


def _write_rows(rows, path):
    columns = list(rows[0])
    if path.endswith(".parquet"):
        pq.write_table(pa.Table.from_pylist(rows), path)
    elif ".csv" in path or ".tsv" in path:
        opener = gzip.open if path.endswith(".gz") else open
        with opener(path, "wt", encoding="utf-8", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=columns, delimiter="\t" if ".tsv" in path else ",")
            writer.writeheader()
            writer.writerows(rows)
    else:
        opener = gzip.open if path.endswith(".gz") else open
        with opener(path, "wt", encoding="utf-8") as f:
            for row in rows:
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
    return path


@pytest.mark.parametrize("layout", sorted(ROWS))
@pytest.mark.parametrize("ext", [".jsonl", ".jsonl.gz", ".csv", ".csv.gz", ".tsv", ".parquet"])
def test_hf_layouts_in_every_file_format(tmp_path, layout, ext):
    rows, expected = ROWS[layout]
    path = _write_rows(rows, str(tmp_path / ("train" + ext)))
    records, errors = _split(list(iter_input_records(path)))
    assert not errors, errors
    assert [(r.id, r.documents, r.summary, r.title) for r in records] == expected
    assert all(r.query is None for r in records)


def test_pandas_csv_with_index_column_and_bom(tmp_path):
    path = tmp_path / "train.csv"
    # pandas' to_csv writes an unnamed index column first; Excel adds a byte order mark
    path.write_text(",article,highlights,id\n0,Body one.,Hl one .,x1\n", encoding="utf-8")
    records, errors = _split(list(iter_input_records(str(path))))
    assert not errors and records == [Record(id="x1", documents=["Body one."], summary="Hl one .")]
    with_bom = tmp_path / "bom.csv"
    with_bom.write_bytes("\ufeffid,article,highlights\nx2,Body two.,Hl two .\n".encode("utf-8"))
    assert list(iter_input_records(str(with_bom))) == [Record(id="x2", documents=["Body two."], summary="Hl two .")]


def test_csv_long_multiline_fields_and_line_numbers(tmp_path):
    long_doc = "word " * 60000 + "\nsecond line"  # 300 kB: over csv's default 128 KiB cell limit
    rows = [{"id": "1", "document": long_doc, "summary": "s1"},
            {"id": "2", "document": "short", "summary": ""},
            {"id": "3", "document": "doc", "summary": "s3"}]
    path = _write_rows(rows, str(tmp_path / "d.csv"))
    items = list(iter_input_records(path))
    assert items[0].documents == [long_doc]
    # row 1 spans lines 2-3, so row 2 starts on line 4
    assert isinstance(items[1], BadRecordError) and items[1].location == f"{path}:4"
    assert items[1].reason == "empty summary"
    assert items[2].id == "3" and items[2].location == f"{path}:5"
    # without required summaries an empty cell means no summary
    relaxed = list(iter_input_records(path, require_summary=False))
    assert relaxed[1].summary is None


def test_csv_bad_rows_are_reported_and_the_rest_is_read(tmp_path):
    path = tmp_path / "d.csv"
    path.write_bytes(b"id,document,summary\n1,caf\xe9,s\n2,two,cells,extra\n3,fine,s3\n")
    items = list(iter_input_records(str(path)))
    assert [type(x).__name__ for x in items] == ["BadRecordError", "BadRecordError", "Record"]
    assert items[0].location == f"{path}:2" and "invalid UTF-8" in items[0].reason
    assert items[1].location == f"{path}:3" and "4 cells, header has 3" in items[1].reason
    assert items[2].id == "3"


def test_explicit_column_names_override_detection(tmp_path):
    rows = [{"key": "k1", "body": "The body.", "abstract": "The abstract.", "question": "what?", "article": "decoy"}]
    for ext in (".csv", ".parquet", ".jsonl"):
        path = _write_rows(rows, str(tmp_path / ("x" + ext)))
        fields = FieldNames(id="key", document="body", summary="abstract", query="question")
        records, errors = _split(list(iter_input_records(path, fields=fields)))
        assert not errors
        assert records == [Record(id="k1", documents=["The body."], summary="The abstract.", query="what?")]


def test_field_names_from_options():
    assert field_names_from_options() is None
    assert field_names_from_options(document="body") == FieldNames(document="body")


@pytest.mark.parametrize("ext", [".csv", ".parquet"])
def test_missing_column_names_file_and_existing_columns(tmp_path, ext):
    path = _write_rows([{"id": "1", "body": "x", "abstract": "y"}], str(tmp_path / ("x" + ext)))
    with pytest.raises(InputFormatError) as info:
        iter_input_records(path, fields=FieldNames(document="body", summary="summary"))
    message = str(info.value)
    assert message.startswith(path) and "no summary column 'summary'" in message
    assert "columns are: id, body, abstract" in message
    # nothing to detect a layout from: also a clear error, raised when called
    with pytest.raises(InputFormatError, match=r"cannot tell the column layout from columns \[id, body, abstract\]"):
        iter_input_records(path)
    # the summary column is optional where summaries are not required (e.g. a test split)
    records = list(iter_input_records(path, fields=FieldNames(document="body"), require_summary=False))
    assert records == [Record(id="1", documents=["x"])]


def test_csv_and_parquet_without_id_column_get_row_ids(tmp_path):
    rows = [{"document": f"doc {i}", "summary": f"sum {i}"} for i in range(600)]  # > one Parquet batch
    for ext in (".csv", ".parquet"):
        path = _write_rows(rows, str(tmp_path / ("validation" + ext)))
        records = list(iter_input_records(path))
        assert [r.id for r in records[:2]] == ["validation-0", "validation-1"]
        assert records[599].id == "validation-599" and records[599].documents == ["doc 599"]


def test_jsonl_missing_id_is_a_record_error_not_synthesised(tmp_path):
    path = _write_rows([{"document": "d", "summary": "s"}], str(tmp_path / "t.jsonl"))
    (item,) = list(iter_input_records(path))
    assert isinstance(item, BadRecordError) and item.reason == "missing field 'id'"


def test_jsonl_first_line_bad_does_not_fail_the_file(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_text('{"id": "0", "summary": "no doc"}\n{not json\n{"id": "1", "document": "d", "summary": "s"}\n',
                    encoding="utf-8")
    items = list(iter_input_records(str(path)))
    assert [getattr(x, "reason", None) for x in items[:2]] == ["missing field 'document' (or 'documents')",
                                                               "malformed JSON: Expecting property name enclosed in double quotes"]
    assert items[2] == Record(id="1", documents=["d"], summary="s")


def test_parquet_documents_list_column_and_query(tmp_path):
    rows = [{"id": "m1", "documents": ["first doc", "second doc"], "query": "what happened?", "summary": "s"}]
    path = _write_rows(rows, str(tmp_path / "multi.parquet"))
    (record,) = list(iter_input_records(path))
    assert record == Record(id="m1", documents=["first doc", "second doc"], summary="s", query="what happened?")


def test_csv_documents_column_holds_json_list(tmp_path):
    path = _write_rows([{"id": "m1", "documents": json.dumps(["a", "b"]), "summary": "s"},
                        {"id": "m2", "documents": "[not json", "summary": "s"}], str(tmp_path / "multi.csv"))
    items = list(iter_input_records(path))
    assert items[0].documents == ["a", "b"]
    assert isinstance(items[1], BadRecordError) and "not a JSON list" in items[1].reason


def test_format_detection_and_errors(tmp_path):
    assert detect_format("x/train.jsonl.gz") == "jsonl"
    assert detect_format("x/validation.parquet") == "parquet"
    assert detect_format("x/train.TSV") == "csv"
    assert detect_format(str(tmp_path)) == "cnndm-stories"
    with pytest.raises(InputFormatError, match="cannot tell the input format"):
        detect_format("x/train.txt")
    with pytest.raises(InputFormatError, match="no such file or directory"):
        iter_input_records(str(tmp_path / "nope.jsonl"))
    with pytest.raises(InputFormatError, match="unknown format 'xml'"):
        iter_input_records(str(tmp_path), "xml")
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"this is not parquet")
    with pytest.raises(InputFormatError, match="not a readable Parquet file"):
        iter_input_records(str(bad))
    assert FORMATS == ("auto", "jsonl", "csv", "parquet", "cnndm-stories")


def test_split_input_path(tmp_path, stories_root):
    (tmp_path / "train.jsonl").write_text("", encoding="utf-8")
    (tmp_path / "validation.parquet").write_bytes(b"")
    assert split_input_path(str(tmp_path), "train", "auto") == str(tmp_path / "train.jsonl")
    assert split_input_path(str(tmp_path), "valid", "auto") == str(tmp_path / "validation.parquet")
    assert split_input_path(str(tmp_path), "valid", "jsonl") is None
    assert split_input_path(str(tmp_path), "test", "auto") is None
    (tmp_path / "train.csv").write_text("", encoding="utf-8")
    with pytest.raises(InputFormatError, match="more than one input for split 'train'"):
        split_input_path(str(tmp_path), "train", "auto")
    assert split_input_path(str(tmp_path), "train", "csv") == str(tmp_path / "train.csv")
    assert split_input_path(stories_root, "valid", "cnndm-stories") == stories_root
    assert split_input_path(str(tmp_path), "valid", "cnndm-stories") is None
    # auto on a stories root (no train.jsonl etc. there) finds it through the URL lists
    assert split_input_path(stories_root, "train", "auto") == stories_root
    assert split_input_path(stories_root, "train", "jsonl") is None


# ------------------------------------------------------------------------------ convert


def test_convert_round_trip_from_every_format(tmp_path, stories_root):
    sources = [
        (stories_root, {"split": "train"}),
        (_write_rows(ROWS["billsum"][0], str(tmp_path / "bill.csv")), {}),
        (_write_rows(ROWS["cnn_dailymail"][0], str(tmp_path / "cnn.parquet")), {}),
        (_write_rows([{"id": "q", "documents": ["d1", "d2"], "query": "q?", "title": "T", "summary": "s"}],
                     str(tmp_path / "multi.jsonl")), {}),
    ]
    for i, (source, kwargs) in enumerate(sources):
        original = [x for x in iter_input_records(source, **kwargs) if isinstance(x, Record)]
        out = str(tmp_path / f"canonical{i}.jsonl")
        assert write_canonical_jsonl(iter(original), out, progress=False) == len(original) > 0
        again = list(iter_input_records(out))
        assert again == original
        with open(out, encoding="utf-8") as f:
            first = json.loads(f.readline())
        assert set(first) <= {"id", "document", "documents", "query", "title", "summary"}
    # Unicode is written as is, not \u-escaped, so users can read what will be trained on
    with open(str(tmp_path / "canonical0.jsonl"), encoding="utf-8") as f:
        assert "Zürich" in f.read()


def test_convert_is_atomic_and_stops_at_a_bad_record(tmp_path, stories_root):
    out = tmp_path / "out.jsonl"
    out.write_text("previous content\n", encoding="utf-8")
    with pytest.raises(BadRecordError, match="no highlights"):
        write_canonical_jsonl(iter_input_records(stories_root, split="train"), str(out), progress=False)
    assert out.read_text(encoding="utf-8") == "previous content\n"
    assert sorted(os.listdir(tmp_path)) == ["cnndm", "out.jsonl"]  # no temp file left behind


def test_convert_gzip_output(tmp_path):
    records = [Record(id="1", documents=["ü"], summary="s")]
    out = str(tmp_path / "c.jsonl.gz")
    assert write_canonical_jsonl(records, out, progress=False) == 1
    assert list(iter_input_records(out)) == records


def test_csv_streams_rows_and_reports_an_unterminated_quote_at_the_end(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text('id,document,summary\n1,first,s1\n2,"never closed,s2\n', encoding="utf-8")
    items = iter_input_records(str(path))
    # the first row comes out before the damaged tail is read (rows are streamed, not loaded)
    assert next(items) == Record(id="1", documents=["first"], summary="s1")
    error = next(items)
    assert isinstance(error, BadRecordError) and error.location == f"{path}:3"
    assert "CSV error" in error.reason and "rest of file not read" in error.reason
    assert list(items) == []
