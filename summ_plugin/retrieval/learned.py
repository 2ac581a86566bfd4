"""The learned selector: gradient-boosted trees over passage features. No fairseq import.

Training labels passages with the greedy ROUGE oracle (see :mod:`.oracle`) and fits
scikit-learn's ``HistGradientBoostingClassifier`` (deterministic: no early stopping, no
subsampling; a fixed seed for the rest). Trees, not a linear model, because the useful
signal is non-linear: "near the start or near the end of the document, not the middle",
"first sentences of the conclusion". The model is saved as plain JSON (per tree: the
split feature, threshold, children and leaf values as exact float reprs), and scoring is a
numpy walk down the trees, so loading a selector runs no code, needs no scikit-learn,
and a loaded model scores bit for bit like the trained one; training twice on the same
data writes the same file. Loading checks the trees' structure (children after their
parent, features and children in range), so a crafted file can neither loop nor index
out of bounds.
"""
import json
import logging
import os
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np

from .base import register_retriever
from .budget import DEFAULT_SPLIT_MODE
from .features import FEATURE_NAMES, passage_features
from .heuristic import ScoringRetriever
from .oracle import greedy_oracle
from .passages import SPLIT_MODES, split_passages
from ..atomic import atomic_output
from ..numbers import MAX_MAGNITUDE, check_number
from ..rouge_tokens import tokenize

logger = logging.getLogger(__name__)

FORMAT = "summ_plugin.learned_selector"
# 3: the features of issue 21 appended to FEATURE_NAMES, and the training objective ("oracle":
# log-odds that the greedy oracle picks a passage; "density": reference bigrams a passage holds
# per token; "blend": half of each, see blend_targets). Version 2 files (oracle objective, the
# first 36 features) are still read.
VERSION = 3
READABLE_VERSIONS = (2, 3)
OBJECTIVES = ("oracle", "density", "blend")
# "blend": the oracle's 0/1 pick and the density (scaled to the record's best = 1), half each
BLEND_ORACLE_WEIGHT = 0.5
_TREE_KEYS = ("feature", "threshold", "missing_left", "left", "right", "value")
# A selector of 100 depth-3 trees is ~100 KB; anything this large is another file (and
# parsing a 1 GB JSON file takes several GB of memory).
MAX_SELECTOR_BYTES = 64 << 20


class Tree:
    """One regression tree as parallel arrays; node 0 is the root, ``left[i] == -1`` marks a leaf."""

    def __init__(self, feature, threshold, missing_left, left, right, value, where: str = "tree",
                 n_features: int = len(FEATURE_NAMES)):
        self.feature = np.asarray(feature, dtype=np.int64)
        self.threshold = np.asarray([np.inf if v is None else v for v in threshold], dtype=np.float64)
        self.missing_left = np.asarray(missing_left, dtype=bool)
        self.left = np.asarray(left, dtype=np.int64)
        self.right = np.asarray(right, dtype=np.int64)
        self.value = np.asarray(value, dtype=np.float64)
        n = len(self.value)
        if n == 0 or any(len(getattr(self, key)) != n for key in _TREE_KEYS) or any(
                getattr(self, key).ndim != 1 for key in _TREE_KEYS):
            raise ValueError(f"{where}: arrays {', '.join(_TREE_KEYS)} must be non-empty and of equal length")
        inner = self.left >= 0
        nodes = np.arange(n)
        # children strictly after their parent: every walk ends, in at most n steps
        if np.any(self.left[inner] <= nodes[inner]) or np.any(self.right[inner] <= nodes[inner]) \
                or np.any(self.left[inner] >= n) or np.any(self.right[inner] >= n) \
                or np.any(self.right[~inner] != -1) or np.any(self.left < -1):
            raise ValueError(f"{where}: children must be nodes after their parent (or -1 for a leaf)")
        if np.any((self.feature[inner] < 0) | (self.feature[inner] >= n_features)):
            raise ValueError(f"{where}: split feature out of range 0..{n_features - 1}")
        # a NaN or infinite leaf, or leaves so large that sums overflow (inf - inf = NaN), make
        # the selection arbitrary; thresholds only compare, and +inf is scikit-learn's own
        # "every number goes left, missing values right", so only NaN and -inf are refused there
        bad_leaf = ~np.isfinite(self.value) | (np.abs(np.nan_to_num(self.value)) > MAX_MAGNITUDE)
        if np.any(bad_leaf):
            node = int(np.flatnonzero(bad_leaf)[0])
            raise ValueError(f"{where}: value[{node}] is {float(self.value[node])!r}; leaf values must be finite "
                             f"numbers below {MAX_MAGNITUDE:g} in size")
        bad_threshold = inner & (np.isnan(self.threshold) | (self.threshold == -np.inf))
        if np.any(bad_threshold):
            node = int(np.flatnonzero(bad_threshold)[0])
            raise ValueError(f"{where}: threshold[{node}] is {float(self.threshold[node])!r}; split thresholds must be numbers")
        self.feature[~inner] = 0  # leaves never split; keeps indexing in range

    def predict(self, features: np.ndarray) -> np.ndarray:
        node = np.zeros(len(features), dtype=np.int64)
        rows = np.arange(len(features))
        for _ in range(len(self.value)):
            inner = self.left[node] >= 0
            if not inner.any():
                break
            x = features[rows, self.feature[node]]
            go_left = np.where(np.isnan(x), self.missing_left[node], x <= self.threshold[node])
            node = np.where(inner, np.where(go_left, self.left[node], self.right[node]), node)
        return self.value[node]

    def to_dict(self) -> Dict:
        # +inf (scikit-learn's split of the missing values from all numbers) is written as
        # null: JSON has no Infinity
        return {"feature": self.feature.tolist(),
                "threshold": [None if v == np.inf else float(v) for v in self.threshold],
                "missing_left": self.missing_left.tolist(), "left": self.left.tolist(),
                "right": self.right.tolist(), "value": [float(v) for v in self.value]}


