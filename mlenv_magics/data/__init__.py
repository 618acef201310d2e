"""Data sources behind ``%mlenv_add_data``: Kaggle datasets and competitions, Google Drive.

``acquire()`` parses the source, picks the source module and returns a
:class:`DataResult`. Sources say what to fetch and from where; the shared
transfer and cache layers (``mlenv_magics.transfer``, ``mlenv_magics.cache``)
do the fetching. Sources never print: progress goes through a ``ProgressSink``.
"""

from __future__ import annotations

from .model import AddDataOptions, DataResult

__all__ = ["AddDataOptions", "DataResult", "acquire"]


def acquire(source: str, options: AddDataOptions) -> DataResult:
    from .sources import DriveItem, parse_source

    parsed = parse_source(source)
    if isinstance(parsed, DriveItem):
        from .drive import acquire_drive

        return acquire_drive(parsed, options)
    from .kaggle import acquire_kaggle

    return acquire_kaggle(parsed, options)
