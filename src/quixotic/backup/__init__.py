"""Backups of whole environments: one verified archive per backup, restored through the deploy engine.

- :mod:`quixotic.backup.archive`: the archive format (documented there), writing under a temporary name
  and reading back with every part checked;
- :mod:`quixotic.backup.dump`: reading a live project into an archive;
- :mod:`quixotic.backup.restore`: putting an archive into a project (checks, schema through plan/apply),
  :mod:`quixotic.backup.restorer` writing its data;
- :mod:`quixotic.backup.fingerprint`: counts and content hashes, to prove two sides hold the same data.
"""
