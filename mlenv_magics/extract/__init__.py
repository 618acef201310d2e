"""Extracting an archive while it downloads: time to data close to the transfer time.

:func:`fetch_and_extract` is what a source calls for an archive: it downloads the archive
(``transfer.fetch_files``, which reports every span it writes to a :class:`Coverage`) and
extracts it at the same time on a worker thread, reading through a :class:`CoveredFile` that
waits for the bytes it needs. Zips are extracted from their central directory (the transfer
fetches the last chunk first), tars as they stream (``zip_stream.py``, ``tar_stream.py``);
both use the validation rules of :mod:`mlenv_magics.archives`. Nothing is left for the caller
to publish unless the whole file's hash and every entry's CRC-32 checked out.
"""

from __future__ import annotations

from .coverage import Coverage, DownloadRestarted, DownloadStopped
from .covered_file import CoveredFile
from .pipeline import ArchiveFetch, fetch_and_extract, keep_archive_path
from .streaming import extract_streaming, kind_from_name, streamed_kind

__all__ = [
    "ArchiveFetch",
    "Coverage",
    "CoveredFile",
    "DownloadRestarted",
    "DownloadStopped",
    "extract_streaming",
    "fetch_and_extract",
    "keep_archive_path",
    "kind_from_name",
    "streamed_kind",
]
