"""The one way dashboard pages and reports read data: identity -> role -> scoped SQL.

Roles (domain brief sections 1 and 5):

* ``program_manager`` — everything.
* ``partner`` — its own firm's rows only. The firm filter is applied to every relation a query
  reads, *before* any aggregation, so no total ever includes another firm. A mart aggregated by
  one dimension at a time (``dimension`` / ``dimension_value`` columns, e.g. the Kaplan-Meier
  marts) is limited to its ``partner_firm`` rows for the firm; any other relation without a
  ``partner_firm`` column (e.g. a mart pre-aggregated over all firms) is refused. Row-level
  queries also leave out PC 236.14/236.15 survivor cases (statutory confidentiality: below the
  aggregate level for program managers only); aggregates count them.
* ``funder`` — de-identified aggregates only, through ``aggregate`` and ``summary``, which write
  the GROUP BY themselves and pass every count through disclosure control (access/disclosure.py). ``query`` (row-level or
  free-form SQL) is refused, and so is any identifier-like column (``*_id``, ``*_hash``).
  Grant reports: only the grants the roles file links to the funder (``grants:``), none
  without a link (``Scope.visible_grants``; the Grant reports page and ``pcr report --for``).

SQL is written against placeholders: ``SELECT county, count(*) FROM {fct_motions} GROUP BY 1``.
Each ``{name}`` becomes a scoped subquery over ``<schema>.<name>``; a template that names any
table directly is refused, and the connection cannot read files, so the scope cannot be
bypassed by accident. Parameters are DuckDB named parameters (``$name``).

Reading: one read-only DuckDB instance per version of the published file, shared by every
session (each query runs on its own cursor, so Streamlit's session threads do not share a
connection); it cannot read files, attach other databases or change its settings. Opening one
costs ~30 ms, so a page's 9-17 queries reuse it. The version is the file's identity (device,
inode, mtime, size), which is also the key of the result cache (``st.cache_data``, with the
SQL and parameters): the pipeline replaces the published file atomically (pcr/publish.py), so
the next query sees a new identity and opens the new version, while a query already running
keeps reading the old inode to the end. The old instance is closed when its last query ends,
which releases the old inode.

Identity: ``st.user`` when ``st.login`` (OIDC) is configured in the secrets file (``[auth]``)
— Streamlit then always sets ``st.user.is_logged_in``, and ``st.user`` holds the claims of the
provider's ID token as they were at sign-in (kept in Streamlit's login cookie). The roles file
(YAML, path in ``PCR_ROLES_FILE``; see dashboards/roles.example.yml) maps e-mail addresses to
roles, and only e-mail addresses the provider says it verified (``email_verified`` is true):
anyone can type an unverified address into some providers' sign-up forms. The roles file's
``login.email_domains`` can make this stricter, never looser. Without authentication the local
user is a program manager, but only when the server listens on the loopback interface
(``pcr dashboard`` starts it with ``--server.address 127.0.0.1``); pages show ``Scope.banner``.

Preview as a role: a program manager may view the pages as a partner firm or a funder
(``preview_scope``); the pages then get that role's scope, so the scoping and suppression are
the real ones, and a banner says whose view it is. Only a program manager's own scope can be
narrowed so, and every preview is a narrower scope than the program manager's.
"""
from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

import duckdb
import pandas as pd
import yaml

from access.disclosure import (
    DEFAULT_THRESHOLD, REVEALS, SMALL, SMALL_GROUP, Address, LinkedTables, SuppressedTable, marker, suppress, unsuppressed,
)
from pcr import paths

ROLES_FILE_ENV = "PCR_ROLES_FILE"
LOOPBACK_ADDRESSES = frozenset({"127.0.0.1", "localhost", "::1"})
LOCAL_USER = "local user"
LOCAL_BANNER = (
    "Authentication is not configured: you are the local user with program-manager access "
    "to all data. The server accepts connections from this computer only (127.0.0.1)."
)
FIRM_COLUMN = "partner_firm"
# Flags the marts carry for PC 236.14 / 236.15 survivor cases (motion grain, case/client grain).
SURVIVOR_COLUMNS = ("is_confidential_survivor_vehicle", "involves_confidential_survivor_vehicle")
NONE_LABEL = "(none)"
# Marts aggregated by one dimension at a time: a partner may read the rows of its own firm.
DIMENSION_COLUMNS = frozenset({"dimension", "dimension_value"})

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_PARAMETER = re.compile(r"\$[A-Za-z0-9_]+")
_HARMLESS_TABLE_FUNCTIONS = frozenset({"range", "generate_series", "unnest"})
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_IDENTIFYING_COLUMN = re.compile(r"(_id|_hash|^id)$", re.IGNORECASE)


