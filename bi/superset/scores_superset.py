#!/usr/bin/env python3
"""Superset helpers for the student-scores dashboards: REST client, bundle zip/import/export.

The dashboards live in bi/superset/dashboards/<name>/ in Superset's export format (unzipped:
metadata.yaml, databases/, datasets/, charts/, dashboards/). The database YAML keeps the
password masked (XXXXXXXXXX); it is supplied when importing. Commands (run with the Superset
virtual environment's python, see scripts/superset.sh, which wraps them):

    scores_superset.py init                          # metadata tables, admin user, roles (no server)
    scores_superset.py import-local --password P [--uri URI]
                                                     # import into the metadata database (no server)
    scores_superset.py zip OUT.zip --password P [--uri URI]
                                                     # the bundle as a zip, password (and URI) filled in
    scores_superset.py import --url URL --password P [--uri URI]
                                                     # import through a running Superset's REST API
    scores_superset.py export --url URL [--dashboard student-scores]
                                                     # export from a running Superset, cleaned, into the repo
    scores_superset.py roster --url URL --roster R.json --passwords P.json
                                                     # roster logins and row-level security (RLS)

Importing overwrites: the database, datasets, charts and dashboard in the bundle replace the
objects with the same UUIDs. Superset's dashboard importer alone (`superset import-dashboards`,
POST /api/v1/dashboard/import/) overwrites only the dashboard and keeps existing charts, datasets
and database connections as they are, so an edited chart would not arrive; the bundle is therefore
imported four times, as a database, dataset, chart and dashboard bundle, each with overwrite.

Only `init` and `import-local` need Superset installed; the rest needs `requests` and `PyYAML`.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import shutil
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import requests
import yaml  # type: ignore[import-untyped, unused-ignore]

HERE = Path(__file__).resolve().parent
DASHBOARDS_DIR = HERE / "dashboards"
DEFAULT_BUNDLE = DASHBOARDS_DIR / "student_scores"
PASSWORD_MASK = "XXXXXXXXXX"
# Where the database YAML points when exported: `scores serve` on its default port.
CANONICAL_NETLOC = "127.0.0.1:8123"
# (REST resource, the `type` its importer wants in metadata.yaml), in import order
IMPORT_KINDS = (
    ("database", "Database"),
    ("dataset", "SqlaTable"),
    ("chart", "Slice"),
    ("dashboard", "Dashboard"),
)


class SupersetError(RuntimeError):
    pass


class Superset:
    """A logged-in REST API session: bearer token from /api/v1/security/login plus the CSRF
    token (and its session cookie) that Superset wants on requests that change something."""

    def __init__(
        self, url: str, username: str = "admin", password: str = "admin", timeout: float = 120.0
    ) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.http = requests.Session()
        login = self.http.post(
            f"{self.url}/api/v1/security/login",
            json={"username": username, "password": password, "provider": "db", "refresh": False},
            timeout=timeout,
        )
        if login.status_code != 200:
            raise SupersetError(f"login as {username!r} failed: HTTP {login.status_code} {login.text[:300]}")
        self.http.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
        self.http.headers["X-CSRFToken"] = self.get("/api/v1/security/csrf_token/")["result"]
        self.http.headers["Referer"] = self.url

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self.timeout)
        response = self.http.request(method, f"{self.url}{path}", **kwargs)
        if response.status_code >= 400:
            raise SupersetError(f"{method} {path}: HTTP {response.status_code} {response.text[:2000]}")
        return response

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs).json()

    def post(self, path: str, **kwargs: Any) -> Any:
        return self.request("POST", path, **kwargs).json()

    def put(self, path: str, **kwargs: Any) -> Any:
        return self.request("PUT", path, **kwargs).json()

    def find(self, resource: str, column: str, value: str) -> list[dict[str, Any]]:
        """Objects of a resource (dashboard, chart, dataset, database) whose column equals value."""
        query = f"(filters:!((col:{column},opr:eq,value:'{value}')),page_size:100)"
        return list(self.get(f"/api/v1/{resource}/", params={"q": query})["result"])

    def dashboard_id(self, id_or_slug: str) -> int:
        return int(self.get(f"/api/v1/dashboard/{id_or_slug}")["result"]["id"])

    def chart_data(self, query_context: dict[str, Any]) -> list[dict[str, Any]]:
        """Rows of the first query of a /api/v1/chart/data request."""
        result = self.post("/api/v1/chart/data", json=query_context)["result"][0]
        if result.get("error"):
            raise SupersetError(f"chart data: {result['error']}")
        return list(result["data"])

    def import_bundle(self, resource: str, bundle: bytes, passwords: dict[str, str]) -> None:
        """POST /api/v1/<resource>/import/ (overwrite); passwords by database file in the bundle."""
        self.request(
            "POST",
            f"/api/v1/{resource}/import/",
            files={"formData": ("bundle.zip", bundle, "application/zip")},
            data={"overwrite": "true", "passwords": json.dumps(passwords)},
        )

    def export_dashboards(self, ids: list[int]) -> bytes:
        return self.request(
            "GET", "/api/v1/dashboard/export/", params={"q": f"!({','.join(map(str, ids))})"}
        ).content


def wait_until_up(url: str, timeout: float = 120.0, path: str = "/health") -> None:
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{url.rstrip('/')}{path}", timeout=5).status_code == 200:
                return
        except requests.RequestException as error:
            last = str(error)
        time.sleep(0.5)
    raise SupersetError(f"{url} did not answer {path} in {timeout}s {last}")


# --- the bundle -----------------------------------------------------------------------------


def with_password(uri: str, password: str | None) -> str:
    """The URI with its password replaced; None puts the mask, which tells Superset's importer
    to take the password from the `passwords` form field (or keep the stored one). A URI
    without a user (the in-process `clickhousedb:///scores?interface=chdb&path=...`) takes no
    password."""
    parts = urlsplit(uri)
    user, _, host = parts.netloc.rpartition("@")
    name = user.split(":", 1)[0]
    if not name:
        if password:
            raise SupersetError(f"no user in {uri!r} to give the password to")
        return uri
    secret = PASSWORD_MASK if password is None else quote(password, safe="")
    return urlunsplit(parts._replace(netloc=f"{name}:{secret}@{host}"))


def bundle_files(directory: Path) -> Iterator[tuple[str, Path]]:
    for path in sorted(directory.rglob("*.yaml")):
        yield path.relative_to(directory).as_posix(), path


def database_files(directory: Path) -> list[str]:
    return [name for name, _ in bundle_files(directory) if name.startswith("databases/")]


def bundle_contents(
    directory: Path = DEFAULT_BUNDLE,
    *,
    uri: str | None = None,
    password: str | None = None,
    kind: str = "Dashboard",
) -> dict[str, str]:
    """The bundle's files by path, as an importer of `kind` (metadata.yaml's type) reads them.
    uri replaces each database's sqlalchemy_uri; password goes into it (else the mask, for the
    REST import's `passwords` form field)."""
    contents: dict[str, str] = {}
    for name, path in bundle_files(directory):
        text = path.read_text()
        if name == "metadata.yaml":
            metadata = yaml.safe_load(text)
            metadata["type"] = kind
            text = yaml.safe_dump(metadata, sort_keys=False)
        elif name.startswith("databases/") and (uri or password is not None):
            # Always a password or the mask: the importer sets the stored password from the
            # URI, so a URI without one would erase it when overwriting.
            config = yaml.safe_load(text)
            config["sqlalchemy_uri"] = with_password(uri or config["sqlalchemy_uri"], password)
            text = yaml.safe_dump(config, sort_keys=False)
        contents[name] = text
    return contents


