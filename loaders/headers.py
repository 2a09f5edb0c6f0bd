"""The columns a file names (CSV header, Parquet schema) checked against the contract."""

from collections import Counter

from loaders.file_errors import excerpt, name_list
from loaders.schema import INPUT_COLUMN_NAMES


def header_problem(names: list[str], delimiter: str, ignore_extra: bool, strip: bool = True) -> str | None:
    """What is wrong with a header (CSV) or schema (Parquet, ``strip=False``: a column name is
    matched exactly, as the readers select columns by it), or None.

    A header that names no contract column is not quoted: it may be any first line of a file that
    is not a score file at all."""
    cleaned = [n.strip() for n in names] if strip else list(names)
    present = set(cleaned)
    missing = [c for c in INPUT_COLUMN_NAMES if c not in present]
    extra = [c for c in cleaned if c not in INPUT_COLUMN_NAMES]
    duplicated = sorted(c for c, n in Counter(cleaned).items() if n > 1)
    if len(cleaned) == 1 and missing:
        for candidate, label in ((";", "semicolon"), ("\t", "tab"), ("|", "pipe"), (",", "comma")):
            if candidate != delimiter and candidate in names[0]:
                return (
                    f"the header has one column; the file looks {label}-delimited "
                    f"(pass --delimiter {candidate!r}); expected columns: {', '.join(INPUT_COLUMN_NAMES)}"
                )
    if not any(c in INPUT_COLUMN_NAMES for c in cleaned):
        spaced = sum(1 for c in cleaned if c != c.strip() and c.strip() in INPUT_COLUMN_NAMES)
        if not spaced:
            found = (
                f"the first line has {len(cleaned)} field(s)" if strip else f"it has {len(cleaned)} column(s)"
            )
            return (
                f"wrong or missing header: {found}, none of them a column of the contract; "
                f"expected a header row with: {', '.join(INPUT_COLUMN_NAMES)}"
            )
    if duplicated:
        return f"the header repeats columns: {name_list(duplicated)}"
    if missing:
        spaced_names = [excerpt(c) for c in cleaned if c != c.strip() and c.strip() in missing]
        if spaced_names:
            return (
                f"column names have surrounding spaces: {', '.join(spaced_names[:10])}; "
                "rename them to the contract's names"
            )
        return f"the header lacks columns: {', '.join(missing)}"
    if extra and not ignore_extra:
        return (
            f"the header has unexpected columns: {name_list(extra)} "
            "(pass --ignore-extra-columns to load the file without them)"
        )
    return None
