"""Support weighting: pairs whose retrieved source covers little of the reference teach
the model to hallucinate, so they can count less. Off by default.

Weights come from the retrieval coverage that summ-prepare writes in ``{split}.meta.jsonl``
(one line per example, data-bin order): w_i = max(coverage_i, floor) ** power, scaled to
mean 1 so the loss keeps its scale and learning rates keep their meaning.
"""
import os

import numpy as np
import torch
from fairseq.data import BaseWrapperDataset

from ..data.formats import iter_jsonl_objects
from ..data.records import BadRecordError
from ..errors import UserError
from ..numbers import number_problem

COVERAGE_KEY = "rouge1_recall"


class SupportWeightsError(UserError, ValueError):
    """--support-weighting cannot weight the split: its meta file or the options are unusable."""


def check_weighting_options(power: float, floor: float) -> None:
    for option, value in (("--support-weighting-power", power), ("--support-weighting-floor", floor)):
        problem = number_problem(value)
        if problem:
            raise SupportWeightsError(f"{option} {value}: {problem}")
    if not 0 <= floor <= 1:
        raise SupportWeightsError(f"--support-weighting-floor {floor}: must be in [0, 1] (a coverage)")
    if floor == 0 and power < 0:
        raise SupportWeightsError(f"--support-weighting-power {power} with --support-weighting-floor 0: a pair of "
                                  "coverage 0 would get an infinite weight; give a floor above 0")


def support_weights_from_coverage(coverage, power: float = 1.0, floor: float = 0.1) -> np.ndarray:
    coverage = np.asarray(coverage, dtype=np.float64)
    weights = np.maximum(coverage, floor) ** power
    if not weights.mean() > 0:  # floor 0 and no coverage anywhere: 0 / 0
        raise SupportWeightsError("--support-weighting: every pair would get weight 0 (coverage 0 everywhere and "
                                  "--support-weighting-floor 0); give a floor above 0")
    return weights / weights.mean()


def load_support_weights(data_path: str, split: str, expected: int, power: float, floor: float) -> np.ndarray:
    check_weighting_options(power, floor)
    meta_path = os.path.join(data_path, f"{split}.meta.jsonl")
    if not os.path.isfile(meta_path):
        raise SupportWeightsError(
            f"--support-weighting needs {meta_path} (written by summ-prepare); prepare the data with summ-prepare"
        )
    coverage = []
    try:
        for location, entry in iter_jsonl_objects(meta_path):
            if isinstance(entry, BadRecordError):
                raise SupportWeightsError(str(entry))
            if not isinstance(entry, dict):
                raise SupportWeightsError(f"{location}: expected a JSON object, got {type(entry).__name__}")
            value = entry.get(COVERAGE_KEY)
            if value is None:
                raise SupportWeightsError(f"{location}: no '{COVERAGE_KEY}' (split prepared without summaries?)")
            if number_problem(value) or not 0 <= value <= 1:
                raise SupportWeightsError(f"{location}: '{COVERAGE_KEY}' is {value!r}, not a coverage in [0, 1]")
            coverage.append(float(value))
    except OSError as err:
        raise SupportWeightsError(f"{meta_path}: cannot read: {err.strerror or err}") from None
    if len(coverage) != expected:
        raise SupportWeightsError(f"{meta_path} has {len(coverage)} lines but the {split} data-bin has {expected} examples")
    return support_weights_from_coverage(coverage, power=power, floor=floor)


class SampleWeightsDataset(BaseWrapperDataset):
    """Adds ``sample["weights"]`` (one per sample, in batch order) to each collated batch."""

    def __init__(self, dataset, weights: np.ndarray):
        super().__init__(dataset)
        self.weights = torch.from_numpy(np.asarray(weights, dtype=np.float32))

    def collater(self, samples):
        batch = self.dataset.collater(samples)
        if len(batch) > 0:
            batch["weights"] = self.weights[batch["id"]]
        return batch

    def num_tokens_vec(self, indices):
        return self.dataset.num_tokens_vec(indices)
