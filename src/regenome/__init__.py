"""regenome: high-throughput screening of rare-earth functional materials.

Nothing heavy is imported here; the public API lives in the submodules
(:mod:`regenome.spec`, :mod:`regenome.pipeline`, :mod:`regenome.structures.store`,
:mod:`regenome.predictors.ndfeb`).
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("regenome")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"

__all__ = ["__version__"]
