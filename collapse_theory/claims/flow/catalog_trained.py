"""Merged into :mod:`collapse_theory.claims.flow.catalog` (the FLOW-TRAINED-* claims are registered there).

Kept only so that ``claims/flow/trained.py`` (owned by another change) keeps importing; it registers nothing and
goes once that module imports :mod:`.catalog`.
"""

from . import catalog  # noqa: F401 - registers the flow claims, FLOW-TRAINED-* included
