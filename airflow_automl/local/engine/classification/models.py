"""What a text or image classification candidate is once fitted: a scikit-learn estimator with
``classes_``, ``predict`` and ``predict_proba``. ``SoftVote`` averages fitted members'
probabilities (the ensemble candidate). Kept by pickle in the job's model directory and loaded
again by serving, so it lives apart from the training code."""

from __future__ import annotations

from typing import Any

import numpy as np


class SoftVote:
    """The average of fitted classifiers' class probabilities; the label is the likeliest class.
    Every member was fitted on the same labels, so their classes_ agree."""

    def __init__(self, members: list[Any]):
        self.members = members
        self.classes_ = members[0].classes_

    def predict_proba(self, inputs: Any) -> np.ndarray:
        return np.mean([member.predict_proba(inputs) for member in self.members], axis=0)

    def predict(self, inputs: Any) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_proba(inputs), axis=1)]
