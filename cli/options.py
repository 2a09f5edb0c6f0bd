"""Options shared by the commands of ``scores``, and the parsing of option values."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def number(name: str, default: int, minimum: int, help: str | None = None) -> Callable[[F], F]:
    """An option taking a whole number of at least ``minimum``, its default shown."""
    return click.option(name, type=click.IntRange(min=minimum), default=default, show_default=True, help=help)


def query_timeout(role: str, user: str, default: int) -> Callable[[F], F]:
    return number(
        f"--{role}-timeout", default, 1, f"Longest query of a {user} user, in seconds (they cannot raise it)."
    )


def force(help: str) -> Callable[[F], F]:
    return click.option("--force", is_flag=True, help=help)


quiet = click.option("--quiet", "-q", is_flag=True, help="No progress bar.")


def school_years(value: str) -> tuple[int, ...]:
    try:
        years = tuple(int(v) for v in value.split(",") if v.strip())
    except ValueError:
        raise click.BadParameter("school years are numbers, e.g. 2024,2025,2026") from None
    if not years:
        raise click.BadParameter("give at least one school year")
    return years
