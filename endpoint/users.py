"""Users of the endpoint: names, passwords and roles, from the environment or a file.

    SCORES_SERVE_USERS="bi:secret:readonly,loader:other:readwrite"     (name:password:role, ...)
    SCORES_SERVE_USERS_FILE=path/to/users.json    {"bi": {"password": "...", "role": "readonly"}}

Roles: ``readwrite`` (loaders, dbt) and ``readonly`` (BI tools: writes are refused, settings
allowed). Without configuration there is one user, ``default``, with no password and read-write
access, and the endpoint listens on 127.0.0.1 only.
"""

from __future__ import annotations

import hmac
import json
import os
from dataclasses import dataclass
from pathlib import Path

ROLES = ("readonly", "readwrite")


@dataclass(frozen=True)
class User:
    name: str
    password: str
    role: str = "readwrite"

    @property
    def readonly(self) -> bool:
        return self.role == "readonly"


class Users:
    def __init__(self, users: list[User]) -> None:
        self._users = {u.name: u for u in users}

    @classmethod
    def from_env(cls) -> Users:
        path = os.environ.get("SCORES_SERVE_USERS_FILE", "").strip()
        if path:
            return cls.from_file(Path(path))
        spec = os.environ.get("SCORES_SERVE_USERS", "").strip()
        if not spec:
            return cls([User("default", "")])
        users = []
        for item in spec.split(","):
            name, _, rest = item.strip().partition(":")
            password, _, role = rest.partition(":")
            users.append(cls._user(name, password, role or "readwrite"))
        return cls(users)

    @classmethod
    def from_file(cls, path: Path) -> Users:
        data = json.loads(path.read_text())
        return cls(
            [
                cls._user(name, str(v.get("password", "")), str(v.get("role", "readwrite")))
                for name, v in data.items()
            ]
        )

    @staticmethod
    def _user(name: str, password: str, role: str) -> User:
        if not name:
            raise ValueError("a user needs a name (SCORES_SERVE_USERS is name:password:role,...)")
        if role not in ROLES:
            raise ValueError(f"user {name}: role must be one of {', '.join(ROLES)}, not {role!r}")
        return User(name, password, role)

    def check(self, name: str, password: str) -> User | None:
        user = self._users.get(name)
        if user is None or not hmac.compare_digest(user.password.encode(), password.encode()):
            return None
        return user

    @property
    def names(self) -> list[str]:
        return sorted(self._users)
