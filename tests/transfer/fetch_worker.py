"""Run in a separate process by the resume tests: fetch one URL into DEST, partials in PARTIAL."""

from __future__ import annotations

import sys
from pathlib import Path

from mlenv_magics.transfer import RemoteFile, TransferPolicy, fetch_files, make_session


def main(url: str, dest: str, partial: str, parallel_ranges: str) -> None:
    policy = TransferPolicy(parallel_ranges=int(parallel_ranges), range_threshold=100_000)
    with make_session({}) as session:
        fetch_files(
            session,
            [RemoteFile("f.bin", url=url)],
            Path(dest),
            partial_dir=Path(partial),
            policy=policy,
        )


if __name__ == "__main__":
    main(*sys.argv[1:5])
