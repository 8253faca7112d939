"""Model files load only when their card's sha256 matches and their types are safe."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from sklearn.linear_model import LinearRegression

from regenome.errors import ModelFileError
from regenome.modelstore import (ModelCard, TrainingData, load_from_folder, load_model, package_versions,
                                 save_model)


def _card(**kw) -> ModelCard:
    base = dict(name="toy", version="0.1", description="a line", inputs={"x": "1"}, outputs={"y": "1"},
                training_data=[TrainingData(file="toy.csv", sha256="0" * 64, rows_in_file=3, rows_used=3,
                                            source="made up")],
                package_versions=package_versions())
    base.update(kw)
    return ModelCard(**base)


@pytest.fixture
def saved(tmp_path):
    model = LinearRegression().fit(np.arange(5.0)[:, None], 2 * np.arange(5.0) + 1)
    card = save_model(model, _card(), tmp_path / "toy")
    return tmp_path / "toy", card


def test_round_trip_predicts_the_same(saved):
    folder, card = saved
    model, loaded_card = load_from_folder(folder)
    assert loaded_card.files == card.files
    assert len(card.files["model.skops"]) == 64
    np.testing.assert_allclose(model.predict([[10.0]]), [21.0])
    assert "scikit-learn" in loaded_card.package_versions


def test_tampered_file_is_refused_naming_it(saved):
    folder, _ = saved
    path = folder / "model.skops"
    data = bytearray(path.read_bytes())
    data[-10] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="model.skops: sha256 .* does not match the card"):
        load_from_folder(folder)


def test_pickle_files_are_refused_without_trust(tmp_path):
    folder = tmp_path / "evil"
    folder.mkdir()
    (folder / "model.pkl").write_bytes(pickle.dumps(LinearRegression()))
    card = _card(model_file="model.pkl", files={"model.pkl": "x"})
    (folder / "card.json").write_text(card.model_dump_json())
    with pytest.raises(ModelFileError, match="model.pkl: pickle/joblib files can run code.*--trust"):
        load_from_folder(folder)
    with pytest.raises(ModelFileError, match="model.pkl: sha256 .* does not match"):  # trust skips no check
        load_from_folder(folder, trust=True)


def test_joblib_model_you_trained_loads_with_trust_only(tmp_path):
    model = LinearRegression().fit(np.arange(5.0)[:, None], 2 * np.arange(5.0) + 1)
    card = save_model(model, _card(), tmp_path / "toy", fmt="joblib")
    assert card.model_file == "model.joblib" and (tmp_path / "toy" / "model.joblib").is_file()
    with pytest.raises(ModelFileError, match="--trust"):
        load_from_folder(tmp_path / "toy")
    loaded, _ = load_from_folder(tmp_path / "toy", trust=True)
    np.testing.assert_allclose(loaded.predict([[10.0]]), [21.0])
    with pytest.raises(ModelFileError, match="holds model 'toy', not 'curie-temperature'"):
        load_model("curie-temperature", tmp_path / "toy", trust=True)


def test_unknown_model_format_is_refused(tmp_path):
    folder = tmp_path / "odd"
    folder.mkdir()
    (folder / "model.onnx").write_bytes(b"\x08\x07")
    (folder / "card.json").write_text(_card(model_file="model.onnx", files={"model.onnx": "x"}).model_dump_json())
    with pytest.raises(ModelFileError, match="unknown model format '.onnx'"):
        load_from_folder(folder)


def _fraction_model(folder, **card_fields):
    """A skops file holding a type outside the allow-list (fractions.Fraction), with a matching hash."""
    import fractions

    import skops.io as sio

    from regenome.modelstore import sha256_file

    folder.mkdir()
    sio.dump({"s": fractions.Fraction(1, 3)}, folder / "model.skops")
    card = _card(files={"model.skops": sha256_file(folder / "model.skops")}, **card_fields)
    (folder / "card.json").write_text(card.model_dump_json())
    return folder


def test_unsafe_types_are_refused(tmp_path):
    folder = _fraction_model(tmp_path / "odd")
    with pytest.raises(ModelFileError, match="refuses to load object types.*fractions.Fraction"):
        load_from_folder(folder)


def test_missing_and_invalid_cards(tmp_path, monkeypatch):
    monkeypatch.setenv("REGENOME_MODELS_DIR", str(tmp_path))
    with pytest.raises(ModelFileError, match="no trained model 'nope'"):
        load_model("nope")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "card.json").write_text("{not json")
    with pytest.raises(ModelFileError, match="card.json: not a valid model card"):
        load_model("bad")


def test_models_dir_override(saved, monkeypatch):
    folder, _ = saved
    monkeypatch.setenv("REGENOME_MODELS_DIR", str(folder.parent))
    model, card = load_model("toy")
    assert card.name == "toy"


def test_version_mismatch_warns(tmp_path):
    model = LinearRegression().fit([[0.0], [1.0]], [0.0, 1.0])
    folder = tmp_path / "old"
    card = save_model(model, _card(), folder)
    card = card.model_copy(update={"package_versions": {**card.package_versions, "scikit-learn": "0.24.2"}})
    (folder / "card.json").write_text(card.model_dump_json())
    with pytest.warns(UserWarning, match="trained with scikit-learn 0.24.2"):
        load_from_folder(folder)


@pytest.mark.parametrize("change,warns", [("minor", True), ("major", True), ("patch", False)])
def test_sklearn_version_warning_is_major_minor(tmp_path, change, warns):
    """Only a different scikit-learn major or minor version warns; a different patch release does not."""
    import warnings
    from importlib.metadata import version

    major, minor = (int(x) for x in version("scikit-learn").split(".")[:2])
    trained = {"minor": f"{major}.{minor + 1}.0", "major": f"{major + 1}.{minor}.0",
               "patch": f"{major}.{minor}.999"}[change]
    folder = tmp_path / change
    card = save_model(LinearRegression().fit([[0.0], [1.0]], [0.0, 1.0]), _card(), folder)
    card = card.model_copy(update={"package_versions": {**card.package_versions, "scikit-learn": trained}})
    (folder / "card.json").write_text(card.model_dump_json())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        load_from_folder(folder)
    sklearn_warnings = [w for w in caught if f"trained with scikit-learn {trained}" in str(w.message)]
    assert bool(sklearn_warnings) == warns, [str(w.message) for w in caught]


def test_card_that_hides_a_type_does_not_get_it_loaded(tmp_path):
    folder = _fraction_model(tmp_path / "sly", object_types=["numpy.ndarray"])
    with pytest.raises(ModelFileError, match="cannot be loaded safely"):
        load_from_folder(folder)


# ----------------------------------------------------------------------------------------------
# packed gradient-boosted trees (regenome.tree_packing)


def _boosted(seed=0, categorical=False):
    """A calibrated regressor whose mean and error models are fitted HistGradientBoosting models."""
    from sklearn.ensemble import HistGradientBoostingRegressor

    from regenome.surrogates.uncertainty import CalibratedRegressor

    rng = np.random.default_rng(seed)
    X = rng.random((300, 4))
    X[:, 3] = rng.integers(0, 5, 300)
    y = 3 * X[:, 0] + np.sin(6 * X[:, 1]) + X[:, 3] + 0.1 * rng.standard_normal(300)
    mean = HistGradientBoostingRegressor(max_iter=80, random_state=seed,
                                         categorical_features=[3] if categorical else None)
    error = HistGradientBoostingRegressor(max_iter=20, random_state=seed)
    return CalibratedRegressor(mean, error, transform="none", cv=3, random_state=seed).fit(X, y), X


def test_packed_trees_round_trip_bit_identical(tmp_path):
    import zipfile

    import skops.io as sio

    model, X = _boosted()
    expected = model.predict(X)
    card = save_model(model, _card(), tmp_path / "packed")
    np.testing.assert_array_equal(model.predict(X), expected)  # the fitted model is left as it was
    loaded, _ = load_from_folder(tmp_path / "packed")
    np.testing.assert_array_equal(loaded.predict(X), expected)
    assert not any("TreePredictor" in t for t in card.object_types)
    sio.dump(model, tmp_path / "plain.skops")  # the unpacked layout: three archive entries per tree
    packed_entries = len(zipfile.ZipFile(tmp_path / "packed" / "model.skops").namelist())
    assert packed_entries * 5 < len(zipfile.ZipFile(tmp_path / "plain.skops").namelist())


def test_categorical_splits_survive_packing():
    """Categorical splits keep their bitsets (in memory: skops refuses the categorical preprocessor's types)."""
    from regenome.tree_packing import packed_trees, unpack_trees

    model, X = _boosted(categorical=True)
    expected = model.predict(X)
    with packed_trees(model):
        assert model.estimator_._regenome_packed_trees["n_bitsets"].sum() > 0  # categorical splits are there
        assert unpack_trees(model) == 2  # rebuilt from the packed records alone
        np.testing.assert_array_equal(model.predict(X), expected)


def test_files_without_packed_trees_still_load(tmp_path):
    import skops.io as sio

    from regenome.modelstore import sha256_file

    model, X = _boosted()
    folder = tmp_path / "old"
    folder.mkdir()
    sio.dump(model, folder / "model.skops")  # as regenome wrote model files before packing
    card = _card(files={"model.skops": sha256_file(folder / "model.skops")},
                 object_types=sorted(sio.get_untrusted_types(file=folder / "model.skops")))
    (folder / "card.json").write_text(card.model_dump_json())
    loaded, _ = load_from_folder(folder)
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


def test_inconsistent_packed_trees_are_refused():
    from regenome.tree_packing import PACKED_ATTRIBUTE, _boosters, packed_trees, unpack_trees

    model, X = _boosted()
    booster = model.estimator_
    with packed_trees(model) as n:
        assert n == 2 and booster._predictors is None
        record = getattr(booster, PACKED_ATTRIBUTE)
    assert booster._predictors and not hasattr(booster, PACKED_ATTRIBUTE)  # restored on exit
    split = np.flatnonzero(~record["nodes"]["is_leaf"].astype(bool))[0]
    for field, value, words in (("left", 10**6, "left child index points outside"),
                                ("right", split, "right child index points outside"),  # itself: a cycle
                                ("feature_idx", 40, "feature the model does not have")):
        bad = {**record, "nodes": record["nodes"].copy()}
        bad["nodes"][field][split] = value
        setattr(booster, PACKED_ATTRIBUTE, bad)
        with pytest.raises(ValueError, match=words):
            unpack_trees(model)
    setattr(booster, PACKED_ATTRIBUTE, {**record, "n_nodes": record["n_nodes"][:-1]})
    with pytest.raises(ValueError, match="counts do not match"):
        unpack_trees(model)
    setattr(booster, PACKED_ATTRIBUTE, record)
    assert unpack_trees(model) == 1 and len(list(_boosters(model))) >= 2
    np.testing.assert_array_equal(model.predict(X), _boosted()[0].predict(X))


def test_packing_restores_the_model_when_the_save_fails(tmp_path, monkeypatch):
    import skops.io as sio

    model, X = _boosted()
    expected = model.predict(X)

    def broken(*args, **kw):
        raise OSError("disk full")

    monkeypatch.setattr(sio, "dump", broken)
    with pytest.raises(OSError, match="disk full"):
        save_model(model, _card(), tmp_path / "x")
    np.testing.assert_array_equal(model.predict(X), expected)


# ----------------------------------------------------------------------------------------------
# packed forests (regenome.tree_packing)


def _forests_model(seed=0):
    """A pipeline-free stack of fitted forests: a two-output extremely randomized tree regressor, a
    random-forest classifier and a calibrated regressor whose error model is a forest."""
    from sklearn.ensemble import ExtraTreesRegressor, RandomForestClassifier

    from regenome.surrogates.uncertainty import CalibratedRegressor

    rng = np.random.default_rng(seed)
    X = rng.random((200, 5))
    y = np.column_stack([X[:, 0] + np.sin(5 * X[:, 1]), X[:, 2] ** 2])
    models = {
        "et": ExtraTreesRegressor(n_estimators=12, random_state=seed).fit(X, y),
        "rf": RandomForestClassifier(n_estimators=9, max_depth=6, random_state=seed).fit(X, (y[:, 0] > 0.8) + (X[:, 3] > 0.5)),
        "calibrated": CalibratedRegressor(ExtraTreesRegressor(n_estimators=8, random_state=seed),
                                          ExtraTreesRegressor(n_estimators=5, min_samples_leaf=5, random_state=seed),
                                          transform="none", cv=3, random_state=seed).fit(X, y[:, 0]),
    }
    return models, X


def _forest_outputs(models, X):
    return [models["et"].predict(X), models["rf"].predict_proba(X), models["et"].apply(X),
            *models["calibrated"].predict(X, return_std=True)]


def test_packed_forests_round_trip_bit_identical(tmp_path):
    import zipfile

    import skops.io as sio

    models, X = _forests_model()
    expected = _forest_outputs(models, X)
    card = save_model(models, _card(), tmp_path / "packed")
    for got, want in zip(_forest_outputs(models, X), expected):  # the fitted models are left as they were
        np.testing.assert_array_equal(got, want)
    loaded, _ = load_from_folder(tmp_path / "packed")
    for got, want in zip(_forest_outputs(loaded, X), expected):
        np.testing.assert_array_equal(got, want)
    assert [t.random_state for t in loaded["rf"].estimators_] == [t.random_state for t in models["rf"].estimators_]
    assert not any(t.endswith("._tree.Tree") for t in card.object_types)
    sio.dump(models, tmp_path / "plain.skops")  # skops' layout: an object and two arrays per tree
    packed_entries = len(zipfile.ZipFile(tmp_path / "packed" / "model.skops").namelist())
    assert packed_entries * 3 < len(zipfile.ZipFile(tmp_path / "plain.skops").namelist())


def test_forest_whose_trees_differ_is_stored_as_it_is(tmp_path):
    from regenome.tree_packing import PACKED_FOREST_ATTRIBUTE, packed_trees

    models, X = _forests_model()
    models["et"].estimators_[3].note = "edited by hand"  # one tree carries an attribute the others lack
    expected = _forest_outputs(models, X)
    with packed_trees(models) as n:
        assert n == 3 and not hasattr(models["et"], PACKED_FOREST_ATTRIBUTE)
        assert models["et"].estimators_ is not None
    save_model(models, _card(), tmp_path / "mixed")
    loaded, _ = load_from_folder(tmp_path / "mixed")
    assert loaded["et"].estimators_[3].note == "edited by hand"
    for got, want in zip(_forest_outputs(loaded, X), expected):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("field, value, words", [
    ("left_child", 10**6, "left child index points outside"),
    ("right_child", 0, "right child index points outside"),  # back to the root: a cycle
    ("feature", 5, "feature the model does not have"),
    ("feature", -3, "feature the model does not have"),
])
def test_inconsistent_packed_forests_are_refused(field, value, words):
    from regenome.tree_packing import PACKED_FOREST_ATTRIBUTE, packed_trees, unpack_trees

    models, X = _forests_model()
    forest = models["et"]
    with packed_trees(models):
        record = getattr(forest, PACKED_FOREST_ATTRIBUTE)
    split = np.flatnonzero(record["nodes"]["left_child"] != -1)[0]
    bad = {**record, "nodes": record["nodes"].copy()}
    bad["nodes"][field][split] = value
    forest.estimators_ = None
    setattr(forest, PACKED_FOREST_ATTRIBUTE, bad)
    with pytest.raises(ValueError, match=words):
        unpack_trees(models)
    setattr(forest, PACKED_FOREST_ATTRIBUTE, {**record, "n_nodes": record["n_nodes"][:-1]})
    with pytest.raises(ValueError, match="counts do not match"):
        unpack_trees(models)
    setattr(forest, PACKED_FOREST_ATTRIBUTE, {**record, "template": LinearRegression()})
    with pytest.raises(ValueError, match="not a decision tree"):
        unpack_trees(models)
    setattr(forest, PACKED_FOREST_ATTRIBUTE, record)
    assert unpack_trees(models) == 1
    np.testing.assert_array_equal(forest.predict(X), _forests_model()[0]["et"].predict(X))
