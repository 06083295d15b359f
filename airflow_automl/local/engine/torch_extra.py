"""AutoGluon's neural network models need PyTorch, an optional extra kept out of the default
install. Kept apart from the engine so the service can check it at create time without
importing AutoGluon."""

import importlib.util

TORCH_ALGORITHMS = ("nn-torch", "fastai")
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
