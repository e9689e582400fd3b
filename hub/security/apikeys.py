"""API keys with scopes: created once, stored hashed, revocable, with last-used time.

A key looks like ``o2c_<prefix>_<secret>``. Only the prefix (to find the row) and a
SHA-256 of the whole key are stored: keys are 256-bit random values, so a plain hash is
as good as a slow one here and costs microseconds per request. The key is shown once.

Scopes: ``inbound:<system>`` (or ``inbound:*``) to post documents from a system,
``ops:read`` to read timelines, dead letters, targets and metrics, ``ops:replay`` to
replay, ``admin`` for everything.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select, update

from hub.clock import utcnow
from hub.errors import HubError
from hub.store.tables import api_key_table

K = api_key_table.c
KEY_PATTERN = re.compile(r"^o2c_([A-Za-z0-9]{8})_([A-Za-z0-9_-]{40,})$")
SCOPE_PATTERN = re.compile(r"^(inbound:([a-z][a-z0-9_]*|\*)|ops:read|ops:replay|admin)$")
LAST_USED_PRECISION = timedelta(minutes=1)
"""last_used_at is written at most once a minute per key: no write on every request."""
CACHE_SECONDS = 2.0
"""A verified key is trusted this long without a database read; a revocation therefore
takes effect within this many seconds in every process."""

_verified: dict[str, tuple[float, Principal]] = {}


class AuthenticationError(HubError):
    """Missing, malformed, unknown or revoked API key (send Authorization: Bearer KEY)."""

    status = 401


class PermissionDenied(HubError):
    """The API key lacks the scope this endpoint needs."""

    status = 403


class ApiKeyError(HubError):
    """The API key request is invalid (name taken, unknown scope, unknown key)."""

    status = 400


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key's name and scopes."""

    name: str
    scopes: frozenset[str]

    def allows(self, scope: str) -> bool:
        if "admin" in self.scopes or scope in self.scopes:
            return True
        return scope.startswith("inbound:") and "inbound:*" in self.scopes

    def require(self, scope: str) -> None:
        if not self.allows(scope):
            raise PermissionDenied(f"API key {self.name!r} lacks the scope {scope!r}")


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def check_scopes(scopes: list[str]) -> list[str]:
    bad = [s for s in scopes if not SCOPE_PATTERN.match(s)]
    if bad:
        raise ApiKeyError(
            f"unknown scope {bad[0]!r}; use inbound:<system>, inbound:*, ops:read, "
            "ops:replay or admin"
        )
    if not scopes:
        raise ApiKeyError("an API key needs at least one scope")
    return sorted(set(scopes))


def create_key(engine: Engine, name: str, scopes: list[str], *, actor: str) -> str:
    """Create a key and return it (the only time it is ever shown)."""
    from hub.audit import AuditAction, record

    chosen = check_scopes(scopes)
    prefix = secrets.token_hex(4)
    key = f"o2c_{prefix}_{secrets.token_urlsafe(32)}"
    with engine.begin() as conn:
        if conn.execute(select(K.id).where(K.name == name)).first() is not None:
            raise ApiKeyError(f"an API key named {name!r} exists; revoke it or pick a name")
        conn.execute(
            api_key_table.insert().values(
                id=str(uuid.uuid4()),
                name=name,
                prefix=prefix,
                key_hash=_hash(key),
                scopes=json.dumps(chosen),
                created_at=utcnow(),
                created_by=actor,
            )
        )
        record(
            conn,
            actor=actor,
            action=AuditAction.APIKEY_CREATED,
            target=name,
            details={"scopes": chosen},
        )
    return key


def revoke_key(engine: Engine, name: str, *, actor: str) -> None:
    from hub.audit import AuditAction, record

    _verified.clear()  # this process forgets at once; others within CACHE_SECONDS
    with engine.begin() as conn:
        result = conn.execute(
            update(api_key_table)
            .where(K.name == name, K.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )
        if result.rowcount != 1:
            raise ApiKeyError(f"no active API key named {name!r}")
        record(conn, actor=actor, action=AuditAction.APIKEY_REVOKED, target=name)


def list_keys(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                K.name, K.prefix, K.scopes, K.created_at, K.created_by, K.last_used_at, K.revoked_at
            ).order_by(K.created_at)
        ).all()
    return [{**dict(r._mapping), "scopes": json.loads(r.scopes)} for r in rows]


def authenticate(engine: Engine, authorization: str | None) -> Principal:
    """The caller behind an ``Authorization: Bearer KEY`` header, or AuthenticationError."""
    if not authorization:
        raise AuthenticationError("missing Authorization header (use: Bearer <API key>)")
    scheme, _, key = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not key:
        raise AuthenticationError("the Authorization header must be: Bearer <API key>")
    match = KEY_PATTERN.match(key.strip())
    if match is None:
        raise AuthenticationError("malformed API key")
    digest = _hash(key.strip())
    cached = _verified.get(digest)
    if cached is not None and time.monotonic() - cached[0] < CACHE_SECONDS:
        return cached[1]
    with engine.connect() as conn:
        row = conn.execute(
            select(K.id, K.name, K.key_hash, K.scopes, K.last_used_at, K.revoked_at).where(
                K.prefix == match.group(1)
            )
        ).first()
    if row is None or not hmac.compare_digest(row.key_hash, digest):
        raise AuthenticationError("unknown API key")
    if row.revoked_at is not None:
        raise AuthenticationError(f"API key {row.name!r} was revoked")
    _touch(engine, row.id, row.last_used_at)
    principal = Principal(row.name, frozenset(json.loads(row.scopes)))
    if len(_verified) > 10_000:
        _verified.clear()
    _verified[digest] = (time.monotonic(), principal)
    return principal


def _touch(engine: Engine, key_id: str, last: datetime | None) -> None:
    now = utcnow()
    if last is not None and now - last < LAST_USED_PRECISION:
        return
    with engine.begin() as conn:
        conn.execute(update(api_key_table).where(K.id == key_id).values(last_used_at=now))
