"""Mapping a broken archive's exceptions to ArchiveError, as :mod:`mlenv_magics.archives` does."""

from __future__ import annotations

import lzma
import tarfile
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .. import archives
from ..errors import ArchiveError, MlenvError


def corrupt_from(archive: Path, detail: object) -> ArchiveError:
    return archives.corrupt_error(archive, detail)


@contextmanager
def archive_errors(archive: Path) -> Iterator[None]:
    """Turn what a corrupt archive raises into ArchiveError; disk errors and Ctrl-C pass."""
    try:
        yield
    except MlenvError:
        raise
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        tarfile.TarError,
        EOFError,
        zlib.error,
        lzma.LZMAError,
        NotImplementedError,  # an unsupported zip compression method
    ) as exc:
        raise corrupt_from(archive, exc) from None
    except RuntimeError as exc:  # zipfile: an encrypted entry
        raise corrupt_from(archive, exc) from None
    except (OSError, ValueError) as exc:
        if isinstance(exc, OSError) and exc.errno is not None:
            raise  # a real filesystem error (disk full, permissions), not a bad archive
        raise corrupt_from(archive, exc) from None
