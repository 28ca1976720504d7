"""Authentication and authorisation of the reference platform.

Users log in with a password and get a short-lived bearer token plus a refresh token. Ingestion
uses per-tenant API keys (``Authorization: Bearer`` or ``X-API-Key``). ``X-Scope-OrgID`` never
authenticates; when it comes with a key it must name the key's tenant. Tokens are opaque random
strings held in memory, which is all a single-process reference service needs.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from obstack_load.core.tenants import Population


def token_digest(secret: str) -> str:
    """What is stored of a token or an API key: they are long and random, so a fast hash
    suffices, and a leaked table holds nothing usable."""
    return hashlib.sha256(secret.encode()).hexdigest()


def password_digest(salt: str, password: str) -> str:
    """What is stored of a password: HMAC-SHA-256 salted by the user's id. A real service would
    use a slow KDF (scrypt, Argon2); here a login under load would then measure the KDF."""
    return hmac.new(salt.encode(), password.encode(), hashlib.sha256).hexdigest()


class AuthError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class UserRecord:
    user_id: str
    tenant_id: str
    username: str
    password: str = field(repr=False)
    role: str

    def public(self) -> dict[str, str]:
        return {
            "id": self.user_id,
            "tenant_id": self.tenant_id,
            "username": self.username,
            "role": self.role,
        }


@dataclass
class ApiKeyRecord:
    key_id: str
    tenant_id: str
    key: str = field(repr=False)
    name: str
    created_at: float

    def public(self) -> dict[str, object]:
        return {
            "id": self.key_id,
            "tenant_id": self.tenant_id,
            "name": self.name,
            "prefix": self.key[:8],
            "created_at": self.created_at,
        }


@dataclass(frozen=True)
class Principal:
    """Who is calling: a user session (``username`` set) or an API key."""

    tenant_id: str
    role: str
    username: str | None = None


@dataclass
class Session:
    principal: Principal
    expires_at: float
    session_id: str = ""  # shared by an access token and its refresh token


def bearer(headers: Mapping[str, str]) -> str | None:
    value = headers.get("authorization", "")
    scheme, _, credential = value.partition(" ")
    if scheme.lower() == "bearer" and credential.strip():
        return credential.strip()
    return None


class AuthService:
    def __init__(self, population: Population, token_ttl: float, refresh_ttl: float) -> None:
        self.token_ttl = token_ttl
        self.refresh_ttl = refresh_ttl
        self.users: dict[str, UserRecord] = {}  # by username
        self.api_keys: dict[str, ApiKeyRecord] = {}  # by key
        self.access: dict[str, Session] = {}
        self.refresh: dict[str, Session] = {}
        for tenant in population.tenants:
            for account in tenant.accounts:
                self.add_user(tenant.tenant_id, account.username, account.password, account.role)
            self.add_api_key(tenant.tenant_id, "default", tenant.api_key)

    # ---- accounts and keys --------------------------------------------------------------------

    def add_user(self, tenant_id: str, username: str, password: str, role: str) -> UserRecord:
        if username in self.users:
            raise AuthError(409, f"user {username!r} already exists")
        user = UserRecord("usr_" + secrets.token_hex(6), tenant_id, username, password, role)
        self.users[username] = user
        return user

    def delete_user(self, tenant_id: str, user_id: str) -> bool:
        for username, user in list(self.users.items()):
            if user.user_id == user_id and user.tenant_id == tenant_id:
                del self.users[username]
                self._revoke(lambda p, name=username: p.username == name)
                return True
        return False

    def tenant_users(self, tenant_id: str) -> list[UserRecord]:
        return [u for u in self.users.values() if u.tenant_id == tenant_id]

    def add_api_key(self, tenant_id: str, name: str, key: str | None = None) -> ApiKeyRecord:
        record = ApiKeyRecord(
            "key_" + secrets.token_hex(6),
            tenant_id,
            key or "obk_" + secrets.token_hex(16),
            name,
            time.time(),
        )
        self.api_keys[record.key] = record
        return record

    def tenant_api_keys(self, tenant_id: str) -> list[ApiKeyRecord]:
        return [k for k in self.api_keys.values() if k.tenant_id == tenant_id]

    def find_api_key(self, tenant_id: str, key_id: str) -> ApiKeyRecord | None:
        for record in self.api_keys.values():
            if record.key_id == key_id and record.tenant_id == tenant_id:
                return record
        return None

    def rotate_api_key(self, record: ApiKeyRecord) -> ApiKeyRecord:
        del self.api_keys[record.key]
        record.key = "obk_" + secrets.token_hex(16)
        self.api_keys[record.key] = record
        return record

    def delete_api_key(self, record: ApiKeyRecord) -> None:
        del self.api_keys[record.key]

    # ---- sessions -----------------------------------------------------------------------------

    def login(self, username: str, password: str) -> dict[str, object]:
        user = self.users.get(username)
        # compare_digest against a dummy keeps the timing the same for unknown users
        expected = user.password if user else "x" * len(password or "x")
        if not hmac.compare_digest(expected.encode(), (password or "").encode()) or user is None:
            raise AuthError(401, "invalid username or password")
        return self._issue(Principal(user.tenant_id, user.role, user.username))

    def refresh_session(self, refresh_token: str) -> dict[str, object]:
        session = self.refresh.pop(refresh_token, None)
        if session is None or session.expires_at < time.monotonic():
            raise AuthError(401, "invalid or expired refresh token")
        principal = session.principal
        if principal.username not in self.users:
            raise AuthError(401, "user no longer exists")
        return self._issue(principal)

    def logout(self, token: str) -> None:
        """End this session only: the same account may be logged in elsewhere."""
        session = self.access.pop(token, None)
        if session is not None:
            for refresh in [
                t for t, s in self.refresh.items() if s.session_id == session.session_id
            ]:
                del self.refresh[refresh]

    def _issue(self, principal: Principal) -> dict[str, object]:
        access, refresh = secrets.token_urlsafe(24), secrets.token_urlsafe(32)
        now = time.monotonic()
        session_id = secrets.token_hex(8)
        self.access[access] = Session(principal, now + self.token_ttl, session_id)
        self.refresh[refresh] = Session(principal, now + self.refresh_ttl, session_id)
        return {
            "access_token": access,
            "refresh_token": refresh,
            "token_type": "Bearer",
            "expires_in": self.token_ttl,
            "tenant_id": principal.tenant_id,
            "username": principal.username,
            "role": principal.role,
        }

    def _revoke(self, predicate) -> None:
        for table in (self.access, self.refresh):
            for token in [t for t, s in table.items() if predicate(s.principal)]:
                del table[token]

    def expire(self) -> None:
        now = time.monotonic()
        for table in (self.access, self.refresh):
            for token in [t for t, s in table.items() if s.expires_at < now]:
                del table[token]