class Role(str, Enum):
    PROGRAM_MANAGER = "program_manager"
    PARTNER = "partner"
    FUNDER = "funder"


class AccessDenied(PermissionError):
    """The current identity may not see this; the message is meant for the page."""


class LoginRequired(AccessDenied):
    """Authentication is configured and nobody is logged in: the page offers st.login()."""


class UnverifiedEmail(AccessDenied):
    """The identity provider did not say it verified the e-mail address: no role is looked up."""


class DataUnavailable(RuntimeError):
    """No published database to read (the pipeline has not run yet)."""


@dataclass(frozen=True)
class Scope:
    role: Role
    identity: str
    firm: str | None = None
    local: bool = False  # no authentication configured
    threshold: int = DEFAULT_THRESHOLD
    # A funder's grant ids, as linked in the roles file; empty: no grant at all.
    grants: frozenset[str] = frozenset()
    # Set when a program manager previews this scope (Preview as a role): who is looking.
    previewed_by: str | None = None

    def __post_init__(self) -> None:
        if (self.role is Role.PARTNER) != bool(self.firm):
            raise ValueError("a partner scope needs a firm, and only a partner scope has one")
        if self.grants and self.role is not Role.FUNDER:
            raise ValueError("only a funder scope lists grants (a program manager sees every grant)")

    def visible_grants(self, grant_ids: Iterable[str]) -> list[str]:
        """Those of ``grant_ids`` this visitor may open: every grant for a program manager, the
        linked ones for a funder, none for a partner (a grant covers every firm)."""
        if self.role is Role.PROGRAM_MANAGER:
            return list(grant_ids)
        if self.role is Role.FUNDER:
            return [g for g in grant_ids if g in self.grants]
        return []

    @property
    def viewer(self) -> str:
        """Who is looking: the program manager during a preview, else the identity itself."""
        return self.previewed_by or self.identity

    @property
    def banner(self) -> str | None:
        if self.previewed_by:
            return (f"Preview: you ({self.previewed_by}) are seeing what {self.description} sees, with the same "
                    "scope and suppression. Choose \"Myself\" under Preview as to leave the preview.")
        return LOCAL_BANNER if self.local else None

    @property
    def description(self) -> str:
        """The scope in words, for banners and the access log (names no client)."""
        if self.role is Role.PARTNER:
            return f"partner firm {self.firm} (its own cases only)"
        if self.role is Role.FUNDER:
            linked = f"grant{'s' if len(self.grants) > 1 else ''} {', '.join(sorted(self.grants))}" if self.grants else "no grant linked"
            who = "a funder" if self.identity == PREVIEW_FUNDER else f"funder {self.identity}"
            return f"{who} (aggregates with counts under {self.threshold} suppressed; {linked})"
        return "a program manager (all data)"

    @property
    def suppresses(self) -> bool:
        return self.role is Role.FUNDER


# --- roles file and identity -----------------------------------------------------------------

@dataclass(frozen=True)
class RoleEntry:
    """One identity of the roles file."""

    role: Role
    firm: str | None = None  # partners: the firm as spelled in the exports' partner_firm
    grants: tuple[str, ...] = ()  # funders: the grant ids of the grants file they may see


@dataclass(frozen=True)
class RolesConfig:
    users: Mapping[str, RoleEntry]  # lower-cased e-mail -> entry
    threshold: int = DEFAULT_THRESHOLD
    path: Path | None = None
    # login.email_domains: when set, only verified addresses of these domains are matched.
    email_domains: frozenset[str] = frozenset()

    def scope_of(self, email: str) -> Scope:
        """The scope of an identity listed in the file; anyone else is refused."""
        key = email.strip().lower()
        entry = self.users.get(key) if key else None
        if entry is None:
            raise AccessDenied(
                f"No role is assigned to {key or 'this account'}: no data is shown. "
                "Ask the program manager to add you to the roles file."
            )
        return Scope(entry.role, key, firm=entry.firm, threshold=self.threshold, grants=frozenset(entry.grants))

    def check_grants(self, known: Collection[str], grants_file: Path | str, users: Iterable[str] | None = None) -> None:
        """Every grant id linked to ``users`` (default: every identity) is one of ``known``, the
        grants file's ids: a misspelt id would otherwise hide a grant from its funder silently."""
        for email in users if users is not None else self.users:
            entry = self.users.get(email.strip().lower())
            unknown = [g for g in (entry.grants if entry else ()) if g not in known]
            if unknown:
                raise ValueError(
                    f"{self.path}: users.{email.strip().lower()}: grant id(s) {', '.join(unknown)} "
                    f"are not in the grants file {grants_file}"
                )