def zip_bundle(
    directory: Path = DEFAULT_BUNDLE,
    *,
    uri: str | None = None,
    password: str | None = None,
    kind: str = "Dashboard",
) -> bytes:
    """The bundle directory as a zip that Superset imports (see bundle_contents)."""
    buffer = io.BytesIO()
    root = directory.name
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in bundle_contents(directory, uri=uri, password=password, kind=kind).items():
            archive.writestr(f"{root}/{name}", text)
    return buffer.getvalue()


def import_bundle(
    client: Superset, directory: Path = DEFAULT_BUNDLE, *, password: str, uri: str | None = None
) -> None:
    """Import the bundle through the REST API, overwriting (module docstring), the database
    password given as Superset asks."""
    passwords = {name: password for name in database_files(directory)}
    for resource, kind in IMPORT_KINDS:
        client.import_bundle(resource, zip_bundle(directory, uri=uri, kind=kind), passwords)


def import_local(
    directory: Path = DEFAULT_BUNDLE, *, username: str, password: str, uri: str | None = None
) -> None:
    """Import the bundle straight into Superset's metadata database (no server), overwriting
    (module docstring), as `username`. One transaction per kind, like the REST import."""
    from flask import g
    from superset.app import create_app

    with create_app().app_context():
        # Superset's models can only be imported once the app exists
        from superset import security_manager
        from superset.commands.chart.importers.v1 import ImportChartsCommand
        from superset.commands.dashboard.importers.v1 import ImportDashboardsCommand
        from superset.commands.database.importers.v1 import ImportDatabasesCommand
        from superset.commands.dataset.importers.v1 import ImportDatasetsCommand

        commands = {
            "Database": ImportDatabasesCommand,
            "SqlaTable": ImportDatasetsCommand,
            "Slice": ImportChartsCommand,
            "Dashboard": ImportDashboardsCommand,
        }
        user = security_manager.find_user(username=username)
        if user is None:
            raise SupersetError(f"no Superset user {username!r} (run `scripts/superset.sh init`)")
        g.user = user
        for _, kind in IMPORT_KINDS:
            contents = bundle_contents(directory, uri=uri, password=password, kind=kind)
            commands[kind](contents, overwrite=True).run()


