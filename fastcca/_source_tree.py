"""``fastcca.kernels`` in a source checkout, without a symlink.

The compute kernels live in the repository's top-level ``kernels/`` folder (DESIGN.md, *Layout*)
and install as ``fastcca.kernels`` (setuptools ``package-dir`` in ``pyproject.toml``), so an
installed wheel holds ``fastcca/kernels/`` and nothing here runs.  In a checkout used without
installing it (``PYTHONPATH=$PWD``, ``python -m pytest`` or ``python -m paper_repro`` from the
repository root) ``fastcca/kernels`` does not exist; :func:`mount_source_kernels` then imports
``kernels/__init__.py`` under the name ``fastcca.kernels`` (its submodules follow through the
package's ``__path__``), the same module files either way.  A symlink would do the same on POSIX
but turns into a text file on a Windows checkout or an unpacked sdist, and breaks silently there.
"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path


def mount_source_kernels(package: str = "fastcca") -> None:
    """Register ``<repo>/kernels`` as ``fastcca.kernels`` when running from a source checkout.

    Does nothing when the package has its own ``kernels/`` (an installed wheel), when
    ``fastcca.kernels`` is already imported, or when the folder above the package is not a
    fastcca checkout (no ``pyproject.toml`` beside a ``kernels/__init__.py``): the ordinary
    ``ModuleNotFoundError`` then names what is missing.
    """
    name = f"{package}.kernels"
    here = Path(__file__).resolve().parent
    if name in sys.modules or (here / "kernels" / "__init__.py").is_file():
        return
    root = here.parent
    init = root / "kernels" / "__init__.py"
    if not (init.is_file() and (root / "pyproject.toml").is_file()):
        return
    spec = importlib.util.spec_from_file_location(name, init, submodule_search_locations=[str(init.parent)])
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    setattr(sys.modules[package], "kernels", module)