_ENTRY_KEYS = frozenset({"role", "firm", "grants"})
_LOGIN_KEYS = frozenset({"email_domains"})


def load_roles(path: Path | str) -> RolesConfig:
    path = Path(path)
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise AccessDenied(f"roles file {path} does not exist (set {ROLES_FILE_ENV})") from None
    except yaml.YAMLError as error:
        raise ValueError(f"{path}: not valid YAML: {error}") from None
    if not isinstance(document, dict) or not isinstance(document.get("users", {}), dict):
        raise ValueError(f"{path}: expected a mapping with a 'users' mapping of e-mail -> {{role, firm, grants}}")
    threshold = document.get("suppression_threshold", DEFAULT_THRESHOLD)
    if not isinstance(threshold, int) or isinstance(threshold, bool) or threshold < 1:
        raise ValueError(f"{path}: suppression_threshold must be a positive integer, got {threshold!r}")
    email_domains = _login_settings(document.get("login"), path)
    users: dict[str, RoleEntry] = {}
    for email, entry in (document.get("users") or {}).items():
        where = f"{path}: users.{email}"
        if not isinstance(entry, dict) or "role" not in entry:
            raise ValueError(f"{where}: expected a mapping with a 'role'")
        unknown_keys = set(entry) - _ENTRY_KEYS
        if unknown_keys:
            raise ValueError(f"{where}: unknown key(s) {sorted(map(str, unknown_keys))}; use {sorted(_ENTRY_KEYS)}")
        try:
            role = Role(entry["role"])
        except ValueError:
            raise ValueError(f"{where}: unknown role {entry['role']!r}; use one of {[r.value for r in Role]}") from None
        firm = entry.get("firm")
        if role is Role.PARTNER and not (isinstance(firm, str) and firm.strip()):
            raise ValueError(f"{where}: a partner needs a 'firm' (as spelled in the exports' partner_firm)")
        if role is not Role.PARTNER and firm is not None:
            raise ValueError(f"{where}: only partners have a 'firm'")
        grants = entry.get("grants")
        if grants is not None and role is not Role.FUNDER:
            raise ValueError(f"{where}: only funders have 'grants' (a program manager sees every grant, a partner none)")
        if grants is not None and not (isinstance(grants, list) and all(isinstance(g, (str, int)) and str(g).strip() for g in grants)):
            raise ValueError(f"{where}: 'grants' must be a list of grant ids, as in the grants file, e.g. [CBF-2025-PCR]")
        key = str(email).strip().lower()
        if key in users:
            raise ValueError(f"{where}: listed twice")
        users[key] = RoleEntry(role, firm.strip() if firm else None, tuple(dict.fromkeys(str(g).strip() for g in grants or ())))
    return RolesConfig(users=users, threshold=threshold, path=path, email_domains=email_domains)


def _login_settings(login: object, path: Path) -> frozenset[str]:
    """The roles file's ``login`` section: settings that can only make sign-in stricter."""
    if login is None:
        return frozenset()
    if not isinstance(login, dict):
        raise ValueError(f"{path}: login: expected a mapping, e.g. {{email_domains: [legalaid.example]}}")
    unknown = set(login) - _LOGIN_KEYS
    if unknown:
        raise ValueError(
            f"{path}: login: unknown key(s) {sorted(map(str, unknown))}; use {sorted(_LOGIN_KEYS)}. A verified "
            "e-mail address (email_verified from the identity provider) is always required and cannot be turned off."
        )
    domains = login.get("email_domains")
    if not (isinstance(domains, list) and domains and all(isinstance(d, str) and "." in d and "@" not in d for d in domains)):
        raise ValueError(f"{path}: login.email_domains must be a list of domains, e.g. [legalaid.example, firm-a.example]")
    return frozenset(d.strip().lower() for d in domains)


def configured_roles() -> RolesConfig | None:
    """The roles file named by PCR_ROLES_FILE, or None when it is not set."""
    roles_file = os.environ.get(ROLES_FILE_ENV)
    return load_roles(roles_file) if roles_file else None


