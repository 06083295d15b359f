"""The demo dataset: a customer-churn table, generated deterministically with numpy.

Each row is a subscriber of a telecom-like service seen during one data interval, with numeric and
categorical features and a binary target (``churned``: "yes" / "no") that depends on them through a
known, noisy rule, so a model can learn it but not perfectly. The same interval always yields the
same rows, which makes a retraining DAG's runs reproducible without shipping data files.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime

import numpy as np
import pandas as pd

TARGET = "churned"
CONTRACTS = ("month-to-month", "one-year", "two-year")
PAYMENT_METHODS = ("electronic-check", "mailed-check", "bank-transfer", "credit-card")
INTERNET_SERVICES = ("fiber", "dsl", "none")
REGIONS = ("north", "south", "east", "west")


def customer_churn(rows: int = 3000, seed: int = 0, drift: float = 0.0) -> pd.DataFrame:
    """``rows`` customers drawn with ``seed``. ``drift`` (0..1) slowly raises prices and churn,
    so later intervals differ a little from earlier ones, as real data does."""
    if rows < 1:
        raise ValueError(f"rows: must be at least 1, got {rows}")
    rng = np.random.default_rng(seed)
    contract = rng.choice(CONTRACTS, size=rows, p=(0.55, 0.25, 0.20))
    internet = rng.choice(INTERNET_SERVICES, size=rows, p=(0.45, 0.35, 0.20))
    payment = rng.choice(PAYMENT_METHODS, size=rows, p=(0.35, 0.20, 0.22, 0.23))
    region = rng.choice(REGIONS, size=rows)
    senior = rng.random(rows) < 0.16
    # Long contracts go with long tenure.
    tenure_scale = np.select([contract == "month-to-month", contract == "one-year"], [14.0, 30.0], 48.0)
    tenure = np.clip(rng.exponential(tenure_scale), 1, 72).round().astype(int)
    base_price = np.select([internet == "fiber", internet == "dsl"], [80.0, 55.0], 22.0)
    monthly = np.round(base_price * (1 + 0.1 * drift) + rng.normal(0, 9, rows), 2).clip(15, None)
    total = np.round(monthly * tenure * rng.uniform(0.95, 1.05, rows), 2)
    support_calls = rng.poisson(np.where(internet == "fiber", 1.8, 1.0))
    products = rng.integers(1, 6, rows)
    # A share of values missing, as in exports from real systems.
    total_with_gaps = np.where(rng.random(rows) < 0.01, np.nan, total)

    logit = (
        -2.3
        + 1.5 * (contract == "month-to-month")
        - 1.1 * (contract == "two-year")
        + 0.7 * (internet == "fiber")
        + 0.55 * (payment == "electronic-check")
        + 0.35 * senior
        - 0.045 * tenure
        + 0.018 * (monthly - 60)
        + 0.38 * support_calls
        - 0.22 * (products - 3)
        + 0.8 * drift
        + rng.normal(0, 0.6, rows)
    )
    churned = rng.random(rows) < 1 / (1 + np.exp(-logit))
    return pd.DataFrame(
        {
            "customer_id": [f"C{seed % 100000:05d}-{i:05d}" for i in range(rows)],
            "region": region,
            "senior_citizen": senior.astype(int),
            "tenure_months": tenure,
            "contract": contract,
            "internet_service": internet,
            "payment_method": payment,
            "monthly_charges": monthly,
            "total_charges": total_with_gaps,
            "support_calls": support_calls,
            "products": products,
            TARGET: np.where(churned, "yes", "no"),
        }
    )


def churn_for_interval(
    start: date | datetime, end: date | datetime, rows: int = 3000, run_key: str = ""
) -> pd.DataFrame:
    """The customers seen in the data interval [start, end): same interval and run_key, same rows.
    A DAG run passes its run id as run_key, so two runs of one interval get different customers."""
    start_day, end_day = _as_date(start), _as_date(end)
    if end_day < start_day:
        raise ValueError(f"end: must not be before start ({start_day} .. {end_day})")
    seed_text = f"{start_day.isoformat()}/{end_day.isoformat()}" + (f"/{run_key}" if run_key else "")
    digest = hashlib.sha256(seed_text.encode()).digest()
    seed = int.from_bytes(digest[:4], "big")
    # About one year of drift from 2024 on, so runs a year apart see visibly different data.
    drift = min(max((end_day - date(2024, 1, 1)).days / 365.0, 0.0), 1.0)
    return customer_churn(rows=rows, seed=seed, drift=drift)


def _as_date(value: date | datetime) -> date:
    return value.date() if isinstance(value, datetime) else value
