"""Users of ``scores serve``: names, passwords and roles.

    SCORES_SERVE_USERS="bi:secret:readonly,loader:other:readwrite"     (name:password:role, ...)
    SCORES_SERVE_USERS_FILE=path/to/users.json
        {"bi": {"password": "...", "role": "readonly"}, "dbt": {"password_sha256": "<hex>", ...}}

Roles: ``readwrite`` (loaders, dbt), ``readonly`` (BI tools, every table) and ``roster``: the
user's role and scope come from the staff roster (loaders/roster.py), read on every request.
Without configuration the endpoint does not run open: on first start it generates a users file
with a reader and a writer and random passwords (mode 0600, next to the data directory) and
prints where it is. A users file is read again when it changes, so removing a user takes effect
on that user's next request.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path

# `roster`: read-only, with the role and scope the staff roster gives the user (endpoint/scopes.py)
ROSTER_ROLE = "roster"
ROLES = ("readonly", "readwrite", ROSTER_ROLE)


@dataclass(frozen=True)
class User:
    name: str
    password_sha256: str  # hex digest of the password
    role: str = "readonly"

    @classmethod
    def with_password(cls, name: str, password: str, role: str = "readonly") -> User:
        return cls(name, _digest(password), role)

    @property
    def writes(self) -> bool:
        return self.role == "readwrite"


def _digest(password: str) -> str:
    return hashlib.sha256(password.encode()).hexdigest()


class UsersError(ValueError):
    """A users configuration that cannot be used (named in the message)."""


class Users:
    """The configured users; a users file is re-read when it changes."""

    def __init__(self, users: list[User], path: Path | None = None) -> None:
        self._users = {u.name: u for u in users}
        self._path = path
        self._stamp = _stamp(path) if path else None
        self._lock = threading.Lock()

    @classmethod
    def from_env(cls, default_file: Path | None = None) -> Users:
        """Users from SCORES_SERVE_USERS_FILE or SCORES_SERVE_USERS, else from ``default_file``,
        which is generated (with random passwords) if it does not exist."""
        path = os.environ.get("SCORES_SERVE_USERS_FILE", "").strip()
        if path:
            return cls.from_file(Path(path))
        spec = os.environ.get("SCORES_SERVE_USERS", "").strip()
        if spec:
            return cls.from_spec(spec)
        if default_file is None:
            raise UsersError("no users configured: set SCORES_SERVE_USERS or SCORES_SERVE_USERS_FILE")
        if not default_file.exists():
            generate_users_file(default_file)
        return cls.from_file(default_file)

    @classmethod
    def from_spec(cls, spec: str) -> Users:
        users = []
        for item in spec.split(","):
            name, _, rest = item.strip().partition(":")
            password, _, role = rest.partition(":")
            users.append(_user(name, role or "readwrite", password=password, where="SCORES_SERVE_USERS"))
        return cls(users)

    @classmethod
    def from_file(cls, path: Path) -> Users:
        return cls(_read_file(path), path)

    def _refresh(self) -> None:
        if self._path is None:
            return
        stamp = _stamp(self._path)
        if stamp == self._stamp:
            return
        with self._lock:
            if stamp == self._stamp:
                return
            try:
                users = _read_file(self._path)
            except UsersError:
                users = []  # a broken file admits nobody until it is fixed
            self._users = {u.name: u for u in users}
            self._stamp = stamp

    def check(self, name: str, password: str) -> User | None:
        """The user if the password is right; the comparison takes the same time either way."""
        self._refresh()
        user = self._users.get(name)
        expected = user.password_sha256 if user else _digest(secrets.token_hex(16))
        if not hmac.compare_digest(expected.encode(), _digest(password).encode()) or user is None:
            return None
        return user

    @property
    def names(self) -> list[str]:
        self._refresh()
        return sorted(self._users)

    def password_hashes(self) -> dict[str, str]:
        """User name -> SHA-256 hex of the password (ClickHouse's sha256_hash)."""
        self._refresh()
        return {name: user.password_sha256 for name, user in self._users.items()}

    @property
    def path(self) -> Path | None:
        return self._path


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return (stat.st_mtime_ns, stat.st_size)


def _read_file(path: Path) -> list[User]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as ex:
        raise UsersError(f"cannot read the users file {path}: {ex}") from None
    if not isinstance(data, dict):
        raise UsersError(f"{path}: expected an object of users, name -> {{password, role}}")
    users = []
    for name, entry in data.items():
        if not isinstance(entry, dict):
            raise UsersError(f"{path}: user {name!r}: expected an object with password and role")
        users.append(
            _user(
                name,
                str(entry.get("role", "readonly")),
                password=entry.get("password"),
                digest=entry.get("password_sha256"),
                where=str(path),
            )
        )
    return users


def _user(name: str, role: str, password: object = None, digest: object = None, where: str = "") -> User:
    if not name or not all(c.isalnum() or c in "_-.@" for c in name):
        raise UsersError(f"{where}: user name {name!r}: letters, digits and _-.@ only")
    if role not in ROLES:
        raise UsersError(f"{where}: user {name}: role must be one of {', '.join(ROLES)}, not {role!r}")
    if isinstance(digest, str) and len(digest) == 64:
        return User(name, digest.lower(), role)
    if not isinstance(password, str) or not password:
        raise UsersError(f"{where}: user {name}: a password (or password_sha256) is required")
    return User.with_password(name, password, role)


def generate_users_file(path: Path) -> dict[str, str]:
    """Write a users file with a reader ``bi`` and a writer ``loader`` and random passwords."""
    passwords = {"bi": secrets.token_urlsafe(18), "loader": secrets.token_urlsafe(18)}
    content = {
        "bi": {"password": passwords["bi"], "role": "readonly"},
        "loader": {"password": passwords["loader"], "role": "readwrite"},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        json.dump(content, handle, indent=2)
        handle.write("\n")
    return passwords