def scope_for(user_info: Mapping[str, object], roles: RolesConfig | None, server_address: str | None) -> Scope:
    """The scope of a visitor, from what ``st.user`` holds.

    ``is_logged_in`` present means authentication is configured; absent means it is not (the
    ``email`` Streamlit reports then is a placeholder and is ignored)."""
    threshold = roles.threshold if roles else DEFAULT_THRESHOLD
    if "is_logged_in" not in user_info:
        if (server_address or "") not in LOOPBACK_ADDRESSES:
            raise AccessDenied(
                "Authentication is not configured and the server is not bound to 127.0.0.1: "
                "no data is shown. Start the app with `pcr dashboard`, or configure st.login."
            )
        return Scope(Role.PROGRAM_MANAGER, LOCAL_USER, local=True, threshold=threshold)
    if not user_info.get("is_logged_in"):
        raise LoginRequired("Please log in to see the dashboards.")
    roles = roles or RolesConfig(users={})
    email = str(user_info.get("email") or "").strip().lower()
    # Only the boolean true counts: a provider that leaves the claim out has not verified anything.
    if user_info.get("email_verified") is not True:
        raise UnverifiedEmail(
            f"Your identity provider has not verified the e-mail address {email or 'of this account'}, so it "
            "cannot be matched to a role: no data is shown. Verify the address with your identity provider, then "
            "log out and sign in again (what the provider said is kept from sign-in), or sign in with an account "
            "whose address is verified."
        )
    domain = email.rpartition("@")[2]
    if roles.email_domains and domain not in roles.email_domains:
        raise AccessDenied(
            f"Sign-in with {domain or 'this'} addresses is not accepted here ({email}): no data is shown. "
            "Ask the program manager which account to use."
        )
    return roles.scope_of(email)


# --- Preview as a role -----------------------------------------------------------------------

PREVIEW_KEY = "preview_as"  # session-state key of the sidebar's "Preview as" choice
PREVIEW_FUNDER = "a funder"  # identity of a funder preview not tied to a roles-file entry


def preview_choices(own: Scope, firms: Iterable[str], roles: RolesConfig | None) -> list[str]:
    """What a program manager can preview: "" (themself), each partner firm (of the data and of
    the roles file), a funder with no grant linked and each funder of the roles file. Encoded
    as ``partner:<firm>`` / ``funder:`` / ``funder:<e-mail>`` (see ``preview_scope``)."""
    if own.role is not Role.PROGRAM_MANAGER or own.previewed_by:
        return []
    entries = roles.users.items() if roles else []
    all_firms = sorted(set(firms) | {e.firm for _, e in entries if e.role is Role.PARTNER and e.firm})
    funders = sorted(email for email, e in entries if e.role is Role.FUNDER)
    return ["", *(f"partner:{f}" for f in all_firms), "funder:", *(f"funder:{e}" for e in funders)]


def describe_choice(choice: str) -> str:
    kind, _, value = choice.partition(":")
    if not choice:
        return "Myself (program manager)"
    if kind == "partner":
        return f"Partner firm: {value}"
    return f"Funder: {value}" if value else "Funder (no grant linked)"


def preview_scope(own: Scope, choice: str, roles: RolesConfig | None) -> Scope:
    """The scope a program manager previews with ``choice`` (one of ``preview_choices``).

    Anyone else is refused, and so is a preview of a preview: the result is always one of the
    narrower scopes, built as the real one would be (threshold of the roles file, a funder's
    linked grants), so what the program manager sees is what that role sees."""
    if not choice:
        return own
    if own.role is not Role.PROGRAM_MANAGER or own.previewed_by:
        raise AccessDenied("Preview as a role is for program managers only: no data is shown.")
    kind, _, value = choice.partition(":")
    if kind == "partner" and value.strip():
        return Scope(Role.PARTNER, f"partner firm {value}", firm=value, threshold=own.threshold, previewed_by=own.identity)
    if kind == "funder" and not value:
        return Scope(Role.FUNDER, PREVIEW_FUNDER, threshold=own.threshold, previewed_by=own.identity)
    entry = roles.users.get(value) if (kind == "funder" and roles) else None
    if entry is None or entry.role is not Role.FUNDER:
        raise ValueError(f"not a role that can be previewed: {choice!r}")
    return Scope(Role.FUNDER, value, threshold=own.threshold, grants=frozenset(entry.grants), previewed_by=own.identity)


def signed_in_scope() -> Scope:
    """The scope of the person viewing this Streamlit session, as signed in (no preview)."""
    import streamlit as st

    return scope_for(st.user.to_dict(), configured_roles(), st.get_option("server.address"))


def current_scope() -> Scope:
    """The scope this session's pages read with: the signed-in scope, or the role a program
    manager chose under "Preview as"."""
    import streamlit as st

    choice = st.session_state.get(PREVIEW_KEY) or ""
    return preview_scope(signed_in_scope(), choice, configured_roles() if choice else None)


# --- reading the published database ----------------------------------------------------------

