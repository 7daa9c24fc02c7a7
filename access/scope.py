"""Who is looking, and what they may see: roles, the roles file, sign-in rules, preview.

Roles (domain brief sections 1 and 5):

* ``program_manager`` — everything.
* ``partner`` — its own firm's rows only (access/queries.py applies the firm filter to every
  relation a query reads, before any aggregation, and leaves PC 236.14/236.15 survivor cases out
  of row-level queries).
* ``funder`` — de-identified aggregates only, with every count passed through disclosure
  control (access/disclosure.py). Grant reports: only the grants the roles file links to the
  funder (``grants:``), none without a link (``Scope.visible_grants``; the Grant reports page
  and ``pcr report --for``).

Identity: what the identity provider says at sign-in (``st.user`` in the dashboards, given to
``scope_for`` as a mapping). The roles file (YAML; see dashboards/roles.example.yml) maps e-mail
addresses to roles, and only e-mail addresses the provider says it verified (``email_verified``
is true): anyone can type an unverified address into some providers' sign-up forms. The roles
file's ``login.email_domains`` can make this stricter, never looser. Without authentication the
local user is a program manager, but only when the server listens on the loopback interface
(``pcr dashboard`` starts it with ``--server.address 127.0.0.1``); pages show ``Scope.banner``.

Preview as a role: a program manager may view the pages as a partner firm or a funder
(``preview_scope``); the pages then get that role's scope, so the scoping and suppression are
the real ones, and a banner says whose view it is. Only a program manager's own scope can be
narrowed so, and every preview is a narrower scope than the program manager's.
"""
from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

import yaml

from access.disclosure import DEFAULT_THRESHOLD

LOOPBACK_ADDRESSES = frozenset({"127.0.0.1", "localhost", "::1"})
LOCAL_USER = "local user"
LOCAL_BANNER = (
    "Authentication is not configured: you are the local user with program-manager access "
    "to all data. The server accepts connections from this computer only (127.0.0.1)."
)


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
        raise AccessDenied(f"roles file {path} does not exist (check PCR_ROLES_FILE)") from None
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


def scope_for(user_info: Mapping[str, object], roles: RolesConfig | None, server_address: str | None) -> Scope:
    """The scope of a visitor, from the identity provider's claims as the dashboards' ``st.user`` holds them.

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