# --- cleaning an export ---------------------------------------------------------------------


class _BundleDumper(yaml.SafeDumper):  # type: ignore[misc, unused-ignore]
    """Multi-line strings (the charts' query_context JSON) as readable literal blocks."""


def _represent_str(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    style = "|" if "\n" in text else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_BundleDumper.add_representer(str, _represent_str)


def _safe_name(text: str) -> str:
    return re.sub(r"[^\w.-]+", "_", text).strip("_")


def _canonical_uri(uri: str) -> str:
    """A local endpoint's URI on its default port, password masked; any other URI as it is
    (password masked)."""
    parts = urlsplit(uri)
    if not parts.hostname:
        return uri  # e.g. the in-process clickhousedb://?interface=chdb&path=...
    host = parts.hostname
    port = f":{parts.port}" if parts.port else ""
    if host in ("127.0.0.1", "localhost"):
        host, port = CANONICAL_NETLOC.split(":")[0], ":" + CANONICAL_NETLOC.split(":")[1]
    credentials = f"{parts.username}:{PASSWORD_MASK}@" if parts.username else ""
    return urlunsplit(parts._replace(netloc=f"{credentials}{host}{port}"))


def _chart_order(position: dict[str, Any], root: str = "ROOT_ID") -> list[int]:
    """Chart ids in layout order (depth first from root)."""
    order: list[int] = []

    def visit(key: str) -> None:
        node = position.get(key)
        if not isinstance(node, dict):
            return
        if node.get("type") == "CHART" and "chartId" in node.get("meta", {}):
            order.append(int(node["meta"]["chartId"]))
        for child in node.get("children", []):
            visit(child)

    visit(root)
    return order


def _charts_in_scope(
    position: dict[str, Any], scope: dict[str, Any], *, without: int | None = None
) -> list[int]:
    """The charts a filter scope covers: those under its root paths, less the excluded ones."""
    charts = {
        chart for root in scope.get("rootPath") or ["ROOT_ID"] for chart in _chart_order(position, root)
    }
    return sorted(charts - set(scope.get("excluded") or []) - {without})


def _renumber_dashboard(config: dict[str, Any]) -> None:
    """Chart ids 1..n in layout order everywhere the dashboard names them, so that an export
    from any Superset gives the same file (the importer maps them to its own ids).

    `chartsInScope` lists are computed again from the layout and the scopes: Superset's importer
    maps the ids in `scope.excluded` but leaves `chartsInScope` as it was in the bundle (its
    frontend computes them again when it loads a dashboard), so the stored lists are not ids of
    that Superset."""
    position = config.get("position") or {}
    id_map = {old: new for new, old in enumerate(_chart_order(position), start=1)}

    def renumber(ids: list[Any]) -> list[int]:
        return [id_map.get(int(old), int(old)) for old in ids]

    for node in position.values():
        if isinstance(node, dict) and node.get("type") == "CHART" and "chartId" in node.get("meta", {}):
            node["meta"]["chartId"] = id_map.get(int(node["meta"]["chartId"]), node["meta"]["chartId"])
    metadata = config.get("metadata") or {}
    for item in metadata.get("native_filter_configuration", []):
        scope = item.get("scope") or {}
        if "excluded" in scope:
            scope["excluded"] = renumber(scope["excluded"])
        if "chartsInScope" in item:
            item["chartsInScope"] = _charts_in_scope(position, scope)
    global_config = metadata.get("global_chart_configuration") or {}
    if "excluded" in global_config.get("scope", {}):
        global_config["scope"]["excluded"] = renumber(global_config["scope"]["excluded"])
    if "chartsInScope" in global_config:
        global_config["chartsInScope"] = _charts_in_scope(position, global_config.get("scope") or {})
    if metadata.get("chart_configuration"):
        renumbered: dict[str, Any] = {}
        for key, value in metadata["chart_configuration"].items():
            new = id_map.get(int(key), int(key))
            value["id"] = new
            scope = value.get("crossFilters", {}).get("scope")
            if isinstance(scope, dict) and "excluded" in scope:
                scope["excluded"] = renumber(scope["excluded"])
            if "chartsInScope" in value.get("crossFilters", {}):
                value["crossFilters"]["chartsInScope"] = _charts_in_scope(
                    position, scope if isinstance(scope, dict) else {}, without=new
                )
            renumbered[str(new)] = value
        metadata["chart_configuration"] = dict(sorted(renumbered.items(), key=lambda item: int(item[0])))
    for key in ("expanded_slices",):
        if metadata.get(key):
            metadata[key] = {str(id_map.get(int(k), int(k))): v for k, v in metadata[key].items()}
    if metadata.get("timed_refresh_immune_slices"):
        metadata["timed_refresh_immune_slices"] = renumber(metadata["timed_refresh_immune_slices"])


def _clean_chart(config: dict[str, Any]) -> None:
    params = config.get("params") or {}
    params.pop("slice_id", None)
    params["datasource"] = "0__table"  # the importer sets the imported dataset's id
    if config.get("query_context"):
        context = json.loads(config["query_context"])
        context["datasource"] = {"id": 0, "type": "table"}
        context.get("form_data", {}).pop("slice_id", None)
        if "form_data" in context:
            context["form_data"]["datasource"] = "0__table"
        for query in context.get("queries", []):
            query.pop("datasource", None)
        config["query_context"] = json.dumps(context, sort_keys=True, indent=2)


def clean_export(bundle: bytes, destination: Path) -> list[str]:
    """Write an exported zip as the repository keeps it: no export timestamp, file names
    without database ids, database URI pointing at the default endpoint with the password
    masked, dataset columns and metrics sorted, chart ids renumbered. Returns the files."""
    files: dict[str, str] = {}
    with zipfile.ZipFile(io.BytesIO(bundle)) as archive:
        for member in archive.namelist():
            if not member.endswith(".yaml"):
                continue
            relative = PurePosixPath(*PurePosixPath(member).parts[1:])
            config = yaml.safe_load(archive.read(member))
            kind = relative.parts[0]
            if kind == "metadata.yaml":
                config.pop("timestamp", None)
            elif kind == "databases":
                config["sqlalchemy_uri"] = _canonical_uri(config["sqlalchemy_uri"])
                relative = relative.with_name(_safe_name(config["database_name"]) + ".yaml")
            elif kind == "datasets":
                config["columns"] = sorted(config.get("columns") or [], key=lambda c: c["column_name"])
                config["metrics"] = sorted(config.get("metrics") or [], key=lambda m: m["metric_name"])
                relative = relative.with_name(_safe_name(config["table_name"]) + ".yaml")
            elif kind == "charts":
                _clean_chart(config)
                relative = relative.with_name(_safe_name(config["slice_name"]) + ".yaml")
            elif kind == "dashboards":
                _renumber_dashboard(config)
                relative = relative.with_name(_safe_name(config["dashboard_title"]) + ".yaml")
            files[relative.as_posix()] = yaml.dump(
                config, Dumper=_BundleDumper, sort_keys=False, allow_unicode=True, width=100
            )
    if destination.exists():
        shutil.rmtree(destination)
    for name, text in files.items():
        path = destination / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return sorted(files)


# --- metadata -------------------------------------------------------------------------------


def init_metadata(username: str, password: str) -> None:
    """`superset db upgrade`, `superset fab create-admin` and `superset init` in one process
    (each CLI call would start Superset again: about three times slower)."""
    from superset.cli.main import superset

    commands = [
        ["db", "upgrade"],
        [
            "fab",
            "create-admin",
            "--username",
            username,
            "--firstname",
            "Superset",
            "--lastname",
            "Admin",
            "--email",
            f"{username}@localhost",
            "--password",
            password,
        ],
        ["init"],
    ]
    for command in commands:
        try:
            superset.main(command, prog_name="superset", standalone_mode=False)
        except SystemExit as exit_:
            if exit_.code:
                raise SupersetError(f"superset {' '.join(command[:2])} failed ({exit_.code})") from exit_


# --- command line ---------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)

    def connection(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--url", default=os.environ.get("SUPERSET_URL", "http://127.0.0.1:8088"))
        sub.add_argument("--username", default=os.environ.get("SCORES_SUPERSET_ADMIN_USER", "admin"))
        sub.add_argument("--user-password", default=os.environ.get("SCORES_SUPERSET_ADMIN_PASSWORD", "admin"))

    init = commands.add_parser("init", help="create or upgrade Superset's metadata and its admin user")
    init.add_argument("--username", default=os.environ.get("SCORES_SUPERSET_ADMIN_USER", "admin"))
    init.add_argument("--user-password", default=os.environ.get("SCORES_SUPERSET_ADMIN_PASSWORD", "admin"))

    local = commands.add_parser(
        "import-local", help="import the bundle into Superset's metadata database (no server needed)"
    )
    local.add_argument("--username", default=os.environ.get("SCORES_SUPERSET_ADMIN_USER", "admin"))
    local.add_argument("--bundle", type=Path, default=DEFAULT_BUNDLE)
    local.add_argument("--password", default=os.environ.get("SCORES_SUPERSET_DB_PASSWORD"))
    local.add_argument("--uri", default=os.environ.get("SCORES_SUPERSET_DB_URI"))

    zip_ = commands.add_parser("zip", help="the bundle as a zip (for Superset's UI), password filled in")
    zip_.add_argument("out", type=Path)
    zip_.add_argument("--bundle", type=Path, default=DEFAULT_BUNDLE)
    zip_.add_argument("--password", default=os.environ.get("SCORES_SUPERSET_DB_PASSWORD"))
    zip_.add_argument("--uri", default=os.environ.get("SCORES_SUPERSET_DB_URI"))

    import_ = commands.add_parser("import", help="import the bundle through a running Superset's REST API")
    connection(import_)
    import_.add_argument("--bundle", type=Path, default=DEFAULT_BUNDLE)
    import_.add_argument("--password", default=os.environ.get("SCORES_SUPERSET_DB_PASSWORD"))
    import_.add_argument("--uri", default=os.environ.get("SCORES_SUPERSET_DB_URI"))

    roster = commands.add_parser(
        "roster", help="logins and row-level security for the staff roster (superset_roster.py)"
    )
    connection(roster)
    roster.add_argument("--roster", type=Path, required=True, help="`scores roster show --json` output")
    roster.add_argument(
        "--passwords", type=Path, required=True, help="JSON user -> password for new Superset logins"
    )
    roster.add_argument("--database", default="Student scores (ClickHouse)", help="Superset database name")

    export = commands.add_parser(
        "export", help="export a dashboard from a running Superset into the repository"
    )
    connection(export)
    export.add_argument("--dashboard", default="student-scores", help="slug or id")
    export.add_argument("--out", type=Path, default=DEFAULT_BUNDLE)

    args = parser.parse_args(argv)
    if args.command == "init":
        init_metadata(args.username, args.user_password)
    elif args.command == "import-local":
        if args.password is None:
            parser.error("the database password is needed: --password or SCORES_SUPERSET_DB_PASSWORD")
        import_local(args.bundle, username=args.username, password=args.password, uri=args.uri)
        print(f"imported {args.bundle}", file=sys.stderr)
    elif args.command == "zip":
        if args.password is None:
            parser.error("the database password is needed: --password or SCORES_SUPERSET_DB_PASSWORD")
        args.out.write_bytes(zip_bundle(args.bundle, uri=args.uri, password=args.password))
    elif args.command == "import":
        if args.password is None:
            parser.error("the database password is needed: --password or SCORES_SUPERSET_DB_PASSWORD")
        client = Superset(args.url, args.username, args.user_password)
        import_bundle(client, args.bundle, password=args.password, uri=args.uri)
        print(f"imported {args.bundle} into {args.url}", file=sys.stderr)
    elif args.command == "roster":
        from superset_roster import read_json, sync_roster

        client = Superset(args.url, args.username, args.user_password)
        entries = read_json(args.roster)
        sync_roster(client, entries, read_json(args.passwords), args.database)
        print(f"roster of {len(entries)} users synced into {args.url}", file=sys.stderr)
    elif args.command == "export":
        client = Superset(args.url, args.username, args.user_password)
        written = clean_export(client.export_dashboards([client.dashboard_id(args.dashboard)]), args.out)
        print(f"{args.out}: {len(written)} files", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