@dataclass(frozen=True)
class DbVersion:
    """Identity of one published file: a pipeline publish gives a new inode."""

    device: int
    inode: int
    mtime_ns: int
    size: int


def db_version(path: Path) -> DbVersion:
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise DataUnavailable(f"No published database at {path}: run the pipeline first (see the README).") from None
    return DbVersion(info.st_dev, info.st_ino, info.st_mtime_ns, info.st_size)


class _Replaced(Exception):
    """The file changed while a connection was being opened: read again."""


class _Reader:
    """One read-only DuckDB instance on one version of the published file."""

    def __init__(self, path: str, version: DbVersion) -> None:
        # A fresh in-memory instance that ATTACHes the file: duckdb.connect(path) would reuse an
        # instance still open on the same path in this process — after a publish, the old file.
        self.connection = duckdb.connect(":memory:")
        try:
            self.connection.execute("ATTACH $path AS published (READ_ONLY)", {"path": path})
            # Same identity before (the cache key) and after opening: the open file is that version.
            if db_version(Path(path)) != version:
                raise _Replaced
            self.connection.execute("SET enable_external_access = false")  # no files, no other databases
            # The instance is shared: no query may change a setting under another session's feet.
            self.connection.execute("SET lock_configuration = true")
        except BaseException:
            self.connection.close()
            raise
        self.version = version
        self.queries_running = 0
        self.retired = False  # a newer version is open: close once the last query ends


_readers: dict[str, _Reader] = {}  # path -> the reader of its current version
_readers_lock = threading.Lock()


def _cursor(path: str, version: DbVersion) -> tuple[_Reader, duckdb.DuckDBPyConnection]:
    with _readers_lock:
        reader = _readers.get(path)
        if reader is None or reader.version != version:
            # Opening under the lock: sessions asking for a new version wait for one open, not many.
            reader = _Reader(path, version)
            previous = _readers.get(path)
            _readers[path] = reader
            if previous is not None:
                previous.retired = True
                if previous.queries_running == 0:
                    previous.connection.close()
        cursor = reader.connection.cursor()
        # Closing the instance's connection ends its cursors too: count them to close it after.
        reader.queries_running += 1
        return reader, cursor


def _release(reader: _Reader) -> None:
    with _readers_lock:
        reader.queries_running -= 1
        if reader.retired and reader.queries_running == 0:
            reader.connection.close()


def _read(path: str, version: DbVersion, sql: str, params: tuple[tuple[str, object], ...]) -> pd.DataFrame:
    reader, cursor = _cursor(path, version)
    try:
        cursor.execute("USE published")  # a cursor starts in the in-memory catalog
        return cursor.execute(sql, dict(params)).df()
    finally:
        cursor.close()
        _release(reader)


def _cached_reader():
    import streamlit as st

    return st.cache_data(max_entries=512, show_spinner=False)(_read)


_read_cached = _cached_reader()


def read_published(path: Path, sql: str, params: Mapping[str, object] | None = None) -> pd.DataFrame:
    """Run finished SQL on the published file, read-only, cached per file version."""
    frozen = tuple(sorted((params or {}).items()))
    for _ in range(5):
        try:
            return _read_cached(str(path), db_version(path), sql, frozen)
        except _Replaced:
            continue
    raise DataUnavailable(f"{path} kept changing while being opened; try again in a moment")


