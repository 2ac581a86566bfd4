"""CNN/DailyMail ``.story`` files as distributed, split by the standard URL lists
``all_train.txt`` / ``all_val.txt`` / ``all_test.txt`` (a story is named by the SHA-1 hex digest
of its URL); read by the rules of See et al.'s ``make_datafiles.py``. No fairseq import.
"""
import hashlib
import logging
import os
from dataclasses import dataclass, field
from typing import Dict, Iterator, List, Optional, Tuple

from ..records import BadRecordError, Record
from .files import InputFormatError

logger = logging.getLogger(__name__)

# the standard CNN/DM URL lists (See et al. 2017, abisee/cnn-dailymail/url_lists)
CNNDM_URL_LISTS = {"train": "all_train.txt", "valid": "all_val.txt", "test": "all_test.txt"}
# where the .story files live under the root: flat, or as the two tarballs extract
_STORY_SUBDIRS = (
    "", "stories", os.path.join("cnn", "stories"), os.path.join("dailymail", "stories"),
    os.path.join("cnn_stories", "cnn", "stories"), os.path.join("dailymail_stories", "dailymail", "stories"),
)
_URL_LIST_SUBDIRS = ("", "url_lists", "lists")

# The end-of-sentence marks of See et al.'s make_datafiles.py (also used by fairseq's BART
# CNN/DM recipe and the Hugging Face cnn_dailymail builder): a line not ending in one of them
# gets " ." appended, because image captions and bullets often have no final period.
_END_TOKENS = (".", "!", "?", "...", "'", "`", '"', "\u2019", "\u201d", ")")
# article lines are joined with a space, as in make_datafiles.py and the HF export, so a story
# read here gives byte-identical text to the same story in a cnn_dailymail JSONL/CSV/Parquet export
CNNDM_ARTICLE_JOINER = " "
# highlights are joined one per line: ROUGE-Lsum needs the sentence boundaries
CNNDM_HIGHLIGHT_JOINER = "\n"


@dataclass
class CnnDmStats:
    """What a pass over CNN/DM stories found; filled in while the records are read."""

    urls: int = 0
    read: int = 0
    missing: List[str] = field(default_factory=list)        # URLs whose story file is not there
    empty_article: List[str] = field(default_factory=list)  # story ids
    no_highlights: List[str] = field(default_factory=list)  # story ids
    unreadable: List[str] = field(default_factory=list)     # story ids (invalid UTF-8)

    def summary_line(self) -> str:
        return (
            f"{self.urls} URLs, {self.read} stories usable, {len(self.missing)} missing, "
            f"{len(self.empty_article)} with an empty article, {len(self.no_highlights)} without "
            f"highlights, {len(self.unreadable)} not valid UTF-8"
        )


def cnndm_story_id(url: str) -> str:
    """The story's name: SHA-1 hex digest of its URL (as in make_datafiles.py and HF's ``id``)."""
    return hashlib.sha1(url.strip().encode("utf-8")).hexdigest()


def _fix_missing_period(line: str) -> str:
    if "@highlight" in line or not line or line.endswith(_END_TOKENS):
        return line
    return line + " ."


def read_cnndm_story(path: str) -> Tuple[str, List[str]]:
    """``(article, highlights)`` of one ``.story`` file, by the usual rules.

    As See et al.'s ``make_datafiles.py`` (3.0.0 variant, as used for fairseq's BART recipe and
    the Hugging Face ``cnn_dailymail`` builder): lines are stripped, blank lines dropped, a line
    without final punctuation gets " ." appended, the line after each ``@highlight`` is a highlight,
    every other line is article text; article lines are joined with a space. Not done: lower-casing
    and Stanford tokenisation (the old 1.0.0 variant), and the "(CNN) --" bylines stay in the text
    (HF keeps them too, so results compare with published numbers).
    Invalid UTF-8 raises :class:`BadRecordError` naming the file.
    """
    with open(path, "rb") as handle:
        raw = handle.read()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise BadRecordError(path, f"invalid UTF-8 at byte {err.start}") from None
    article_lines: List[str] = []
    highlights: List[str] = []
    next_is_highlight = False
    for line in text.splitlines():
        line = _fix_missing_period(line.strip())
        if not line:
            continue
        if line.startswith("@highlight"):
            next_is_highlight = True
        elif next_is_highlight:
            highlights.append(line)
        else:
            article_lines.append(line)
    return CNNDM_ARTICLE_JOINER.join(article_lines), highlights


