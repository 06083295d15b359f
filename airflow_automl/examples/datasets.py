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


# --- store demand: many items' daily unit sales, for the forecasting example -----------------------


def store_demand(items: int, start: date, end: date, country: str = "US", future_days: int = 0) -> pd.DataFrame:
    """Daily unit sales of ``items`` products from ``start`` up to (not including) ``end``, with
    columns sku, date, units and promotion (1 on promoted days); and ``future_days`` more days
    from ``end`` on with the promotions planned and units empty: the future rows a forecasting job
    reads its related time series' values for the forecast horizon from.

    Each product has its own level, trend, weekly pattern (weekend peak), yearly season (peaking
    in summer or at year end), a dip or spike on the country's public holidays, random
    promotions that lift sales by 45 % for a few days, and count noise. A product's draw depends only on
    its number, so a later interval extends the same history, as a real sales table grows.
    """
    import holidays as holiday_calendars

    if items < 1:
        raise ValueError(f"items: must be at least 1, got {items}")
    if future_days < 0:
        raise ValueError(f"future_days: must be at least 0, got {future_days}")
    days = pd.date_range(start, pd.Timestamp(end) + pd.Timedelta(days=future_days), freq="D", inclusive="left")
    if len(days) == future_days:
        raise ValueError(f"end: must be after start ({start} .. {end})")
    sold = days < pd.Timestamp(end)
    calendar = holiday_calendars.country_holidays(country, years=range(days[0].year, days[-1].year + 1))
    is_holiday = np.array([day.date() in calendar for day in days])
    day_number = (days - pd.Timestamp("2020-01-01")).days.to_numpy()
    weekday = days.dayofweek.to_numpy()
    year_angle = 2 * np.pi * days.dayofyear.to_numpy() / 365.25
    frames = []
    for number in range(items):
        rng = np.random.default_rng(1000 + number)
        level = rng.lognormal(mean=3.0, sigma=0.6)  # about 20 units a day, 5 to 70
        trend = rng.normal(0.0003, 0.0004)  # relative change per day
        weekend = rng.uniform(0.1, 0.5)
        summer_item = rng.random() < 0.5
        season = np.cos(year_angle - (np.pi * 1.1 if summer_item else 0.0)) * rng.uniform(0.1, 0.35)
        holiday_effect = rng.choice([-0.5, 0.6])  # closed, or a gift item
        # Promotions: each day starts one with probability 1/40; it lasts 3 to 7 days.
        promotion = np.zeros(len(days), dtype=int)
        for begin in np.flatnonzero(np.random.default_rng(5000 + number).random(len(day_number)) < 1 / 40):
            promotion[begin : begin + rng.integers(3, 8)] = 1
        expected = (
            level
            * (1 + trend * (day_number - 1500))
            * (1 + weekend * (weekday >= 5))
            * (1 + season)
            * (1 + holiday_effect * is_holiday)
            * (1 + 0.45 * promotion)
        ).clip(0.1, None)
        units = pd.Series(rng.poisson(expected))
        if future_days:
            units = units.astype("Int64").mask(~sold)  # not sold yet: empty
        frames.append(
            pd.DataFrame(
                {
                    "sku": f"sku-{number + 1:04d}",
                    "date": days.strftime("%Y-%m-%d"),
                    "units": units,
                    "promotion": promotion,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)
