"""The image classification jobs' convolutional network (needs the torch extra): two convolutions
with pooling and a linear layer over the grey pixels of each image, trained from scratch on the
job's images (no pretrained weights), on the CPU, with a fixed seed.

``ConvNetClassifier`` is a fitted candidate as the others are (``classes_``, ``predict``,
``predict_proba`` over rows of image features), so the job keeps, ranks, ensembles and serves it
like them. It pickles as the network's architecture settings and its ``state_dict`` written with
``torch.save``: serving rebuilds the same network from this module and loads the weights, and no
training code runs there."""

from __future__ import annotations

import io
import time
from typing import Any

import numpy as np
import torch
from torch import nn

# Settings of the architecture and of its training; recorded in the candidate's description.
DEFAULTS: dict[str, Any] = {
    "channels": [16, 32],
    "epochs": 30,
    "batch_size": 32,
    "learning_rate": 0.003,
    "seed": 0,
}
# What a pickled model holds besides its weights.
_STATE = ("side", "columns", "channels", "epochs", "batch_size", "learning_rate", "seed")


def build_network(side: int, channels: list[int], classes: int) -> nn.Sequential:
    """Convolution, ReLU, 2x2 pooling, twice; then one linear layer to the class scores."""
    first, second = channels
    return nn.Sequential(
        nn.Conv2d(1, first, kernel_size=3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(first, second, kernel_size=3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(second * (side // 4) ** 2, classes),
    )


class ConvNetClassifier:
    """A scikit-learn style classifier over rows of image features: ``columns`` (start, stop)
    are where each row holds the grey image of ``side`` x ``side`` pixels. ``deadline`` (a
    time.monotonic() value) ends training after the epoch in which it passes; it is not kept."""

    def __init__(
        self,
        side: int,
        columns: tuple[int, int],
        channels: list[int] = DEFAULTS["channels"],
        epochs: int = DEFAULTS["epochs"],
        batch_size: int = DEFAULTS["batch_size"],
        learning_rate: float = DEFAULTS["learning_rate"],
        seed: int = DEFAULTS["seed"],
        deadline: float | None = None,
    ):
        self.side = side
        self.columns = tuple(columns)
        self.channels = list(channels)
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.seed = seed
        self.deadline = deadline

    @staticmethod
    def default_settings() -> dict[str, Any]:
        return {key: list(value) if isinstance(value, list) else value for key, value in DEFAULTS.items()}

    def fit(self, features: np.ndarray, labels: np.ndarray) -> ConvNetClassifier:
        torch.manual_seed(self.seed)
        order = torch.Generator().manual_seed(self.seed)
        self.classes_, targets = np.unique(labels, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError("the convolutional network needs images of at least two labels")
        pixels = self._pixels(features)
        # Standardised with the training images' mean and spread, kept for serving.
        self.mean_ = float(pixels.mean())
        self.std_ = float(pixels.std()) or 1.0
        images = (pixels - self.mean_) / self.std_
        target = torch.as_tensor(targets, dtype=torch.long)
        self.network_ = build_network(self.side, self.channels, len(self.classes_))
        optimizer = torch.optim.Adam(self.network_.parameters(), lr=self.learning_rate)
        loss_of = nn.CrossEntropyLoss()
        self.network_.train()
        self.epochs_trained_ = 0
        for _ in range(self.epochs):
            for batch in torch.randperm(len(target), generator=order).split(self.batch_size):
                optimizer.zero_grad()
                loss = loss_of(self.network_(images[batch]), target[batch])
                loss.backward()
                optimizer.step()
            self.epochs_trained_ += 1
            if self.deadline is not None and time.monotonic() >= self.deadline:
                break
        self.network_.eval()
        return self

    def predict_proba(self, features: Any) -> np.ndarray:
        images = (self._pixels(np.asarray(features)) - self.mean_) / self.std_
        with torch.no_grad():
            return torch.softmax(self.network_(images), dim=1).numpy().astype(np.float64)

    def predict(self, features: Any) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_proba(features), axis=1)]

    def _pixels(self, features: np.ndarray) -> torch.Tensor:
        start, stop = self.columns
        rows = np.asarray(features, dtype=np.float32)[:, start:stop]
        return torch.from_numpy(np.ascontiguousarray(rows)).reshape(-1, 1, self.side, self.side)

    def __getstate__(self) -> dict[str, Any]:
        weights = io.BytesIO()
        torch.save(self.network_.state_dict(), weights)
        return {
            **{key: getattr(self, key) for key in _STATE},
            "classes": self.classes_.tolist(),
            "mean": self.mean_,
            "std": self.std_,
            "epochs_trained": self.epochs_trained_,
            "state_dict": weights.getvalue(),
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        for key in _STATE:
            setattr(self, key, state[key])
        self.deadline = None
        self.classes_ = np.asarray(state["classes"])
        self.mean_, self.std_ = state["mean"], state["std"]
        self.epochs_trained_ = state["epochs_trained"]
        self.network_ = build_network(self.side, self.channels, len(self.classes_))
        self.network_.load_state_dict(torch.load(io.BytesIO(state["state_dict"]), weights_only=True))
        self.network_.eval()
