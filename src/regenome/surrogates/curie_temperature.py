"""``curie-temperature``: formula of any inorganic compound -> Curie temperature (K)."""

from __future__ import annotations

from pathlib import Path

from regenome.surrogates.base import SurrogateSpec
from regenome.surrogates.composition import (FeaturizedRegressor, element_range, load_formula_table,
                                             prepare_formulas, subsample)
from regenome.surrogates.uncertainty import CalibratedRegressor

DATA_FILE = "magnets/experimental_curie_temperature.csv"


def load_training_set(data_dir: Path, quick: bool):
    ts, _ = load_formula_table(data_dir, DATA_FILE, "composition", "Tc_K", positive=True)
    return subsample(ts, 1500, 0) if quick else ts


def make_estimator(seed: int, quick: bool) -> FeaturizedRegressor:
    from sklearn.ensemble import HistGradientBoostingRegressor

    from regenome.features.composition import CompositionFeaturizer

    mean = HistGradientBoostingRegressor(max_iter=60 if quick else 1500, learning_rate=0.05,
                                         max_leaf_nodes=31, min_samples_leaf=5, l2_regularization=1.0,
                                         early_stopping=False, random_state=seed)
    error = HistGradientBoostingRegressor(max_iter=40 if quick else 200, learning_rate=0.05,
                                          max_leaf_nodes=15, min_samples_leaf=20, loss="absolute_error",
                                          early_stopping=False, random_state=seed)
    return FeaturizedRegressor(CompositionFeaturizer(),
                               CalibratedRegressor(mean, error, cv=3 if quick else 5, random_state=seed))


def feature_names(estimator) -> list[str]:
    return list(estimator.featurizer_.get_feature_names_out())


SPEC = SurrogateSpec(
    name="curie-temperature",
    version="1.0",
    description="Curie temperature of an inorganic compound from its formula: composition features "
                "(element-property statistics, stoichiometry, 4f physics) and gradient-boosted trees, "
                "with a calibrated one-sigma uncertainty.",
    inputs={"formula": "chemical formula"},
    outputs={"Tc_K": "K"},
    source="MaMMoS-project/ML-models (MIT) @791e0b5, compound-to-tc/compound-to-experimental-tc/"
           "preprocessed_data/Experimental_Tc.csv, compiled from literature databases",
    load_training_set=load_training_set,
    make_estimator=make_estimator,
    prepare_inputs=prepare_formulas,
    feature_names=feature_names,
    training_range=element_range,
    validation="{n_splits}-fold GroupKFold grouped by normalized composition, shuffled with seed {seed}; "
               "metrics on out-of-fold predictions; each fold's model runs its own inner grouped CV "
               "for the uncertainty calibration",
    anchors=[
        {"name": "MaMMoS LightGBM, 200-d element embeddings", "split": "random 80/20", "subset": "rare_earth",
         "output": "Tc_K", "R2": 0.930, "MAE": 40.0},
        {"name": "MaMMoS LightGBM, 200-d element embeddings", "split": "random 80/20", "subset": "all",
         "output": "Tc_K", "R2": 0.859, "MAE": 58.0},
        {"name": "random forest on matminer Magpie features", "split": "grouped", "subset": "rare_earth",
         "output": "Tc_K", "MAE": 43.0},
        {"name": "random forest on matminer Magpie features", "split": "grouped", "subset": "all",
         "output": "Tc_K", "MAE": 57.0},
    ],
    targets={"rare_earth/Tc_K": {"MAE": 35.0}, "all/Tc_K": {"MAE": 52.0}},
)