class DataAccess:
    """Scoped, cached reads for one visitor."""

    def __init__(self, scope: Scope, db_path: Path | str | None = None, schema: str = "marts") -> None:
        if not isinstance(scope, Scope):
            raise AccessDenied("no scope: no data")
        self.scope = scope
        self.db_path = Path(db_path) if db_path else paths.published_db()
        self.schema = schema

    # -- public API --

    def query(self, sql_template: str, params: Mapping[str, object] | None = None) -> pd.DataFrame:
        """Rows for program managers and partners (a partner's: own firm, no survivor cases)."""
        if self.scope.role is Role.FUNDER:
            raise AccessDenied("Funders see aggregates only: row-level and free-form queries are not available.")
        return self._run(sql_template, params, row_level=True)

    def aggregate(
        self,
        relation: str,
        rows: str | Sequence[str],
        columns: str | None = None,
        *,
        distinct: str | None = None,
        weight: str | None = None,
        where: str | None = None,
        params: Mapping[str, object] | None = None,
        with_margins: bool = True,
        into: "LinkedAggregates | None" = None,
        into_key: str = "",
    ) -> SuppressedTable | None:
        """Counts of ``relation``'s rows (or of distinct ``distinct`` values, e.g. client_id for
        clients) by ``rows`` and optionally ``columns``, with totals computed in SQL (correct
        for distinct counts too). Funders get it suppressed; others get the same shape.

        ``weight``: a pre-aggregated relation's count column, summed instead of counting rows.
        With ``distinct`` too, the count is the distinct values plus the weights: rows with a
        weight stand for values that no other row holds (mart_dashboard_clients)."""
        row_dims = [rows] if isinstance(rows, str) else list(rows)
        dims = row_dims + ([columns] if columns else [])
        for name in [relation, *dims, *([distinct] if distinct else []), *([weight] if weight else [])]:
            self._check_identifier(name)
        if len(set(dims)) != len(dims):
            raise ValueError(f"aggregate: each dimension once, got {dims}")
        if self.scope.suppresses:
            self._refuse_identifying(dims)
        quoted = [f'"{d}"' for d in dims]
        measure = f'count(DISTINCT "{distinct}")' if distinct else "count(*)"
        if weight:
            measure = f'CAST({measure + " + " if distinct else ""}coalesce(sum("{weight}"), 0) AS BIGINT)'
        row_set = ", ".join(f'"{d}"' for d in row_dims)
        sets = [f"({', '.join(quoted)})", "()"]
        if columns:
            sets += [f"({row_set})", f'("{columns}")']
        sql = (
            f"SELECT {', '.join(quoted)}, {measure} AS n, "
            f"grouping({quoted[0]}) AS row_margin, {f'grouping({quoted[-1]})' if columns else '1'} AS column_margin "
            f"FROM {{{relation}}} AS source WHERE ({where or 'true'}) GROUP BY GROUPING SETS ({', '.join(sets)})"
        )
        counts = self._run(sql, params, row_level=False)
        pivoted = _pivot(counts, row_dims, columns)
        if into is not None:
            into.tables[into_key] = (pivoted, with_margins)
            return None
        return self._publish(pivoted, with_margins)

    def linked(self) -> "LinkedAggregates":
        """Tables of one page whose numbers add up across tables (a status table and the same
        statuses by quarter), to be published as one system: ``aggregate(..., into=page,
        into_key=...)`` each, ``link`` the sums, then ``publish``."""
        return LinkedAggregates(self)

    def summary(
        self,
        relation: str,
        by: str | Sequence[str],
        stats: Mapping[str, str],
        *,
        distinct: str | None = None,
        weight: str | None = None,
        where: str | None = None,
        params: Mapping[str, object] | None = None,
        unit: str = "cases",
    ) -> SuppressedTable:
        """One row per group of ``by`` (one overall row when ``by`` is empty): ``n`` (rows,
        distinct ``distinct`` values, or the sum of ``weight`` for a pre-aggregated relation
        such as a Kaplan-Meier mart's ``at_risk``) and each
        statistic, given as an aggregate SQL expression, e.g.
        ``{"median_days": "median(days_to_decision)"}`` (the layer writes the GROUP BY, so a
        statistic cannot list rows). For funders a group whose ``n`` is suppressed has every
        statistic suppressed, and ``n`` is protected as if its total were published elsewhere.
        ``unit``: what ``n`` counts, named where a statistic is withheld ("fewer than 11 cases")."""
        keys = [by] if isinstance(by, str) else list(by)
        if distinct and weight:
            raise ValueError("summary: count distinct values or sum a weight, not both")
        for name in [relation, *keys, *stats, *([distinct] if distinct else []), *([weight] if weight else [])]:
            self._check_identifier(name)
        if self.scope.suppresses:
            self._refuse_identifying(keys)
        quoted = ", ".join(f'"{k}"' for k in keys)
        measure = f'count(DISTINCT "{distinct}")' if distinct else f'CAST(coalesce(sum("{weight}"), 0) AS BIGINT)' if weight else "count(*)"
        selected = ", ".join(f'({expression}) AS "{name}"' for name, expression in stats.items())
        grouping = f" GROUP BY {quoted} ORDER BY {quoted}" if keys else ""
        sql = (
            f"SELECT {quoted + ', ' if keys else ''}{measure} AS n{', ' + selected if selected else ''} "
            f"FROM {{{relation}}} AS source WHERE ({where or 'true'}){grouping}"
        )
        frame = self._run(sql, params, row_level=False)
        if not self.scope.suppresses:
            return SuppressedTable(frame.astype(str), frame, pd.DataFrame(False, index=frame.index, columns=frame.columns), None)
        counts = suppress(frame["n"].astype("int64"), threshold=self.scope.threshold)
        count_reasons = counts.reasons.iloc[:-1].to_numpy()  # its Total entry is not published here
        hidden_rows = count_reasons != ""
        mask = pd.DataFrame(False, index=frame.index, columns=frame.columns)
        mask.loc[hidden_rows, [c for c in frame.columns if c not in keys]] = True
        # n keeps its count marker; a statistic over a small group says so, one hidden only
        # to protect another group's n is withheld.
        reasons = pd.DataFrame("", index=frame.index, columns=frame.columns, dtype=object)
        for column in frame.columns:
            if column == "n":
                reasons[column] = count_reasons
            elif column not in keys:
                reasons[column] = [SMALL_GROUP if r == SMALL else REVEALS if r else "" for r in count_reasons]
        markers = reasons.map(lambda r: marker(r, self.scope.threshold, unit))
        display = frame.astype(str).mask(mask, markers)
        return SuppressedTable(display, frame.mask(mask), mask, self.scope.threshold, reasons)

    def version(self) -> DbVersion:
        return db_version(self.db_path)

    # -- scoping --

    def _run(self, sql_template: str, params: Mapping[str, object] | None, *, row_level: bool) -> pd.DataFrame:
        params = dict(params or {})
        if any(k.startswith("scope_") for k in params):
            raise ValueError("parameter names starting with 'scope_' are reserved for the access layer")
        relations = _PLACEHOLDER.findall(sql_template)
        stray = _direct_sources(_PLACEHOLDER.sub(lambda m: f"__relation_{m.group(1)}", sql_template))
        if stray:
            raise AccessDenied(f"query reads {', '.join(stray)} directly: write relations as {{name}} so the scope applies")
        columns = {name: self._columns(name) for name in set(relations)}
        sql = _PLACEHOLDER.sub(lambda m: self._scoped_relation(m.group(1), columns[m.group(1)], row_level), sql_template)
        if self.scope.role is Role.PARTNER and relations:
            params["scope_firm"] = self.scope.firm
        return read_published(self.db_path, sql, params)

    def _columns(self, relation: str) -> frozenset[str]:
        self._check_identifier(relation)
        # The whole schema in one read (cached like any query): a page reads 4-6 relations, and
        # each information_schema query costs ~5 ms whatever it asks for.
        found = read_published(
            self.db_path,
            "SELECT table_name, list(column_name) AS columns FROM information_schema.columns WHERE table_schema = $schema GROUP BY 1",
            {"schema": self.schema},
        )
        columns = found.loc[found.table_name == relation, "columns"]
        if columns.empty:
            raise DataUnavailable(f"{self.schema}.{relation} is not in the published database")
        return frozenset(columns.iloc[0])

    def _scoped_relation(self, relation: str, columns: frozenset[str], row_level: bool) -> str:
        source = f'"{self.schema}"."{relation}"'
        if self.scope.role is not Role.PARTNER:
            return f"(SELECT * FROM {source})"
        if FIRM_COLUMN not in columns and DIMENSION_COLUMNS <= columns:
            return f"(SELECT * FROM {source} WHERE dimension = '{FIRM_COLUMN}' AND dimension_value = $scope_firm)"
        if FIRM_COLUMN not in columns:
            raise AccessDenied(f"{relation} has no {FIRM_COLUMN} column, so it cannot be limited to one firm's cases")
        conditions = [f'"{FIRM_COLUMN}" = $scope_firm']
        if row_level:
            conditions += [f'NOT coalesce("{c}", false)' for c in SURVIVOR_COLUMNS if c in columns]
        return f"(SELECT * FROM {source} WHERE {' AND '.join(conditions)})"

    def _publish(self, pivoted: tuple, with_margins: bool) -> SuppressedTable:
        interior, margins = _margins(pivoted, with_margins)
        if self.scope.suppresses:
            return suppress(interior, self.scope.threshold, with_margins, **margins)
        return unsuppressed(interior, with_margins, **margins)

    @staticmethod
    def _check_identifier(name: str) -> None:
        if not _IDENTIFIER.match(name or ""):
            raise ValueError(f"not a plain column or relation name: {name!r}")

    @staticmethod
    def _refuse_identifying(columns: Sequence[str]) -> None:
        identifying = [c for c in columns if _IDENTIFYING_COLUMN.search(str(c))]
        if identifying:
            raise AccessDenied(f"Funders see de-identified aggregates only: {', '.join(identifying)} identifies cases or people.")


