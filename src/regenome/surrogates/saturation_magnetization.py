"""``saturation-magnetization``: formula -> saturation magnetization Ms (A/m)."""

from __future__ import annotations

from pathlib import Path

from regenome.surrogates.base import SurrogateSpec
from regenome.surrogates.composition import FORMULA_INPUT, formula_model, formula_training_set

DATA_FILE = "magnets/experimental_saturation_magnetization.csv"


def load_training_set(data_dir: Path, quick: bool):
    return formula_training_set(data_dir, DATA_FILE, "Ms_A_m", quick)


def make_estimator(seed: int, quick: bool, context: dict | None = None):
    """Gradient-boosted trees on log(Ms) with an absolute-error loss (robust to the outliers of the set)."""
    from sklearn.ensemble import HistGradientBoostingRegressor

    mean = HistGradientBoostingRegressor(max_iter=60 if quick else 2000, learning_rate=0.05,
                                         max_leaf_nodes=63, min_samples_leaf=5, l2_regularization=0.1,
                                         max_features=0.5, loss="absolute_error", early_stopping=False,
                                         random_state=seed)
    return formula_model(mean, "log", seed, quick)


SPEC = SurrogateSpec(
    name="saturation-magnetization",
    version="1.0",
    description="Saturation magnetization of an inorganic compound from its formula (log-space gradient-"
                "boosted trees on composition features, calibrated one-sigma). For ferrimagnets the "
                "training values are the collinear, uncompensated moment, so predictions are too.",
    outputs={"Ms_A_m": "A/m"},
    source="MaMMoS-project/ML-models (MIT) @791e0b5, compound-to-ms/.../Experimental_Ms_all.csv",
    load_training_set=load_training_set,
    make_estimator=make_estimator,
    **FORMULA_INPUT,
    validation="{n_splits}-fold GroupKFold grouped by normalized composition, shuffled with seed {seed}; "
               "metrics on out-of-fold predictions",
    anchors=[
        {"name": "MaMMoS ML-models", "split": "random", "subset": "rare_earth", "output": "Ms_A_m",
         "median_relative_error": 0.132},
        {"name": "MaMMoS ML-models", "split": "random", "subset": "all", "output": "Ms_A_m",
         "median_relative_error": 0.192},
        {"name": "random forest on matminer Magpie features", "split": "grouped", "subset": "all",
         "output": "Ms_A_m", "median_relative_error": 0.171},
    ],
    targets={"all/Ms_A_m": {"median_relative_error": 0.15}},
)
