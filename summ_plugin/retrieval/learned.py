"""The learned selector: a logistic regression over passage features. No fairseq import.

Training labels passages with the greedy ROUGE oracle (see :mod:`.oracle`) and fits a
standardised logistic regression (scikit-learn, lbfgs: deterministic). The model is
saved as plain JSON (feature names, scaler and coefficients as exact float reprs), and
scoring is a numpy dot product, so a loaded model scores bit for bit like the trained
one and training twice on the same data writes the same file.
"""
import json
import logging
import os
from typing import Dict, Iterable, List, Optional, Tuple

import numpy as np

from .base import register_retriever
from .features import FEATURE_NAMES, passage_features
from .heuristic import ScoringRetriever
from .oracle import greedy_oracle
from .passages import split_passages
from ..atomic import atomic_output

logger = logging.getLogger(__name__)

FORMAT = "summ_plugin.learned_selector"
VERSION = 1


class LearnedSelector:
    """Scores passages with ``((features - mean) / scale) @ coef + intercept``."""

    def __init__(self, mean, scale, coef, intercept: float, split_mode: str = "sentence",
                 training: Optional[Dict] = None):
        self.mean = np.asarray(mean, dtype=np.float64)
        self.scale = np.asarray(scale, dtype=np.float64)
        self.coef = np.asarray(coef, dtype=np.float64)
        self.intercept = float(intercept)
        self.split_mode = split_mode
        self.training = training or {}
        for name, value in (("mean", self.mean), ("scale", self.scale), ("coef", self.coef)):
            if value.shape != (len(FEATURE_NAMES),):
                raise ValueError(f"selector {name} has {value.size} values, expected {len(FEATURE_NAMES)}")

    def score_features(self, features: np.ndarray) -> np.ndarray:
        return ((features - self.mean) / self.scale) @ self.coef + self.intercept

    def to_dict(self) -> Dict:
        return {
            "format": FORMAT,
            "version": VERSION,
            "model": "logistic_regression",
            "features": list(FEATURE_NAMES),
            "mean": [float(v) for v in self.mean],
            "scale": [float(v) for v in self.scale],
            "coef": [float(v) for v in self.coef],
            "intercept": self.intercept,
            "split_mode": self.split_mode,
            "training": self.training,
        }

    def save(self, path: str) -> None:
        """Write atomically (temp file in the same directory, then rename)."""
        with atomic_output(path) as handle:
            json.dump(self.to_dict(), handle, indent=1, sort_keys=True)
            handle.write("\n")

    @classmethod
    def load(cls, path: str) -> "LearnedSelector":
        try:
            with open(path, encoding="utf-8") as handle:
                data = json.load(handle)
        except OSError as err:
            raise ValueError(f"cannot read selector file {path}: {err.strerror}") from err
        except json.JSONDecodeError as err:
            raise ValueError(f"{path}: not a selector JSON file (line {err.lineno}: {err.msg})") from err
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ValueError(f"{path}: not a selector file (key 'format' is not {FORMAT!r})")
        if data.get("version") != VERSION:
            raise ValueError(f"{path}: selector version {data.get('version')!r}, this code reads {VERSION}")
        if data.get("features") != FEATURE_NAMES:
            raise ValueError(f"{path}: key 'features' differs from this code's features "
                             f"({', '.join(FEATURE_NAMES)}); retrain the selector")
        missing = [k for k in ("mean", "scale", "coef", "intercept") if k not in data]
        if missing:
            raise ValueError(f"{path}: missing key(s) {', '.join(missing)}")
        try:
            return cls(data["mean"], data["scale"], data["coef"], data["intercept"],
                       data.get("split_mode", "sentence"), data.get("training"))
        except (TypeError, ValueError) as err:
            raise ValueError(f"{path}: {err}") from err


def oracle_labelled_features(documents: List[str], query: Optional[str], title: Optional[str],
                             summary: str, split_mode: str) -> Tuple[np.ndarray, np.ndarray]:
    """Features of one record's passages and their 0/1 greedy-oracle labels."""
    passages = split_passages(documents, mode=split_mode)
    features = passage_features(passages, query, title)
    labels = np.zeros(len(passages))
    labels[greedy_oracle([p.text for p in passages], summary)] = 1.0
    return features, labels


def train_selector(examples: Iterable[Tuple[np.ndarray, np.ndarray]], split_mode: str = "sentence",
                   regularization: float = 1.0, training_info: Optional[Dict] = None) -> LearnedSelector:
    """Fit the selector on ``(features, labels)`` pairs, one per record."""
    from sklearn.linear_model import LogisticRegression  # only training needs scikit-learn

    blocks = list(examples)
    if not blocks:
        raise ValueError("no training records")
    features = np.vstack([f for f, _ in blocks])
    labels = np.concatenate([y for _, y in blocks])
    positives = int(labels.sum())
    if positives == 0 or positives == len(labels):
        raise ValueError(f"the oracle labelled {positives} of {len(labels)} passages positive; "
                         f"need both classes to train")
    mean = features.mean(axis=0)
    scale = features.std(axis=0)
    scale[scale == 0] = 1.0  # a constant feature (e.g. no query anywhere) carries no signal
    model = LogisticRegression(C=regularization, class_weight="balanced", solver="lbfgs",
                               max_iter=2000, tol=1e-8)
    model.fit((features - mean) / scale, labels)
    info = dict(training_info or {})
    info.update(records=len(blocks), passages=int(len(labels)), positives=positives)
    logger.info("trained on %d records, %d passages (%d oracle picks)", len(blocks), len(labels), positives)
    return LearnedSelector(mean, scale, model.coef_[0], float(model.intercept_[0]), split_mode, info)


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
        return self.selector.score_features(passage_features(passages, query, title))
