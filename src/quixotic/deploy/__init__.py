"""Deploy: the desired state, code packages, the applier, rollback plans and the one apply path.

- ``desired``: an environment's configuration plus its packaged function code (files, no server);
- ``packaging``: deterministic archives of function folders (same files, same bytes, same hash);
- ``applier``: applies a plan's changes through the SDK backend, taking values from the plan itself;
- ``rollback``: the plan that returns a project to a recorded release;
- ``snapshot``: what a release records of a project;
- ``engine``: :func:`~quixotic.deploy.engine.apply_under_lock`, the path deploy, ``vars sync``, rollback
  and restore share (plan, lock, re-plan, check, confirm, release, apply).
"""