class LearnedSelector:
    """Scores passages with ``baseline + sum(tree.predict(features))`` (log-odds of "oracle picks it")."""

    def __init__(self, baseline: float, trees: List[Tree], split_mode: str = DEFAULT_SPLIT_MODE,
                 training: Optional[Dict] = None, objective: str = "oracle", version: int = VERSION):
        self.baseline = float(baseline)
        self.trees = list(trees)
        self.split_mode = split_mode
        self.training = training or {}
        self.objective = objective
        self.version = version  # of the file it was read from (what to_dict writes is VERSION)

    def score_features(self, features: np.ndarray) -> np.ndarray:
        features = np.asarray(features, dtype=np.float64)
        scores = np.full(len(features), self.baseline)
        for tree in self.trees:
            scores += tree.predict(features)
        return scores

    def to_dict(self) -> Dict:
        return {
            "format": FORMAT,
            "version": VERSION,
            "model": "gradient_boosted_trees",
            "objective": self.objective,
            "features": list(FEATURE_NAMES),
            "baseline": self.baseline,
            "trees": [tree.to_dict() for tree in self.trees],
            "split_mode": self.split_mode,
            "training": self.training,
        }

    def save(self, path: str) -> None:
        """Write atomically (temp file in the same directory, then rename)."""
        with atomic_output(path) as handle:
            json.dump(self.to_dict(), handle, sort_keys=True, separators=(",", ":"))
            handle.write("\n")

    @classmethod
    def load(cls, path: str) -> "LearnedSelector":
        from summ_plugin.data.formats.jsonl import JSONTextError, load_json_file

        try:
            # refused before it is read: json.load of a 1 GB file took 2.4 GB of memory
            size = os.path.getsize(path)
            if size > MAX_SELECTOR_BYTES:
                raise ValueError(f"{path}: {size} bytes is not a selector (they are well below "
                                 f"{MAX_SELECTOR_BYTES >> 20} MiB; summ-train-selector writes ~100 KB)")
            # a bare Infinity (thresholds written before +inf became null) reads as inf; NaN and
            # -Infinity are refused by the value checks below
            data = load_json_file(path)
        except OSError as err:
            raise ValueError(f"cannot read selector file {path}: {err.strerror}") from err
        except JSONTextError as err:
            raise ValueError(f"{path}: not a selector JSON file ({err.detail})") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ValueError(f"{path}: not a selector file (key 'format' is not {FORMAT!r})")
        version = data.get("version")
        if isinstance(version, bool) or version not in READABLE_VERSIONS:
            raise ValueError(f"{path}: selector version {version!r}, this code reads versions "
                             f"{', '.join(map(str, READABLE_VERSIONS))}; retrain it with summ-train-selector")
        names = data.get("features")
        # features are only ever appended: an older file's names are a prefix of this code's
        if not isinstance(names, list) or not names or names != FEATURE_NAMES[:len(names)] or \
                (version == VERSION and len(names) != len(FEATURE_NAMES)):
            raise ValueError(f"{path}: key 'features' differs from this code's features "
                             f"({', '.join(FEATURE_NAMES)}); retrain the selector")
        objective = data.get("objective", "oracle") if version >= 3 else "oracle"
        if objective not in OBJECTIVES:
            raise ValueError(f"{path}: key 'objective' must be one of {', '.join(OBJECTIVES)}, got {objective!r}")
        missing = [k for k in ("baseline", "trees") if k not in data]
        if missing:
            raise ValueError(f"{path}: missing key(s) {', '.join(missing)}")
        if not isinstance(data["trees"], list):
            raise ValueError(f"{path}: key 'trees' must be a list")
        try:
            trees = []
            for number, tree in enumerate(data["trees"]):
                if not isinstance(tree, dict) or any(key not in tree for key in _TREE_KEYS):
                    raise ValueError(f"tree {number} needs keys {', '.join(_TREE_KEYS)}")
                trees.append(Tree(*(tree[key] for key in _TREE_KEYS), where=f"tree {number}",
                                  n_features=len(names)))
            split_mode = data.get("split_mode", DEFAULT_SPLIT_MODE)
            if split_mode not in SPLIT_MODES:
                raise ValueError(f"unknown split_mode {split_mode!r}")
            baseline = check_number(data["baseline"], "key 'baseline'")
            return cls(baseline, trees, split_mode, data.get("training"), objective, version)
        except (TypeError, ValueError, OverflowError) as err:
            raise ValueError(f"{path}: {err}") from err


