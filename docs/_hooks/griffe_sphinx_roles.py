"""Griffe extension for the API reference, run while the docs are built (the source is not
changed):

* the shared docstring entries: a line ``%(name)s`` stands for an entry written once in
  ``fastcca/_docstrings.py`` (``fastcca._docstrings.fill`` expands it at import for ``help()``;
  mkdocstrings reads docstrings statically, so it is expanded here with the same function);
* Sphinx roles: the docstrings use them (:func:`fastcca.cca`, :class:`Moments`, :meth:`merge`,
  ...) so that ``help()`` and IDEs read well; mkdocstrings' NumPy parser would print them
  literally, so each becomes inline code."""
from __future__ import annotations

import re

import griffe

from fastcca._docstrings import expand

ROLE = re.compile(r":(?:py:)?(?:func|class|meth|mod|data|attr|obj|exc|const):`~?([^`]+)`")


class SphinxRoles(griffe.Extension):
    def on_object(self, *, obj, **kwargs) -> None:  # griffe >= 1.0 (runs for every object)
        if obj.docstring is not None:
            obj.docstring.value = ROLE.sub(r"`\1`", expand(obj.docstring.value))
