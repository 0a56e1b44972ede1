"""Generated CI/CD and app configuration: the team's workflow as files (GitHub workflows, the pull-request
plan comment, the Flutter ``AppConfig``), rendered from text templates by pure functions.

Nothing here reads or writes files except :mod:`quixotic.ci.templates` (package data, read only);
``quixotic.commands.ci`` does the I/O.
"""
