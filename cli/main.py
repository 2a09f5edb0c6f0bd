"""`scores`: land student scores in the warehouse and look at what is there.

Exit codes: 0 success; 1 error (nothing of the failed source was kept); 2 usage error;
3 loaded, but some rows were rejected to the quarantine.
"""

from __future__ import annotations

import contextlib
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import click
from clickhouse_connect.driver.client import Client

from cli import options
from loaders.config import Settings

EXIT_REJECTED_ROWS = 3


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except ValueError as ex:
        raise click.UsageError(str(ex)) from None


def _connect(settings: Settings) -> Client:
    from engine.embedded import WarehouseBusyError, WarehouseOpenError

    try:
        return settings.connect()
    except (WarehouseBusyError, WarehouseOpenError) as ex:
        raise click.ClickException(str(ex)) from None
    except Exception as ex:
        raise click.ClickException(f"cannot open the warehouse ({settings.describe()}): {ex}") from None


def _open() -> tuple[Settings, Client]:
    """The warehouse's settings and a client of it."""
    settings = _settings()
    return settings, _connect(settings)


@contextlib.contextmanager
def _reported(*errors: type[Exception]) -> Iterator[None]:
    """Errors the user can act on: their message, exit code 1, no traceback."""
    try:
        yield
    except errors as ex:
        raise click.ClickException(str(ex)) from None


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
def cli() -> None:
    """Land student test scores in the ClickHouse warehouse (embedded chDB by default).

    The warehouse is chosen by environment variables (same as the dbt profile):
    SCORES_TARGET=dev|server, SCORES_CHDB_PATH, SCORES_RAW_DATABASE, CLICKHOUSE_HOST, ...
    """


@cli.command()
@options.number("--rows", 100_000, 1, "Rows to generate.")
@click.option("--seed", type=int, default=42, show_default=True, help="Random seed (same seed, same rows).")
@options.number(
    "--skip",
    0,
    0,
    "Leave out the first SKIP rows (--rows 1010000 --skip 1000000: the 10,000 rows after a 1M load).",
)
@click.option(
    "--school-years",
    "years",
    default="2024,2025,2026",
    show_default=True,
    help="Comma-separated school years (named by the year they end in).",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write a file (.csv, .parquet, .jsonl, optionally .gz) instead of loading.",
)
@options.number("--batch-rows", 500_000, 1000, "Rows per batch (bounds memory).")
@options.force("Load even if the same generated data was loaded before.")
@options.quiet
def generate(
    rows: int, seed: int, skip: int, years: str, out: Path | None, batch_rows: int, force: bool, quiet: bool
) -> None:
    """Generate realistic synthetic scores and load them (or write them to a file)."""
    from loaders.generator import GeneratorSpec
    from loaders.generator import generate as generate_batches

    if skip >= rows:
        raise click.BadParameter("--skip must be less than --rows", param_hint="--skip")
    spec = GeneratorSpec(rows=rows, seed=seed, school_years=options.school_years(years), skip=skip)
    if out is not None:
        from loaders.writers import write_batches

        written = write_batches(generate_batches(spec, batch_rows), out)
        click.echo(f"wrote {written:,} rows to {out}")
        return
    from loaders.load import LoadOptions, load_generated, open_landing
    from loaders.progress import LoadProgress

    settings, client = _open()
    landing = open_landing(client, settings)
    with LoadProgress(enabled=not quiet) as progress:
        result = load_generated(landing, spec, progress, LoadOptions(force=force), batch_rows)
    _report_results([result], settings)


@cli.command()
@click.argument("paths", nargs=-1, required=True)
@click.option(
    "--format",
    "file_format",
    type=click.Choice(["csv", "parquet", "jsonl"]),
    help="File format, when the file name does not say.",
)
@click.option("--delimiter", default=",", show_default=True, help="CSV field delimiter.")
@click.option(
    "--ignore-extra-columns", is_flag=True, help="Load files that have columns beyond the contract."
)
@options.force("Load files even if their exact content was loaded before.")
@options.quiet
def load(
    paths: tuple[str, ...],
    file_format: str | None,
    delimiter: str,
    ignore_extra_columns: bool,
    force: bool,
    quiet: bool,
) -> None:
    """Load score files: paths, globs or folders of .csv / .parquet / .jsonl (optionally .gz).

    Each file is one batch: all of its valid rows land and its invalid rows go to the quarantine,
    or (if the file itself is unusable) nothing of it is kept. Loading the same file again changes
    nothing. Exit code 3 means some rows were quarantined.
    """
    from loaders.discovery import discover
    from loaders.file_errors import FileError
    from loaders.load import LoadOptions, LoadResult, load_files, open_landing
    from loaders.progress import LoadProgress

    if len(delimiter) != 1:
        raise click.BadParameter("the delimiter is one character", param_hint="--delimiter")
    with _reported(FileError):
        sources = discover(list(paths), file_format)
    settings, client = _open()
    landing = open_landing(client, settings)
    load_options = LoadOptions(
        delimiter=delimiter,
        ignore_extra_columns=ignore_extra_columns,
        force=force,
        gzip_max_ratio=settings.gzip_max_ratio,
    )
    results: list[LoadResult] = []
    try:
        with LoadProgress(enabled=not quiet) as progress:
            results.extend(load_files(landing, sources, load_options, progress))
    except KeyboardInterrupt:
        _report_results(results, settings, interrupted=len(sources) - len(results))
    _report_results(results, settings)