def oracle_labelled_features(documents: List[str], query: Optional[str], title: Optional[str],
                             summary: str, split_mode: str) -> Tuple[np.ndarray, np.ndarray]:
    """Features of one record's passages and their 0/1 greedy-oracle labels."""
    passages = split_passages(documents, mode=split_mode)
    features = passage_features(passages, query, title)
    labels = np.zeros(len(passages))
    labels[greedy_oracle([p.text for p in passages], summary)] = 1.0
    return features, labels


# a passage's density is taken over at least this many tokens: a two-word line holding one
# reference bigram is not worth twenty times a sentence holding five
DENSITY_MIN_TOKENS = 16
# weight of ROUGE-1 next to ROUGE-2 in the density (0: bigrams alone covered most, SQuALITY dev)
DENSITY_UNIGRAM_WEIGHT = 0.0


def passage_densities(passage_texts: Sequence[str], references: Sequence[str]) -> np.ndarray:
    """Per passage: the share of each reference's distinct bigrams (plus DENSITY_UNIGRAM_WEIGHT
    times the share of its words) that the passage holds, per token of the passage (at least
    DENSITY_MIN_TOKENS), averaged over the references; scaled so
    that the record's best passage has 1. What fills a budget best is what is densest, and the
    question's answer is whatever all references share, so no single reference decides."""
    tokens = [tokenize(text) for text in passage_texts]
    totals = np.zeros(len(passage_texts))
    for reference in references:
        reference_tokens = tokenize(reference)
        unigrams = set(reference_tokens)
        bigrams = set(zip(reference_tokens, reference_tokens[1:]))
        if not bigrams:
            continue
        for row, words in enumerate(tokens):
            held_bigrams = len(bigrams.intersection(zip(words, words[1:])))
            held_words = len(unigrams.intersection(words)) if unigrams else 0
            totals[row] += (held_bigrams / len(bigrams)
                            + DENSITY_UNIGRAM_WEIGHT * held_words / max(len(unigrams), 1))
    lengths = np.array([max(len(words), DENSITY_MIN_TOKENS) for words in tokens], dtype=np.float64)
    density = totals / lengths / max(len(references), 1)
    top = density.max() if len(density) else 0.0
    return density / top if top > 0 else density


def blend_targets(picks: np.ndarray, densities: np.ndarray) -> np.ndarray:
    """The "blend" objective's targets: ``BLEND_ORACLE_WEIGHT`` of the greedy oracle's 0/1 picks
    plus the rest of the density. The oracle alone learns what one reference's greedy set holds
    (best on papers, aclsum); the density what every reference shares per token (best on
    questions with four answers, SQuALITY); the blend was as good as the better of the two on
    each (docs/RETRIEVAL.md)."""
    return BLEND_ORACLE_WEIGHT * np.asarray(picks, dtype=np.float64) + \
        (1.0 - BLEND_ORACLE_WEIGHT) * np.asarray(densities, dtype=np.float64)


# Gradient boosting settings: shallow trees (depth 3: interactions of three features, e.g.
# "in the conclusion, near its start, long enough") and few of them. Deeper/longer fits scored
# worse in 2-fold cross-validation on the aclsum train split (36.2-37.3 R-2 recall against
# 35.5-36.1 for 15-leaf trees or 400 iterations); small trees generalise across corpora.
BOOSTING = dict(learning_rate=0.05, max_iter=100, max_depth=3, max_leaf_nodes=None,
                min_samples_leaf=40, l2_regularization=1.0)


