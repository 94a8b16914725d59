"""Griffe extension for the API reference: the docstrings use Sphinx roles
(:func:`fastcca.cca`, :class:`Moments`, :meth:`merge`, ...) so that ``help()`` and IDEs read
well; mkdocstrings' NumPy parser would print them literally.  This rewrites each role to inline
code while the docs are built (the source is not changed)."""
from __future__ import annotations

import re

import griffe

ROLE = re.compile(r":(?:py:)?(?:func|class|meth|mod|data|attr|obj|exc|const):`~?([^`]+)`")


class SphinxRoles(griffe.Extension):
    def on_object(self, *, obj, **kwargs) -> None:  # griffe >= 1.0 (runs for every object)
        if obj.docstring is not None:
            obj.docstring.value = ROLE.sub(r"`\1`", obj.docstring.value)
