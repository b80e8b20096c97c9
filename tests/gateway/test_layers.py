"""Rules of the code's shape that import-linter cannot check (the migrations are no package):
a migration imports nothing from the application, whose code may change after it ran."""

import ast
from pathlib import Path

import pytest

from gateway.storage.database import MIGRATIONS

APPLICATION = ("gateway", "referential", "connectors")
VERSIONS = sorted((Path(MIGRATIONS) / "versions").glob("*.py"))


def imported(path: Path) -> set[str]:
    """The modules a file imports, wherever the import stands (a function's body too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
    return found


def test_every_migration_is_checked():
    assert len(VERSIONS) >= 22


@pytest.mark.parametrize("path", VERSIONS, ids=[p.stem for p in VERSIONS])
def test_a_migration_imports_nothing_from_the_application(path):
    application = {m for m in imported(path) if m.split(".")[0] in APPLICATION}
    assert not application, f"{path.name} imports {sorted(application)}"


GATEWAY = Path(MIGRATIONS).parent.parent
SQL_LIBRARIES = ("sqlalchemy", "sqlmodel")


def test_only_storage_imports_the_sql_libraries():
    """Every query lives in ``gateway/storage/`` (the engine, the tables, one module of queries
    per domain): services, adapters, workers and the domain name the unit of work from
    ``gateway.storage``."""
    offenders = []
    for path in sorted(GATEWAY.rglob("*.py")):
        relative = path.relative_to(GATEWAY)
        if relative.parts[0] == "storage":
            continue
        used = {m for m in imported(path) if m.split(".")[0] in SQL_LIBRARIES}
        if used:
            offenders.append(f"{relative}: {sorted(used)}")
    assert not offenders, offenders