def _report_results(results: list, settings: Settings, interrupted: int = 0) -> None:  # type: ignore[type-arg]
    """Every source's outcome, then one summary line; exits 1 if a source failed (or the load was
    interrupted), 3 if rows are in the quarantine: of this load, or of the earlier load of a file
    skipped now."""
    from loaders.outcomes import outcome_lines

    for line in outcome_lines(results, settings.raw_database, interrupted):
        prefix = click.style("error: ", fg="red", bold=True) if line.failure else ""
        click.echo(prefix + line.text, err=line.to_stderr)
    if interrupted:
        sys.exit(130)
    if any(r.status == "failed" for r in results):
        sys.exit(1)
    if any(r.rows_quarantined or r.earlier_quarantined for r in results):
        sys.exit(EXIT_REJECTED_ROWS)


@cli.command()
@click.argument("sql")
@click.option(
    "--format",
    "output_format",
    default="PrettyCompactMonoBlock",
    show_default=True,
    help="ClickHouse output format, e.g. CSVWithNames, JSONEachRow.",
)
def query(sql: str, output_format: str) -> None:
    """Run one SQL statement on the warehouse and print the result."""
    client = _connect(_settings())
    try:
        result = client.raw_query(sql, fmt=output_format)
    except Exception as ex:
        raise click.ClickException(str(ex).strip().splitlines()[0]) from None
    sys.stdout.write(result.decode(errors="replace"))


@cli.command()
def status() -> None:
    """Tables (rows, size on disk, compression), loads and how far behind the models are."""
    from loaders.status import render_status

    settings, client = _open()
    click.echo(render_status(client, settings))


@cli.command()
@click.option("--school-year", type=int, help="School year (default: the latest).")
@options.number("--limit", 15, 1)
def report(school_year: int | None, limit: int) -> None:
    """Print a classroom report from the marts (run dbt build first)."""
    from loaders.report import classroom_report

    settings, client = _open()
    with _reported(LookupError):
        click.echo(classroom_report(client, settings.database, school_year, limit))


