"""The staff roster in Superset: a login per roster user, and Superset's own row-level security.

The roster comes as `scores roster show --json` prints it: each user's role, scope and, per
published table, the row filter of loaders/roles.py (null: every row; ``1 = 0``: none). For each
user this makes (or updates):
  * a Superset role ``scores_roster_<user>`` holding one Regular RLS filter per dataset of the
    warehouse database whose table the roster filters, with the roster's clause;
  * a Superset user of that name with the viewer role ``scores_viewer`` (Gamma's permissions plus
    access to every dataset: the RLS filters decide which rows) and its own role.
A user who left the roster loses its roles and is deactivated; a rerun brings everything to the
roster's state. Superset applies Regular filters to every query of a chart, SQL of a dataset or
the chart-data API made by a member of the filter's roles.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

VIEWER_ROLE = "scores_viewer"
USER_ROLE_PREFIX = "scores_roster_"
ALL_DATASOURCES = ("all_datasource_access", "all_datasource_access")


def _all(api: Any, path: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    page = 0
    while True:
        result = api.get(path, params={"q": f"(page:{page},page_size:100)"})["result"]
        items.extend(result)
        if len(result) < 100:
            return items
        page += 1


def _role(api: Any, name: str) -> int:
    for role in _all(api, "/api/v1/security/roles/"):
        if role["name"] == name:
            return int(role["id"])
    return int(api.post("/api/v1/security/roles/", json={"name": name})["id"])


def _viewer_role(api: Any) -> int:
    """Gamma's permissions plus access to every datasource."""
    role = _role(api, VIEWER_ROLE)
    gamma = _role(api, "Gamma")
    wanted = {int(p["id"]) for p in api.get(f"/api/v1/security/roles/{gamma}/permissions/")["result"]}
    for item in _all(api, "/api/v1/security/permissions-resources/"):
        pair = ((item.get("permission") or {}).get("name"), (item.get("view_menu") or {}).get("name"))
        if pair == ALL_DATASOURCES:
            wanted.add(int(item["id"]))
    api.post(f"/api/v1/security/roles/{role}/permissions", json={"permission_view_menu_ids": sorted(wanted)})
    return role


def sync_roster(api: Any, roster: list[dict[str, Any]], passwords: dict[str, str], database: str) -> None:
    """Bring Superset's roster users, roles and RLS filters to ``roster`` (see the module)."""
    viewer = _viewer_role(api)
    datasets = [
        d for d in _all(api, "/api/v1/dataset/") if (d.get("database") or {}).get("database_name") == database
    ]
    users = {u["username"]: u for u in _all(api, "/api/v1/security/users/")}
    filters = {f["name"]: f for f in _all(api, "/api/v1/rowlevelsecurity/")}
    listed = set()
    for entry in roster:
        name = str(entry["user"])
        listed.add(name)
        own = _role(api, USER_ROLE_PREFIX + name)
        for dataset in datasets:
            clause = (entry.get("filters") or {}).get(dataset["table_name"], "1 = 0")
            title = f"{USER_ROLE_PREFIX}{name}: {dataset['table_name']}"
            body = {
                "name": title,
                "filter_type": "Regular",
                "tables": [dataset["id"]],
                "roles": [own],
                "clause": clause or "1 = 1",
                "group_key": "",
                "description": f"roster: {entry['role']} {','.join(entry.get('scope') or [])}",
            }
            if title in filters:
                api.put(f"/api/v1/rowlevelsecurity/{filters[title]['id']}", json=body)
            else:
                api.post("/api/v1/rowlevelsecurity/", json=body)
        account = {
            "active": True,
            "first_name": name,
            "last_name": str(entry["role"]),
            "email": f"{name}@roster.invalid",
            "username": name,
            "roles": [viewer, own],
        }
        if name in users:
            api.put(f"/api/v1/security/users/{users[name]['id']}", json=account)
        else:
            password = passwords.get(name)
            if not password:
                raise ValueError(f"roster user {name} has no Superset password in the passwords file")
            api.post("/api/v1/security/users/", json={**account, "password": password})
    for name, user in users.items():
        roles = {r.get("name") for r in user.get("roles") or []}
        if name not in listed and any(str(r).startswith(USER_ROLE_PREFIX) for r in roles):
            api.put(f"/api/v1/security/users/{user['id']}", json={"active": False, "roles": [viewer]})


def read_json(path: Path) -> Any:
    return json.loads(path.read_text())