_parser = duckdb.connect(":memory:")  # holds no data: only parses the pages' SQL
_parser_lock = threading.Lock()


def _direct_sources(sql: str) -> list[str]:
    """What the SQL reads other than the scoped placeholders and its own CTEs: tables named
    directly and table functions (which could read a table by name, e.g. query_table)."""
    with _parser_lock:  # a cursor per call, as sessions run in threads; a new instance costs ~15 ms
        parser = _parser.cursor()
    with parser:
        # The parser takes no parameters: probe with NULL in their place. Parsing only, no binding.
        tree = json.loads(parser.execute("SELECT json_serialize_sql($sql)", {"sql": _PARAMETER.sub("NULL", sql)}).fetchone()[0])
    if tree.get("error"):
        raise ValueError(f"SQL does not parse: {tree.get('error_message')}")
    if len(tree["statements"]) != 1:
        raise AccessDenied("one SELECT statement per query")
    ctes: set[str] = set()
    sources: list[tuple[str, str]] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if "cte_map" in node:
                ctes.update(entry["key"].lower() for entry in node["cte_map"]["map"])
            if node.get("type") == "BASE_TABLE":
                qualified = ".".join(p for p in (node.get("catalog_name"), node.get("schema_name"), node["table_name"]) if p)
                sources.append((qualified, node["table_name"]))
            elif node.get("type") == "TABLE_FUNCTION":
                name = node["function"].get("function_name", "?")
                if name not in _HARMLESS_TABLE_FUNCTIONS:
                    sources.append((f"{name}()", f"{name}()"))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(tree["statements"][0]["node"])
    return sorted({q for q, name in sources if not (q == name and (name.startswith("__relation_") or name.lower() in ctes))})


