"""The `pcr` subcommands, one module each; what several of them share is below."""
from __future__ import annotations

from pathlib import Path

from pcr.settings import Settings


def postgres_copy_problem(settings: Settings, db: Path) -> str | None:
    """On the postgres target, make the local copy of its publish at `db` current (the dashboards
    and reports read that copy: docs/postgres.md); why it cannot be, in one sentence, else None."""
    if settings.target != "postgres":
        return None
    from pcr.postgres_mirror import MirrorUnavailable, refresh

    try:
        refresh(settings.replace(published_db=db))
    except MirrorUnavailable as problem:
        return str(problem)
    return None
