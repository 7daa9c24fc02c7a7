"""Fixtures shared by the browser tests."""
from __future__ import annotations

import pytest

from e2e.support import build_published_db


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """A published database of 1,500 generated motions, built once per session (the path is shared)."""
    return build_published_db(tmp_path_factory.getbasetemp() / "dashboard_db", motions=1500)
