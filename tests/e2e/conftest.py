"""Fixtures shared by the browser tests: the published database, a local OpenID Connect
provider (oidc-provider-mock), the dashboards with sign-in configured against it as
docs/deployment.md configures them, and one Chromium. Module-scoped: each test module starts
its own provider, server and browser."""
from __future__ import annotations

import os
import secrets

import pytest

from e2e.support import (FUNDER, FUNDER_WITHOUT_GRANT, IMPOSTOR, MANAGER, NOBODY, PARTNER, PROJECT, UNKNOWN_FIRM, UNKNOWN_FIRM_PARTNER,
                         build_published_db, busiest_firm, chromium, dashboard_server, free_port)

# Claims the provider returns per subject.
IDENTITIES = {
    **{email: {"email": email, "email_verified": True}
       for email in (MANAGER, PARTNER, FUNDER, FUNDER_WITHOUT_GRANT, UNKNOWN_FIRM_PARTNER, NOBODY)},
    IMPOSTOR: {"email": MANAGER, "email_verified": False},
}


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """A published database of 1,500 generated motions, built once per session (the path is shared)."""
    return build_published_db(tmp_path_factory.getbasetemp() / "dashboard_db", motions=1500)


@pytest.fixture(scope="module")
def provider():
    from oidc_provider_mock import User, run_server_in_thread

    users = [User(sub=sub, claims=claims) for sub, claims in IDENTITIES.items()]
    with run_server_in_thread(user_claims=users) as server:
        yield f"http://localhost:{server.server_port}"


@pytest.fixture(scope="module")
def site(published, provider, tmp_path_factory):
    """The dashboards with sign-in (secrets file, roles file, the example grants file): its URL,
    the partner's firm, the database and the access log."""
    root = tmp_path_factory.mktemp("site")
    firm = busiest_firm(published)
    port = free_port()
    (root / "secrets.toml").write_text(
        "[auth]\n"
        f'redirect_uri = "http://127.0.0.1:{port}/oauth2callback"\n'
        f'cookie_secret = "{secrets.token_urlsafe(32)}"\n'
        'client_id = "pcr-dashboards"\n'
        'client_secret = "test-client-secret"\n'
        f'server_metadata_url = "{provider}/.well-known/openid-configuration"\n',
        encoding="utf-8",
    )
    (root / "roles.yml").write_text(
        "suppression_threshold: 11\nusers:\n"
        f"  {MANAGER}: {{role: program_manager}}\n"
        f"  {PARTNER}: {{role: partner, firm: \"{firm}\"}}\n"
        f"  {UNKNOWN_FIRM_PARTNER}: {{role: partner, firm: \"{UNKNOWN_FIRM}\"}}\n"
        f"  {FUNDER}: {{role: funder, grants: [CBF-2025-PCR]}}\n"
        f"  {FUNDER_WITHOUT_GRANT}: {{role: funder}}\n",
        encoding="utf-8",
    )
    env = dict(os.environ, PCR_DB=str(published), PCR_DATA_DIR=str(root / "var"),
               PCR_SECRETS_FILE=str(root / "secrets.toml"), PCR_ROLES_FILE=str(root / "roles.yml"),
               PCR_GRANTS_FILE=str(PROJECT / "config" / "grants.example.yml"))
    with dashboard_server(published, root / "server.log", env, port=port) as url:
        yield {"url": url, "provider": provider, "firm": firm, "db": published,
               "access_log": root / "var" / "access_log.jsonl"}


@pytest.fixture(scope="module")
def browser():
    with chromium() as launched:
        yield launched
