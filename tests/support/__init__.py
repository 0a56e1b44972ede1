"""Shared test support: the session server (server), the one project-folder builder and CLI runner (site),
and SDK helpers (sdk). Importable as ``support.*`` because pyproject sets ``pythonpath = ["tests"]``."""
