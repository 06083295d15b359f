"""AutoGluon's neural network models and the neural forecaster (DeepAR) need PyTorch, an
optional extra kept out of the default install. Kept apart from the engine so the service can
check it at create time without importing AutoGluon."""

import importlib.util

TORCH_ALGORITHMS = ("nn-torch", "fastai")
# Time-series forecasting algorithms that are neural networks (gluonts' PyTorch models).
TORCH_FORECAST_ALGORITHMS = ("deepar",)
TORCH_EXTRA = "airflow-automl[torch]"


def torch_available() -> bool:
    return importlib.util.find_spec("torch") is not None


def missing_torch_message(algorithms: tuple[str, ...] | list[str]) -> str | None:
    """Why these algorithms can't train here, or None when they can."""
    missing = [a for a in algorithms if a in TORCH_ALGORITHMS]
    if not missing or torch_available():
        return None
    return (
        f"AutoMLAlgorithms {', '.join(missing)} need PyTorch, which is not installed; "
        f"install the optional extra {TORCH_EXTRA} or choose other algorithms"
    )


def neural_forecasting_available() -> bool:
    """gluonts' PyTorch models train with Lightning, which the extra brings along with torch."""
    return torch_available() and importlib.util.find_spec("lightning") is not None


def missing_torch_forecast_message(algorithms: tuple[str, ...] | list[str]) -> str | None:
    """Why these forecasting algorithms can't train here, or None when they can."""
    neural = [a for a in algorithms if a in TORCH_FORECAST_ALGORITHMS]
    if not neural or neural_forecasting_available():
        return None
    return (
        f"AutoMLAlgorithms {', '.join(neural)} need PyTorch and Lightning, which are not installed; "
        f"install the optional extra {TORCH_EXTRA} or choose among cnn-qr, prophet, arima, npts, ets"
    )
