"""``thermal-quenching``: host formula + activator + site fraction -> thermal-quenching temperature T50 (K).

About 400 literature measurements (:mod:`regenome.surrogates.phosphor_data`), noisy: the same
Y3Al5O12:Ce3+ composition is reported between 488 and 642 K, and many papers report the temperature of
their last heating step (423 K, 473 K) rather than a true T50. The model is therefore strongly
regularized: a per-activator baseline (the activator's median, shrunk toward the overall median),
a small absolute-error gradient-boosted host term (anion mix, covalency, rigidity proxies, the replaced
cation) and a same-host prior from other papers; its one-sigma width comes from an error model
of out-of-fold errors, wider for activators and hosts with few measurements.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from regenome.surrogates.base import SurrogateSpec, TrainingSet
from regenome.surrogates.phosphor_data import (
    SOURCE, phosphor_feature_names, phosphor_training_set, phosphor_training_range, prepare_phosphor_inputs,
)

REPORTED_ACTIVATORS = ("Ce3+", "Eu2+", "Eu3+", "Mn4+")


def load_training_set(data_dir: Path, quick: bool) -> TrainingSet:
    """Rows with a thermal-quenching temperature (co-doped rows kept: the host sets T50; subset ``single``)."""
    def select(frame):
        y = frame["T50_K"].to_numpy(dtype=float)
        keep = np.isfinite(y)
        return keep, {"without a thermal-quenching temperature": ~keep}

    ts = phosphor_training_set(data_dir, "T50_K", select, quick)
    frame = ts.frame
    single = (frame["codopant"] == "").to_numpy()
    ts.subsets = {"all": np.ones(len(frame), bool), "single_activator": single, "co_doped": ~single,
                  **{a: (frame["activator"] == a).to_numpy() for a in REPORTED_ACTIVATORS},
                  "nitride_or_oxynitride": (frame["anion_N"] > 0).to_numpy()}
    y = ts.Y[:, 0]
    ts.filtering += (f"; T50 values kept as given: all lie in {y.min():.0f}-{y.max():.0f} K (none below room "
                     "temperature, so no degree-Celsius entries to correct); co-doped rows kept")
    return ts


def make_estimator(seed: int, quick: bool, context: dict | None = None):
    """Shrunk per-activator baseline + a small absolute-error host term + same-host prior."""
    from sklearn.ensemble import HistGradientBoostingRegressor

    from regenome.surrogates.phosphor_data import HostFeaturizer, PhosphorRegressor

    mean = HistGradientBoostingRegressor(loss="absolute_error", max_iter=40 if quick else 150, learning_rate=0.03,
                                         max_leaf_nodes=7, min_samples_leaf=20, l2_regularization=5.0,
                                         random_state=seed)
    error = HistGradientBoostingRegressor(loss="absolute_error", max_iter=30 if quick else 60, learning_rate=0.05,
                                          max_leaf_nodes=5, min_samples_leaf=30, random_state=seed)
    return PhosphorRegressor(HostFeaturizer(), mean, error, target="none", shrinkage=10.0,
                             cv=3 if quick else 5, sigma_floor=10.0, random_state=seed)


SPEC = SurrogateSpec(
    name="thermal-quenching",
    version="1.0",
    description="Thermal-quenching temperature T50 (K, where the emission falls to half) of a phosphor from its "
                "host formula, activator and activator concentration (fraction of the replaced site): a "
                "per-activator baseline, a strongly regularized gradient-boosted host term and a same-host prior "
                "from other papers, with a calibrated, deliberately wide one-sigma uncertainty. The literature "
                "values are noisy (the same composition differs by 150 K between papers). The issue's anchors "
                "were scored on the withheld papers, whose spread is smaller (a constant 450 K scores 53 K "
                "there); on these grouped folds compare with the '(mean predictor)' rows.",
    inputs={"host": "host formula (nominal, without the activator)", "activator": "ion, e.g. Ce3+ or Eu2+",
            "concentration": "fraction of the replaced site (0-1]"},
    outputs={"T50_K": "K"},
    source=SOURCE,
    load_training_set=load_training_set,
    make_estimator=make_estimator,
    prepare_inputs=prepare_phosphor_inputs,
    feature_names=phosphor_feature_names,
    training_range=phosphor_training_range,
    validation="{n_splits}-fold GroupKFold grouped by paper (DOI), shuffled with seed {seed}: no paper is on both "
               "sides; metrics on out-of-fold predictions; baselines and the same-host prior of each fold come "
               "from its training papers only, and each fold's model runs its own inner grouped CV for the "
               "uncertainty calibration",
    anchors=[
        {"name": "random forest on Magpie features (issue, withheld papers)", "split": "by paper", "subset": "all",
         "output": "T50_K", "MAE": 73},
        {"name": "predicting the mean (issue, withheld papers)", "split": "by paper", "subset": "all",
         "output": "T50_K", "MAE": 67},
        {"name": "constant 450 K (issue, withheld papers)", "split": "by paper", "subset": "all", "output": "T50_K",
         "MAE": 53},
    ],
    targets={"all/T50_K": {"MAE": 42.0}},
    mean_baseline=True,
)