def _margins(pivoted: tuple, with_margins: bool) -> tuple[pd.Series | pd.DataFrame, dict]:
    interior, row_totals, column_totals, grand_total = pivoted
    if not with_margins:
        return interior, {}
    if isinstance(interior, pd.Series):
        return interior, dict(grand_total=grand_total)
    return interior, dict(row_totals=row_totals, column_totals=column_totals, grand_total=grand_total)


class LinkedAggregates:
    """A page's tables published as one system (access.disclosure.LinkedTables): for
    funders no hidden count can be worked out by combining one table with another."""

    def __init__(self, access: "DataAccess"):
        self.access = access
        self.tables: dict[str, tuple[tuple, bool]] = {}
        self._links: list[tuple[list[Address], Address]] = []

    def link(self, parts: Sequence[Address], total: Address) -> None:
        """``total`` (an entry of one table) is the sum of ``parts`` (entries of others)."""
        self._links.append((list(parts), total))

    def same(self, first: Address, second: Address) -> None:
        """Two entries of different tables that are one number."""
        self.link([first], second)

    def interior(self, key: str) -> pd.Series | pd.DataFrame:
        """A table's exact counts without margins: its labels, to link entries by. Never shown."""
        (interior, *_), _ = self.tables[key]
        return interior

    def publish(self) -> dict[str, SuppressedTable]:
        if not self.access.scope.suppresses:
            return {key: self.access._publish(pivoted, with_margins) for key, (pivoted, with_margins) in self.tables.items()}
        linked = LinkedTables(self.access.scope.threshold)
        for key, (pivoted, with_margins) in self.tables.items():
            interior, margins = _margins(pivoted, with_margins)
            linked.add(key, interior, with_margins, **margins)
        for parts, total in self._links:
            linked.link(parts, total)
        return linked.publish()


def _pivot(counts: pd.DataFrame, row_dims: list[str], column: str | None):
    """Split the GROUPING SETS result into interior, row totals, column totals, grand total."""
    for dim in row_dims + ([column] if column else []):
        counts[dim] = counts[dim].astype(object).where(counts[dim].notna(), NONE_LABEL)
    interior_rows = counts[(counts.row_margin == 0) & (counts.column_margin == 0)] if column else counts[counts.row_margin == 0]
    grand_rows = counts[(counts.row_margin == 1) & (counts.column_margin == 1)]
    grand_total = int(grand_rows.n.iloc[0]) if len(grand_rows) else 0
    index = row_dims[0] if len(row_dims) == 1 else row_dims
    if not column:
        interior = interior_rows.set_index(index)["n"].sort_index()
        return interior, None, None, grand_total
    interior = interior_rows.pivot_table(index=index, columns=column, values="n", aggfunc="sum", fill_value=0).sort_index()
    interior = interior.sort_index(axis=1)
    interior.columns.name = column
    row_totals = counts[(counts.row_margin == 0) & (counts.column_margin == 1)].set_index(index)["n"]
    column_totals = counts[(counts.row_margin == 1) & (counts.column_margin == 0)].set_index(column)["n"]
    return interior, row_totals, column_totals, grand_total