def train_selector(examples: Iterable[Tuple[np.ndarray, np.ndarray]], split_mode: str = DEFAULT_SPLIT_MODE,
                   training_info: Optional[Dict] = None, max_passages: int = 300_000,
                   seed: int = 0, objective: str = "oracle") -> LearnedSelector:
    """Fit the selector on ``(features, targets)`` pairs, one per record.

    ``objective`` "oracle": targets are 0/1 oracle labels, a classifier (log-odds). "density"
    and "blend": targets are :func:`passage_densities` or :func:`blend_targets`, a least-squares
    regressor (the same trees and file).
    Above ``max_passages`` training passages, passages without signal (unpicked, density 0)
    are subsampled (seeded) so that training stays within minutes; every other is kept.
    """
    # only training needs scikit-learn
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {', '.join(OBJECTIVES)}, got {objective!r}")
    blocks = list(examples)
    if not blocks:
        raise ValueError("no training records")
    features = np.vstack([f for f, _ in blocks])
    labels = np.concatenate([y for _, y in blocks])
    positives = int(np.count_nonzero(labels))
    if positives == 0 or (objective == "oracle" and positives == len(labels)):
        what = "the oracle labelled" if objective == "oracle" else "the references share n-grams with"
        raise ValueError(f"{what} {positives} of {len(labels)} passages; need "
                         f"{'both classes' if objective == 'oracle' else 'some'} to train")
    n_total = len(labels)
    if n_total > max_passages:
        negatives = np.flatnonzero(labels == 0)
        keep = np.random.RandomState(seed).choice(negatives, max(max_passages - positives, 1), replace=False)
        rows = np.sort(np.concatenate([np.flatnonzero(labels != 0), keep]))
        features, labels = features[rows], labels[rows]
        logger.info("subsampled %d of %d training passages (all %d oracle picks kept)",
                    len(labels), n_total, positives)
    if objective == "oracle":
        model = HistGradientBoostingClassifier(early_stopping=False, random_state=seed, **BOOSTING)
    else:
        model = HistGradientBoostingRegressor(early_stopping=False, random_state=seed, **BOOSTING)
    model.fit(features, labels)
    trees = []
    for iteration in model._predictors:
        nodes = iteration[0].nodes
        leaf = nodes["is_leaf"].astype(bool)
        trees.append(Tree(nodes["feature_idx"], nodes["num_threshold"], nodes["missing_go_to_left"],
                          np.where(leaf, -1, nodes["left"].astype(np.int64)),
                          np.where(leaf, -1, nodes["right"].astype(np.int64)),
                          nodes["value"]))
    info = dict(training_info or {})
    info.update(records=len(blocks), passages=n_total, passages_used=int(len(labels)), positives=positives,
                boosting=dict(BOOSTING))
    logger.info("trained %d trees (objective %s) on %d records, %d passages (%d with signal)",
                len(trees), objective, len(blocks), len(labels), positives)
    return LearnedSelector(float(np.ravel(model._baseline_prediction)[0]), trees, split_mode, info, objective)


_LOADED: Dict[str, Tuple[float, LearnedSelector]] = {}


def load_selector_cached(path: str) -> LearnedSelector:
    """Load once per process (reloaded when the file changes)."""
    mtime = os.path.getmtime(path) if os.path.exists(path) else None
    cached = _LOADED.get(path)
    if cached is not None and cached[0] == mtime:
        return cached[1]
    selector = LearnedSelector.load(path)
    _LOADED[path] = (mtime, selector)
    return selector


@register_retriever("learned")
class LearnedRetriever(ScoringRetriever):
    """Scores passages with a selector trained by ``summ-train-selector``."""

    def __init__(self, *, selector: Optional[str] = None, position_prior: float = 0.0):
        super().__init__(position_prior=position_prior)
        if not selector:
            raise ValueError("the learned retriever needs selector=PATH (made by summ-train-selector)")
        self.selector_path = str(selector)
        self.selector = load_selector_cached(self.selector_path)

    def score(self, passages, query, reference, title):
        # the same record scored again (the default's candidates: learned and the hybrids of
        # each selector in turn) reuses its features: they are most of the cost
        key = (query, title, tuple((p.text, p.doc, p.paragraph, p.section, p.section_title) for p in passages))
        if not (_LAST_FEATURES and _LAST_FEATURES[0] == key):
            _LAST_FEATURES[:] = [key, passage_features(passages, query, title)]
        return self.selector.score_features(_LAST_FEATURES[1])


_LAST_FEATURES: List = []
