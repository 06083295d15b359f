"""The API's forecasting algorithm names and what implements each (forecasters.py, and
gradient_boosting.py for cnn-qr), the libraries each imports, and the label its candidates are
named with."""

from __future__ import annotations

import importlib
from collections.abc import Callable

import pandas as pd

from airflow_automl.local.engine.forecasting.forecasters import (
    DEEPAR_SAMPLES,
    SEASONAL_NAIVE,
    Settings,
    deepar_estimator,
    forecast_npts,
    forecast_prophet,
    neural,
    rolling,
    seasonal_naive,
    statistical,
)
from airflow_automl.local.engine.forecasting.gradient_boosting import gradient_boosting

# The API's algorithm names, in the order the job trains them (fast ones first). Each takes the
# series, the horizon, the backtest windows' cutoffs and the settings, and returns the windows'
# predictions (with their window number) and the forecast of the next horizon. With no cutoffs
# (a served model forecasting from the history a request sends) there are no windows to predict.
FORECASTERS: dict[str, Callable[[pd.DataFrame, int, list[int], Settings], tuple[pd.DataFrame, pd.DataFrame]]] = {
    # Not one of the API's algorithms: every job trains it first (the baseline, see __init__.py).
    SEASONAL_NAIVE: seasonal_naive,
    "npts": rolling(forecast_npts),
    "cnn-qr": gradient_boosting,
    "ets": statistical("AutoETS"),
    "arima": statistical("AutoARIMA"),
    "prophet": rolling(forecast_prophet),
    # PyTorch (the torch extra); refused at create without it.
    "deepar": neural(deepar_estimator, DEEPAR_SAMPLES),
}
# The libraries each algorithm imports when it first runs. The job imports them before the
# algorithm's timer starts: an interrupt landing inside an import leaves the module half-initialised
# in sys.modules, and every later import of it in the worker fails.
LIBRARIES: dict[str, tuple[str, ...]] = {
    SEASONAL_NAIVE: (),
    "npts": ("gluonts.dataset.common", "gluonts.model.npts"),
    "cnn-qr": ("lightgbm",),
    "ets": ("statsforecast.models",),
    "arima": ("statsforecast.models",),
    "prophet": ("cmdstanpy.utils", "prophet"),
    "deepar": ("lightning.pytorch", "gluonts.dataset.common", "gluonts.torch.model.deepar"),
}


def import_libraries(algorithm: str) -> None:
    """Imports what ``algorithm`` needs, so that no timer can interrupt the import."""
    for module in LIBRARIES[algorithm]:
        importlib.import_module(module)


LABELS = {
    SEASONAL_NAIVE: "SeasonalNaive",
    "npts": "NPTS",
    "ets": "ETS",
    "arima": "ARIMA",
    "prophet": "Prophet",
    "deepar": "DeepAR",
    "cnn-qr": "CNN-QR",
    "ensemble": "Ensemble",
}
