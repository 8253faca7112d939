"""`regenome env` and regenome.environment: exact versions, BLAS/OpenMP pools and model hashes."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from importlib.metadata import PackageNotFoundError, version

import pytest

from conftest import ROOT
from regenome.environment import NOT_INSTALLED, NUMERIC_PACKAGES, environment, format_environment

EXE = [sys.executable, "-m", "regenome.cli"]
REQUIRED = ("numpy", "scipy", "pandas", "scikit-learn", "joblib", "h5py", "ase", "spglib", "skops",
            "threadpoolctl", "pydantic", "matplotlib", "dask", "distributed", "ray")


def _installed(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return NOT_INSTALLED


@pytest.fixture(scope="module")
def env() -> dict:
    return environment()


def test_package_versions_match_importlib_metadata(env):
    packages = env["packages"]
    assert set(REQUIRED) <= set(packages) and ({"pymatgen", "pymatgen-core"} & set(packages))
    assert list(packages)[0] == "regenome" and packages["regenome"] == version("regenome") == env["regenome"]
    for name in NUMERIC_PACKAGES:
        assert packages[name] == _installed(name), name
    for name in ("numpy", "scikit-learn", "pydantic"):  # dependencies: never "not installed"
        assert packages[name] != NOT_INSTALLED


def test_python_and_platform(env):
    import platform

    assert env["python"]["version"] == platform.python_version()
    assert env["python"]["implementation"] == platform.python_implementation()
    assert env["platform"]["system"] == platform.system()


def test_threadpools_list_the_blas_numpy_uses(env):
    pools = env["threadpools"]
    if isinstance(pools, str):
        pytest.skip(pools)
    assert any(p["user_api"] == "blas" for p in pools), pools
    for p in pools:
        assert isinstance(p["num_threads"], int) and p["num_threads"] >= 1
        assert {"internal_api", "version", "filepath"} <= set(p)


def test_model_hashes_match_the_cards_and_the_files(env):
    from regenome.datafiles import table_path
    from regenome.modelstore import models_dir, read_card, sha256_file
    from regenome.surrogates import surrogate_names

    models = env["models"]
    assert models["models_dir"] == str(models_dir())
    physics = {k: v for k, v in models.items() if k != "models_dir" and v["kind"] == "physics"}
    assert physics, models
    params = hashlib.sha256(table_path("ndfeb", "parameters.json").read_bytes()).hexdigest()
    assert any(v.get("parameters_sha256") == params for v in physics.values())
    for name in surrogate_names():
        folder = models_dir() / name
        if not (folder / "card.json").is_file():
            assert "error" in models[name]
            continue
        card = read_card(folder)
        m = models[name]
        assert m["version"] == card.version and m["folder"] == str(folder)
        assert m["files"] == card.files and m["files"]
        assert m["trained_with"] == card.package_versions
        for file, sha in m["files"].items():
            assert sha256_file(folder / file) == sha, f"{folder / file} differs from its card"


def test_missing_models_are_reported_not_raised(tmp_path, monkeypatch):
    monkeypatch.setenv("REGENOME_MODELS_DIR", str(tmp_path))
    models = environment(load_libraries=False)["models"]
    assert models["models_dir"] == str(tmp_path)
    surrogates = {k: v for k, v in models.items() if k != "models_dir" and v["kind"] == "surrogate"}
    assert surrogates and all("model card not found" in v["error"] for v in surrogates.values())
    assert any("not available" in line for line in format_environment({**environment(models=False),
                                                                        "models": models}))


def test_environment_loads_no_model():
    code = ("import json, sys; from regenome.environment import environment; environment(load_libraries=False); "
            "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr
    mods = set(json.loads(proc.stdout.splitlines()[-1]))
    assert not {"skops", "sklearn", "pymatgen", "pandas"} & mods


def test_cli_env_json_parses():
    proc = subprocess.run([*EXE, "env", "--json"], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["packages"]["numpy"] == version("numpy")
    assert data["packages"]["scikit-learn"] == version("scikit-learn")
    assert {"python", "platform", "regenome", "packages", "threadpools", "models"} <= set(data)


def test_cli_env_prints_name_version_lines():
    proc = subprocess.run([*EXE, "env"], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert f"numpy: {version('numpy')}" in lines
    assert f"scikit-learn: {version('scikit-learn')}" in lines
    assert f"regenome: {version('regenome')}" in lines
    assert any(line.startswith("models: ") for line in lines)
