"""The project's configuration as typed, immutable values: pure loading, merging and validation.

Files (names chosen by the user), all relative to a root folder:

- ``appwrite.json``: databases, tables, buckets and functions, in the official Appwrite CLI format
  (TablesDB form; the legacy ``databases``/``collections`` form is read too);
- ``templates/shared-variables.json``: every variable once (type, default, bounds, secret, targets);
- ``environments/<env>.json``: what differs per environment (project, endpoint, variable values,
  bucket/function settings, protection);
- ``environments/.env.<env>`` (git-ignored) and ``QUIXOTIC_<ENV>_<NAME>`` process variables: secrets
  and the API key, never in git.

Loading collects every problem and raises one :class:`quixotic.errors.ConfigError`. No SDK, no I/O
beyond reading these files (and writing one file in :func:`create_environment`), no printing.
"""

from quixotic.config.create import CreatedEnvironment, create_environment
from quixotic.config.environment import DesiredVariable, Environment, ResolvedVariable, SettingValue, Source
from quixotic.config.environment_file import Protection
from quixotic.config.layout import api_key_var, rendered_file, secret_var
from quixotic.config.load import list_environments, load_environment, load_project, load_template
from quixotic.config.render import render_environment
from quixotic.config.resources import Bucket, Column, Database, Function, Index, ProjectSpec, Table
from quixotic.config.secrets import REDACTED, SecretValue, redact
from quixotic.config.variables import VariableSpec

__all__ = [
    "REDACTED",
    "Bucket",
    "Column",
    "CreatedEnvironment",
    "Database",
    "DesiredVariable",
    "Environment",
    "Function",
    "Index",
    "ProjectSpec",
    "Protection",
    "ResolvedVariable",
    "SecretValue",
    "SettingValue",
    "Source",
    "Table",
    "VariableSpec",
    "api_key_var",
    "create_environment",
    "list_environments",
    "load_environment",
    "load_project",
    "load_template",
    "redact",
    "render_environment",
    "rendered_file",
    "secret_var",
]
