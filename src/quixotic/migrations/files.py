"""Finding and importing migration files: ``migrations/NNNN_slug.py``.

A file is a Python module with a docstring (its description), ``up(ctx)``, and ``down(ctx)`` unless it is
irreversible (then ``IRREVERSIBLE = "why"`` says why). Its checksum is the SHA-256 of its bytes, so
any edit, even whitespace, shows as edited-after-apply: what ran is exactly what the file said.
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
import traceback
from pathlib import Path
from types import ModuleType

from quixotic.errors import MigrationError
from quixotic.migrations.graph import Migration, check_names, is_candidate, parse_name

TEMPLATE = '''"""{description}"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from quixotic.migrations.context import Context


def up(ctx: Context) -> None:
    raise NotImplementedError("write the change here")


def down(ctx: Context) -> None:
    raise NotImplementedError("undo it here; delete this function if it cannot be undone, and set IRREVERSIBLE")
'''


def discover(directory: Path) -> tuple[list[Migration], list[str]]:
    """Every migration in ``directory`` (ordered) and every problem found; a missing directory has none."""
    if not directory.is_dir():
        return [], []
    names = sorted(p.name for p in directory.iterdir() if p.is_file() and is_candidate(p.name))
    problems = check_names(names)
    migrations: list[Migration] = []
    for name in names:
        parsed = parse_name(name)
        if parsed is None:
            continue
        path = directory / name
        migration, problem = load(path, *parsed)
        if problem:
            problems.append(problem)
        elif migration is not None:
            migrations.append(migration)
    return sorted(migrations, key=lambda m: m.id), problems


def require(directory: Path) -> list[Migration]:
    """Like :func:`discover`, raising every problem at once."""
    migrations, problems = discover(directory)
    if problems:
        raise MigrationError(f"the migrations in {directory} cannot run as they are:", problems)
    return migrations


def load(path: Path, migration_id: str, slug: str) -> tuple[Migration | None, str]:
    """Import one file: (the migration, "") or (None, what is wrong with it)."""
    data = path.read_bytes()
    module, problem = _import(path, f"quixotic_migration_{migration_id}_{slug}")
    if module is None:
        return None, problem
    up = getattr(module, "up", None)
    down = getattr(module, "down", None)
    if not callable(up):
        return None, f"{path.name}: defines no up(ctx) function"
    if down is not None and not callable(down):
        return None, f"{path.name}: down is not a function"
    reason = getattr(module, "IRREVERSIBLE", "")
    if down is not None and reason:
        return None, f"{path.name}: defines down() and IRREVERSIBLE; keep one"
    doc = (module.__doc__ or "").strip()
    migration = Migration(
        id=migration_id,
        slug=slug,
        checksum=hashlib.sha256(data).hexdigest(),
        description=doc.splitlines()[0] if doc else "",
        has_down=down is not None,
        irreversible_reason=str(reason or ""),
        path=path,
        up=up,
        down=down,
    )
    return migration, ""


def _import(path: Path, module_name: str) -> tuple[ModuleType | None, str]:
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        return None, f"{path.name}: cannot be imported as a Python module"
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    sys.path.insert(0, str(path.parent))  # so a migration can import helpers (_common.py) beside it
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        return None, f"{path.name} does not import: syntax error at line {exc.lineno}: {exc.msg}"
    except (Exception, SystemExit) as exc:  # any failure at import time is the file's problem
        where = next((f for f in reversed(traceback.extract_tb(exc.__traceback__)) if f.filename == str(path)), None)
        line = f" at line {where.lineno}" if where else ""
        return None, f"{path.name} does not import{line}: {type(exc).__name__}: {exc}"
    finally:
        sys.path.remove(str(path.parent))
        sys.modules.pop(module_name, None)
    return module, ""


def new_file(directory: Path, slug: str, description: str = "") -> Path:
    """Write the next numbered migration from the template; refuses if the existing files are inconsistent."""
    from quixotic.migrations.graph import SLUG

    if not SLUG.match(slug):
        raise MigrationError(f"bad slug {slug!r}: use lowercase letters and digits joined by _, e.g. add_word_count")
    names = sorted(p.name for p in directory.iterdir() if p.is_file()) if directory.is_dir() else []
    problems = check_names(names)
    if problems:
        raise MigrationError(f"fix the migrations in {directory} first:", problems)
    numbers = [int(parsed[0]) for n in names if (parsed := parse_name(n))]
    path = directory / f"{max(numbers, default=0) + 1:04d}_{slug}.py"
    directory.mkdir(parents=True, exist_ok=True)
    text = description or slug.replace("_", " ").capitalize() + "."
    path.write_text(TEMPLATE.format(description=text.replace('"""', "'''")))
    return path