@cli.command()
@click.option(
    "--host", default="127.0.0.1", show_default=True, help="Address to listen on (0.0.0.0: every interface)."
)
@click.option("--port", type=int, default=8123, show_default=True)
@options.number(
    "--max-request-mb",
    1024,
    1,
    "Largest request body of a read-write user (INSERT data), after decompression.",
)
@click.option(
    "--allowed-host",
    "allowed_hosts",
    multiple=True,
    help="A host name clients use to reach the endpoint (Host header); addresses and localhost always work.",
)
@click.option(
    "--user-files",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="Directory whose files read-write users may read with file() (none by default).",
)
@options.query_timeout("reader", "read-only", 60)
@options.query_timeout("writer", "read-write", 3600)
@click.option(
    "--api-port",
    type=click.IntRange(min=1, max=65535),
    help="Also serve the report API (JSON over HTTP, cached by build) on this port; off by default.",
)
@click.option(
    "--socket-timeout",
    type=click.FloatRange(min=0.5),
    default=30.0,
    show_default=True,
    help="Seconds a connection may stay silent (keep-alive, slow request bodies).",
)
def serve(
    host: str,
    port: int,
    max_request_mb: int,
    allowed_hosts: tuple[str, ...],
    user_files: Path | None,
    reader_timeout: int,
    writer_timeout: int,
    api_port: int | None,
    socket_timeout: float,
) -> None:
    """Serve the embedded warehouse over ClickHouse's HTTP interface (for BI tools, dbt, loaders).

    This process owns the data directory; everything else connects to http://HOST:PORT like to a
    ClickHouse server. Users: SCORES_SERVE_USERS="bi:pass:readonly,loader:pass:readwrite" or a
    users file (SCORES_SERVE_USERS_FILE); without either, a users file with random passwords is
    generated next to the data directory on first start. A development and small-team endpoint:
    in production use a ClickHouse server.
    """
    from endpoint.startup import ServeConfig, start
    from endpoint.users import UsersError
    from engine.embedded import WarehouseBusyError, WarehouseOpenError

    settings = _settings()
    if not settings.embedded:
        raise click.UsageError("serve shares the embedded warehouse; SCORES_TARGET=server needs no endpoint")
    config = ServeConfig(
        host, port, max_request_mb, allowed_hosts, user_files, reader_timeout, writer_timeout, socket_timeout
    )
    try:
        serving = start(settings, config)
    except (WarehouseBusyError, WarehouseOpenError, UsersError) as ex:
        raise click.ClickException(str(ex)) from None
    except (OSError, ValueError) as ex:
        raise click.ClickException(f"cannot serve on {host}:{port}: {ex}") from None
    server, users = serving.server, serving.users
    if serving.generated:
        click.echo(
            f"generated users (bi: readonly, loader: readwrite) with random passwords in {serving.users_file}"
        )
    names = ", ".join(users.names)
    click.echo(f"serving {settings.describe()} on http://{host}:{port} (users: {names}); Ctrl-C stops")
    api = None
    if api_port is not None:
        from api.run import cache_bytes, start_api

        try:
            api = start_api(
                server.endpoint, users, host, api_port, settings.build_state_database, cache_bytes()
            )
        except ValueError as ex:
            server.server_close()
            raise click.UsageError(str(ex)) from None
        click.echo(f"report API on http://{host}:{api_port}/v1 (OpenAPI: /openapi.json, docs: /docs)")

    def stop(*_: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)  # a service manager's stop closes the engine cleanly too
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        if api is not None:
            api.stop()
        server.server_close()


@cli.group()
def roster() -> None:
    """The staff roster: each user's role (teacher, principal, district, state, engineer) and scope.

    A roster file is CSV with the header user,role,scope: one row per user and teacher, school or
    district id it covers (state and engineer rows leave scope empty). `scores serve` users whose
    role is `roster` read with the role and scope the roster gives them.
    """


@roster.command("load")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
def roster_load(path: Path) -> None:
    """Replace the roster with PATH's (checked whole first: nothing of a bad file is applied)."""
    from loaders.roster import RosterError, load_file

    settings, client = _open()
    with _reported(RosterError):
        entries = load_file(client, settings.raw_database, path)
    roles = sorted({e.role for e in entries})
    counts = ", ".join(f"{sum(e.role == r for e in entries)} {r}" for r in roles)
    click.echo(f"roster from {path}: {len(entries)} users ({counts or 'none'})")


@roster.command("show")
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="JSON, with each user's row filter per published table (for BI tools: scripts/superset.sh roster).",
)
def roster_show(as_json: bool) -> None:
    """Print the roster (user, role, scope)."""
    import json

    from loaders.roles import REFERENCE_TABLES, SCOPED_OBJECTS
    from loaders.roster import as_json as roster_json
    from loaders.roster import read

    settings, client = _open()
    entries = read(client, settings.raw_database)
    if as_json:
        click.echo(json.dumps(roster_json(entries, [*SCOPED_OBJECTS, *REFERENCE_TABLES]), indent=2))
        return
    for entry in entries:
        click.echo(f"{entry.user}\t{entry.role}\t{','.join(entry.scope)}")


@roster.command("sql")
@click.option("--cluster", help="Render ON CLUSTER statements for this cluster.")
@click.option(
    "--users-file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    required=True,
    help="The scores serve users file: the roster users' password hashes.",
)
def roster_sql(cluster: str | None, users_file: Path) -> None:
    """Print the ClickHouse users, roles, grants and row policies that give a server the roster's access."""
    from endpoint.users import Users, UsersError
    from loaders.roster import RosterError, read, render_access_sql

    settings, client = _open()
    with _reported(RosterError, UsersError):
        hashes = Users.from_file(users_file).password_hashes()
        statements = render_access_sql(
            read(client, settings.raw_database), settings.database, settings.raw_database, hashes, cluster
        )
    for statement in statements:
        click.echo(statement + ";")


def main() -> None:
    cli(prog_name="scores")


if __name__ == "__main__":
    main()
