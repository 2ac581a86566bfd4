"""The retriever interface and registry, and budgeted filling. No fairseq import.

A retriever ranks the passages of one record (:meth:`Retriever.rank`); the default
:meth:`Retriever.select` then fills a token budget in rank order. Retrievers that
split the budget themselves (``lead`` truncates, ``hybrid`` reserves a share for the
opening) override :meth:`Retriever.select`.
"""
import inspect
import logging
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Type

from .passages import Passage

logger = logging.getLogger(__name__)

# (index into the passage list, text to emit): the text is the passage's own text or,
# for truncation, a leading part of it
Chunk = Tuple[int, str]

_REGISTRY: Dict[str, Type["Retriever"]] = {}


class TokenCounter:
    """Caches the caller's exact ``count_tokens`` per text (BPE is slow) and checks it.

    ``token_bounds(text) -> (low, high)``, when the caller can give it, bounds the exact
    count cheaply (for GPT-2 BPE: at least one token per word, at most one per byte), so
    passages that certainly do not fit are skipped, and ones that certainly fit are not cut,
    without running the BPE: only what is selected (and near misses) gets encoded.
    """

    def __init__(self, count_tokens: Callable[[str], int],
                 token_bounds: Optional[Callable[[str], Tuple[int, int]]] = None):
        self._count = count_tokens
        self._bounds = token_bounds
        self._cache: Dict[str, int] = {}

    def surely_fits(self, text: str, room: int) -> bool:
        return self._bounds is not None and text not in self._cache and self._bounds(text)[1] <= room

    def surely_exceeds(self, text: str, room: int) -> bool:
        if text in self._cache:
            return self._cache[text] > room
        return self._bounds is not None and self._bounds(text)[0] > room

    def __call__(self, text: str) -> int:
        cached = self._cache.get(text)
        if cached is None:
            cached = self._count(text)
            if isinstance(cached, bool) or not isinstance(cached, int) or cached < 0:
                raise ValueError(f"count_tokens must return an int >= 0, got {cached!r} for {text[:40]!r}")
            self._cache[text] = cached
        return cached


class Retriever:
    """Base class: rank the passages of one record, highest priority first."""

    name: str = ""
    needs_reference: bool = False  # True for oracle (training data only)

    def rank(self, passages: List[Passage], query: Optional[str], reference: Optional[str],
             title: Optional[str]) -> List[int]:
        """Indices into ``passages``, highest priority first; may omit passages."""
        raise NotImplementedError

    def select(self, passages: List[Passage], *, query: Optional[str], reference: Optional[str],
               title: Optional[str], budget: int, count: TokenCounter) -> List[Chunk]:
        """Chunks to emit within ``budget`` tokens; default: rank, then fill in rank order."""
        order = self.rank(passages, query, reference, title)
        return fill_in_order(order, passages, budget, count)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


def fill_in_order(order: Sequence[int], passages: List[Passage], budget: int,
                  count: TokenCounter, used: int = 0) -> List[Chunk]:
    """Add passages in ``order`` while they fit; skip one that doesn't and try the next."""
    chosen: List[Chunk] = []
    seen = set()
    for index in order:
        if budget - used <= 0:
            break
        if index in seen:
            continue
        seen.add(index)
        text = passages[index].text
        if count.surely_exceeds(text, budget - used):
            continue
        cost = count(text)
        if used + cost <= budget:
            chosen.append((index, text))
            used += cost
    return chosen


def longest_fitting_prefix(text: str, budget: int, count: TokenCounter) -> str:
    """The longest leading part of ``text`` (whole words, else characters) within ``budget``.

    Galloping search over the number of words (1, 2, 4, ... until a prefix no longer fits,
    then binary search in between): the text counted is at most twice the answer, so cutting
    a megabyte passage into windows stays linear instead of re-counting the whole rest each
    time. Then over characters when even the first word is too long (a megabyte with no
    spaces). Returns "" when nothing fits.
    """
    if budget <= 0:
        return ""
    words = text.split()
    low, high = 0, 1  # invariant: a prefix of `low` words fits (0 words trivially)
    while high <= len(words) and count(" ".join(words[:high])) <= budget:
        low, high = high, high * 2
    high = min(high, len(words) + 1)  # a prefix of `high` words does not fit (or is past the end)
    while high - low > 1:
        middle = (low + high) // 2
        if count(" ".join(words[:middle])) <= budget:
            low = middle
        else:
            high = middle
    if low == len(words) and words:
        return text if count(text) <= budget else " ".join(words)
    if low > 0:
        return " ".join(words[:low])
    first = words[0] if words else ""
    low, high = 0, len(first)
    while low < high:
        middle = (low + high + 1) // 2
        if count(first[:middle]) <= budget:
            low = middle
        else:
            high = middle - 1
    prefix = first[:low]
    return prefix if prefix.strip() else ""


def cut_into_windows(text: str, budget: int, count: TokenCounter) -> List[str]:
    """Cut a passage longer than ``budget`` into consecutive pieces that each fit."""
    pieces: List[str] = []
    rest = " ".join(text.split())
    while rest:
        piece = longest_fitting_prefix(rest, budget, count)
        if not piece:
            # not even one character fits (a budget below one character's tokens)
            logger.warning("dropped %d characters that fit no window of %d tokens", len(rest), budget)
            break
        pieces.append(piece)
        rest = rest[len(piece):].strip()
    return pieces


def register_retriever(name: str):
    """Class decorator: make a :class:`Retriever` subclass available by ``name``."""

    def decorator(cls):
        if name in _REGISTRY:
            raise ValueError(f"retriever {name!r} is already registered ({_REGISTRY[name].__name__})")
        if not (isinstance(cls, type) and issubclass(cls, Retriever)):
            raise ValueError(f"@register_retriever({name!r}) needs a Retriever subclass, got {cls!r}")
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return decorator


def available_retrievers() -> List[str]:
    return sorted(_REGISTRY)


def retriever_options(name: str) -> List[str]:
    """The keyword options a registered retriever accepts."""
    if name not in _REGISTRY:
        raise ValueError(f"unknown retriever {name!r}; available: {', '.join(available_retrievers())}")
    parameters = inspect.signature(_REGISTRY[name].__init__).parameters
    return [p for p in parameters if p != "self" and parameters[p].kind in (
        inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)]


def build_retriever(name: str, **options) -> Retriever:
    """Instantiate a registered retriever; unknown names and options are a ValueError."""
    if name not in _REGISTRY:
        raise ValueError(f"unknown retriever {name!r}; available: {', '.join(available_retrievers())}")
    cls = _REGISTRY[name]
    parameters = inspect.signature(cls.__init__).parameters
    # a retriever without an __init__ of its own (lead) has object's (*args, **kwargs): it takes nothing
    takes_any = cls.__init__ is not object.__init__ and any(
        p.kind == inspect.Parameter.VAR_KEYWORD for p in parameters.values())
    if not takes_any:
        accepted = retriever_options(name)
        unknown = sorted(set(options) - set(accepted))
        if unknown:
            raise ValueError(f"retriever {name!r} does not take option(s) {', '.join(unknown)}; "
                             f"it takes: {', '.join(accepted) or 'no options'}")
    return cls(**options)
