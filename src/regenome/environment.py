"""What a result depends on besides its inputs: Python, the packages that touch numbers, the
BLAS/OpenMP libraries and the models, with their exact versions and hashes.

:func:`environment` gathers it as a dict (``regenome env --json`` prints it; ``regenome env`` prints
:func:`format_environment`'s lines). It reads model cards and hashes the physics model's parameter
file but never loads a trained model, and it imports nothing heavy at module level: the
BLAS/OpenMP libraries are listed after importing numpy, scipy.linalg and scikit-learn's OpenMP
helper (each when installed), because threadpoolctl only sees libraries that are loaded.
"""

from __future__ import annotations

import importlib
import platform
import sys
from importlib.metadata import PackageNotFoundError, version

#: Installed distributions whose versions can change regenome's numbers, in report order.
NUMERIC_PACKAGES = ("numpy", "scipy", "pandas", "scikit-learn", "joblib", "threadpoolctl", "h5py",
                    "pymatgen-core", "pymatgen", "ase", "spglib", "skops", "pydantic", "matplotlib",
                    "dask", "distributed", "ray")
NOT_INSTALLED = "not installed"
#: Modules imported before asking threadpoolctl, so that their BLAS/OpenMP libraries are loaded.
_LIBRARY_MODULES = ("numpy", "scipy.linalg", "sklearn.utils._openmp_helpers")
#: Keys of a threadpoolctl record that are kept (the others vary with the library).
_POOL_KEYS = ("user_api", "internal_api", "prefix", "version", "num_threads", "threading_layer",
              "architecture", "filepath")


def package_versions(names: tuple[str, ...] = NUMERIC_PACKAGES) -> dict[str, str]:
    """``{"regenome": ..., name: exact installed version or "not installed"}``."""
    out = {"regenome": _version("regenome")}
    for name in names:
        out[name] = _version(name)
    return out


def _version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return NOT_INSTALLED


def threadpools(load_libraries: bool = True) -> list[dict] | str:
    """The BLAS and OpenMP libraries loaded in this process (threadpoolctl), one dict each.

    With ``load_libraries`` numpy, scipy.linalg and scikit-learn's OpenMP helper are imported
    first (those installed). Returns a string saying why when threadpoolctl is not installed.
    """
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "threadpoolctl " + NOT_INSTALLED
    if load_libraries:
        for module in _LIBRARY_MODULES:
            try:
                importlib.import_module(module)
            except ImportError:
                pass
    pools = [{k: info[k] for k in _POOL_KEYS if k in info} for info in threadpool_info()]
    return sorted(pools, key=lambda p: (str(p.get("user_api")), str(p.get("filepath"))))


def model_hashes() -> dict:
    """The models regenome uses, from their cards and parameter files (none is loaded).

    ``{"models_dir": folder, "<family model>": {"kind": "physics", "version", "parameters_sha256"},
    "<surrogate>": {"kind": "surrogate", "folder", "version", "model_file", "files": {name: sha256},
    "trained_with": {package: version}}}``; a model that cannot be read gets ``"error"`` instead.
    """
    from regenome.errors import RegenomeError
    from regenome.families import family_names, get_family
    from regenome.modelstore import models_dir, read_card
    from regenome.surrogates import surrogate_names

    out: dict = {"models_dir": str(models_dir())}
    for family in family_names():
        try:
            provenance = get_family(family).model_provenance()
        except (RegenomeError, OSError, ImportError, AttributeError) as exc:
            out[family] = {"kind": "physics", "error": f"{type(exc).__name__}: {exc}"}
            continue
        for name, record in provenance.items():
            out[name] = {"kind": "physics", **record}
    for name in surrogate_names():
        folder = models_dir() / name
        try:
            card = read_card(folder)
        except RegenomeError as exc:
            out[name] = {"kind": "surrogate", "folder": str(folder), "error": str(exc)}
            continue
        out[name] = {"kind": "surrogate", "folder": str(folder), "version": card.version,
                     "model_file": card.model_file, "files": dict(card.files),
                     "trained_with": dict(card.package_versions)}
    return out


def environment(models: bool = True, load_libraries: bool = True) -> dict:
    """Python, platform, regenome, package versions, BLAS/OpenMP pools and model hashes.

    Parameters
    ----------
    models : bool
        Include :func:`model_hashes` (reads the model cards; loads no model).
    load_libraries : bool
        Import numpy, scipy.linalg and scikit-learn's OpenMP helper before listing the
        thread pools (see :func:`threadpools`).
    """
    out = {
        "python": {"version": platform.python_version(), "implementation": platform.python_implementation(),
                   "executable": sys.executable},
        "platform": {"system": platform.system(), "release": platform.release(), "machine": platform.machine(),
                     "platform": platform.platform()},
        "regenome": _version("regenome"),
        "packages": package_versions(),
        "threadpools": threadpools(load_libraries),
    }
    if models:
        out["models"] = model_hashes()
    return out


def format_environment(env: dict) -> list[str]:
    """``env`` (from :func:`environment`) as readable ``name: version`` lines."""
    py = env["python"]
    lines = [f"python: {py['version']} ({py['implementation']}, {py['executable']})",
             f"platform: {env['platform']['platform']}"]
    lines += [f"{name}: {ver}" for name, ver in env["packages"].items()]
    pools = env.get("threadpools")
    if isinstance(pools, str):
        lines.append(f"threadpools: {pools}")
    else:
        lines.append(f"threadpools: {len(pools)} BLAS/OpenMP libraries loaded" if pools
                     else "threadpools: no BLAS/OpenMP library loaded")
        for p in pools:
            extra = ", ".join(str(p[k]) for k in ("threading_layer", "architecture") if p.get(k))
            lines.append(f"  {p.get('user_api')} {p.get('internal_api')}: {p.get('version') or 'version unknown'}, "
                         f"{p.get('num_threads')} threads" + (f", {extra}" if extra else "")
                         + f" ({p.get('filepath')})")
    models = env.get("models")
    if models is not None:
        lines.append(f"models: {models['models_dir']}")
        for name, m in models.items():
            if name == "models_dir":
                continue
            if "error" in m:
                lines.append(f"  {name}: not available: {m['error']}")
            elif m["kind"] == "physics":
                lines.append(f"  {name}: {m.get('version')} (physics), parameters sha256 {m.get('parameters_sha256')}")
            else:
                trained = m["trained_with"].get("scikit-learn")
                lines.append(f"  {name}: {m['version']}" + (f" (trained with scikit-learn {trained})" if trained else ""))
                for file, sha in m["files"].items():
                    lines.append(f"    {file} sha256 {sha}")
    return lines
