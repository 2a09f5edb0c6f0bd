"""Finding score files: paths, globs and folders, and each file's format from its name."""

import glob
from pathlib import Path

from loaders.file_errors import FileError
from loaders.sources import FileSource

# the formats a file may be given as (--format)
FORMATS = ("csv", "parquet", "jsonl")

_SUFFIXES = {
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
}


def format_of(path: Path, override: str | None = None) -> tuple[str, bool]:
    """(format, gzip-compressed) from the file name, e.g. scores.csv.gz -> ("csv", True)."""
    suffixes = [s.lower() for s in path.suffixes]
    compressed = bool(suffixes) and suffixes[-1] == ".gz"
    if compressed:
        suffixes = suffixes[:-1]
    if override:
        return override, compressed
    if suffixes and suffixes[-1] in _SUFFIXES:
        return _SUFFIXES[suffixes[-1]], compressed
    raise FileError(
        path, "unknown file type: use .csv, .parquet or .jsonl (optionally .gz), or pass --format"
    )


def discover(patterns: list[str], format_override: str | None = None) -> list[FileSource]:
    """Files named by paths, globs or folders (folders: every supported file inside, recursively).

    Entries that are not regular files (a FIFO, a device, a dangling link) are listed too when
    their names are those of score files: the loader then refuses each with a message, rather
    than leaving it out unsaid.
    """
    found: list[Path] = []
    for pattern in patterns:
        path = Path(pattern)
        if path.is_dir():
            children = sorted(p for p in path.rglob("*") if not p.is_dir() and not p.name.startswith("."))
            supported = [p for p in children if _supported(p) or format_override]
            if not supported:
                raise FileError(path, "folder contains no .csv, .parquet or .jsonl files")
            found.extend(supported)
        elif path.is_file():
            found.append(path)  # an existing file, even if its name has glob characters (br[a]ck.csv)
        elif any(ch in pattern for ch in "*?["):
            matches = sorted(Path(p) for p in glob.glob(pattern, recursive=True) if not Path(p).is_dir())
            if not matches:
                raise FileError(pattern, "no file matches this pattern")
            found.extend(matches)
        elif path.exists():
            found.append(path)  # not a regular file (a fifo, a device): the loader says why
        else:
            raise FileError(path, "no such file or folder")
    sources, seen = [], set()
    for p in found:
        resolved = p.resolve()
        if resolved in seen:
            continue
        seen.add(resolved)
        fmt, compressed = format_of(p, format_override)
        sources.append(FileSource(p, fmt, compressed))
    return sources


def _supported(path: Path) -> bool:
    try:
        format_of(path)
    except FileError:
        return False
    return True
