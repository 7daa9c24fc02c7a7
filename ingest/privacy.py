"""Privacy at the door: the HMAC key and the keyed hash used for A-numbers and court case
numbers.

The hash is computed inside DuckDB (a TEMP macro, so neither the key nor the macro is ever
written to the database file) to keep ingest set-wise; `hmac_hex` is the reference
implementation the tests compare it with.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

import duckdb

KEY_BYTES = 32
_BLOCK = 64  # SHA-256 block size


def load_or_create_key(path: Path) -> bytes:
    """The secret key in ``path``; created (32 random bytes, mode 0600) on first use.

    Losing the key means the same client hashes differently in the next load, so the shell
    keeps it outside the data directory by default (Settings.hmac_key_file)."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process created it first: use theirs
            pass
        else:
            with os.fdopen(fd, "wb") as f:
                f.write(secrets.token_bytes(KEY_BYTES))
    key = path.read_bytes()
    if len(key) < 16:
        raise ValueError(f"HMAC key file {path} holds {len(key)} bytes; expected {KEY_BYTES}")
    return key


def hmac_hex(key: bytes, message: str) -> str:
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).hexdigest()


def install_hmac_macro(con: duckdb.DuckDBPyConnection, key: bytes) -> None:
    """Define TEMP macro `pcr_hmac(text) -> hex` equal to HMAC-SHA256(key, text) (RFC 2104)."""
    if len(key) > _BLOCK:
        key = hashlib.sha256(key).digest()
    key = key.ljust(_BLOCK, b"\0")
    ipad = bytes(b ^ 0x36 for b in key).hex()
    opad = bytes(b ^ 0x5C for b in key).hex()
    con.execute(
        "CREATE OR REPLACE TEMP MACRO pcr_hmac(msg) AS "
        f"CASE WHEN msg IS NOT NULL THEN sha256(from_hex('{opad}') || "
        f"from_hex(sha256(from_hex('{ipad}') || encode(msg)))) END"
    )


def normalise_a_number_sql(expr: str) -> str:
    """SQL: an A-number as digits: 'A', '#', spaces, dots and dashes removed, as every
    spelling programs use (A-123-456-789, A 123 456 789, A#123456789, 123.456.789)."""
    return f"regexp_replace({expr}, '[Aa#.\\s\\-]', '', 'g')"
