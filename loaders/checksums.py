"""The checksum of a file's bytes: what makes loading the same content twice change nothing."""

import hashlib

from loaders.sources import FileSource, open_error, open_source


def checksum(source: FileSource) -> tuple[str, int]:
    """sha256 and size of the file's bytes; raises FileError when it cannot be read."""
    digest = hashlib.sha256()
    size = 0
    with open_source(source) as handle:
        try:
            while chunk := handle.read(8 << 20):
                digest.update(chunk)
                size += len(chunk)
        except OSError as ex:
            raise open_error(source.path, ex) from None
    return digest.hexdigest(), size