def find_url_list(root: str, split: str, url_lists_dir: Optional[str]) -> Optional[str]:
    name = CNNDM_URL_LISTS[split]
    places = [url_lists_dir] if url_lists_dir else [os.path.join(root, sub) for sub in _URL_LIST_SUBDIRS]
    for place in places:
        candidate = os.path.join(place, name)
        if os.path.isfile(candidate):
            return candidate
    return None


def _index_stories(root: str) -> Dict[str, str]:
    """story id -> path for every ``.story`` file in the usual places under ``root`` (one scandir each)."""
    index: Dict[str, str] = {}
    for sub in _STORY_SUBDIRS:
        directory = os.path.join(root, sub) if sub else root
        if not os.path.isdir(directory):
            continue
        with os.scandir(directory) as entries:
            for entry in entries:
                if entry.name.endswith(".story") and entry.is_file():
                    index.setdefault(entry.name[: -len(".story")], entry.path)
    return index


def _story_record(story_id: str, path: str, require_summary: bool, stats: CnnDmStats) -> object:
    try:
        article, highlights = read_cnndm_story(path)
    except BadRecordError as err:
        err.record_id = story_id
        stats.unreadable.append(story_id)
        return err
    if not article.strip():
        stats.empty_article.append(story_id)
        return BadRecordError(path, "empty article", story_id)
    if not highlights and require_summary:
        stats.no_highlights.append(story_id)
        return BadRecordError(path, "no highlights", story_id)
    stats.read += 1
    summary = CNNDM_HIGHLIGHT_JOINER.join(highlights) if highlights else None
    return Record(id=story_id, documents=[article], summary=summary, location=path)


def iter_cnndm_stories(
    root: str, split: Optional[str], require_summary: bool,
    url_lists_dir: Optional[str], stats: CnnDmStats,
) -> Iterator[object]:
    if not os.path.isdir(root):
        raise InputFormatError(root, "CNN/DM stories root is not a directory")
    if url_lists_dir and not os.path.isdir(url_lists_dir):
        raise InputFormatError(url_lists_dir, "URL lists directory does not exist")
    index = _index_stories(root)
    if not index:
        looked = ", ".join(os.path.join(root, s) if s else root for s in _STORY_SUBDIRS)
        raise InputFormatError(root, f"no .story files found (looked in {looked})")
    if split is None:
        logger.info("%s: no split given: all %d stories, in name order, no URL list", root, len(index))
        url_list = None
    else:
        if split not in CNNDM_URL_LISTS:
            raise InputFormatError(root, f"unknown split '{split}' (expected one of {', '.join(CNNDM_URL_LISTS)})")
        url_list = find_url_list(root, split, url_lists_dir)
        if url_list is None:
            where = url_lists_dir or " or ".join(os.path.join(root, s) if s else root for s in _URL_LIST_SUBDIRS)
            raise InputFormatError(root, f"URL list {CNNDM_URL_LISTS[split]} for split '{split}' not found in {where}")
        logger.info("%s: split '%s' from %s (%d story files indexed)", root, split, url_list, len(index))

    def records() -> Iterator[object]:
        if url_list is None:
            for story_id in sorted(index):
                stats.urls += 1
                yield _story_record(story_id, index[story_id], require_summary, stats)
        else:
            with open(url_list, "rb") as handle:
                for line_no, raw in enumerate(handle, start=1):
                    location = f"{url_list}:{line_no}"
                    try:
                        url = raw.decode("utf-8").strip()
                    except UnicodeDecodeError as err:
                        yield BadRecordError(location, f"invalid UTF-8 at byte {err.start}")
                        continue
                    if not url:
                        continue
                    stats.urls += 1
                    story_id = cnndm_story_id(url)
                    path = index.get(story_id)
                    if path is None:
                        stats.missing.append(url)
                        yield BadRecordError(location, f"story missing for URL {url} (expected {story_id}.story)", story_id)
                        continue
                    yield _story_record(story_id, path, require_summary, stats)
        level = logging.WARNING if (stats.missing or stats.empty_article or stats.no_highlights or stats.unreadable) else logging.INFO
        logger.log(level, "%s%s: %s", root, f" ({split})" if split else "", stats.summary_line())
        for url in stats.missing[:10]:
            logger.log(level, "  story missing for URL %s", url)
        if len(stats.missing) > 10:
            logger.log(level, "  ... and %d more missing stories", len(stats.missing) - 10)

    return records()

