"""Run in a separate process by the cache tests: fetch one blob through the cache."""

from __future__ import annotations

import sys
from pathlib import Path

from mlenv_magics.cache import Cache
from mlenv_magics.transfer import RemoteFile, fetch_files, make_session


def main(root: str, url: str) -> None:
    entry = Cache(Path(root)).entry("test", "blob", "1")
    with entry.lock(timeout=60):
        if not entry.is_complete():
            with (
                entry.publish({"source": "test blob", "version": "1"}) as staging,
                make_session({}) as session,
            ):
                fetch_files(
                    session, [RemoteFile("f.bin", url=url)], staging, partial_dir=entry.partial_dir
                )
    print(entry.path)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
