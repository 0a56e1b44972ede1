"""Versioned schema and data migrations: files ``migrations/NNNN_slug.py``, history in the target project.

- ``graph``: the pure core (files, history, status, what to run); no SDK.
- ``files``: finding and importing the migration files.
- ``context``: the ``ctx`` that ``up(ctx)`` / ``down(ctx)`` receive (schema and data operations, dry runs).
- ``history``: attempts as rows of the tool's system database.
- ``runner``: runs a selection under the lock, recording each attempt.

Nothing is imported here, so ``quixotic.migrations.graph`` stays free of the SDK.
"""
