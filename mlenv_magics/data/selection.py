"""``--file``: which files of a source to keep, with the same rules for every source.

A pattern matches a file by its exact path, by a glob on the path, by a glob on the base name
when the pattern has no ``/``, or as a folder (``sub`` or ``sub/`` selects everything below
``sub``). Every pattern must match something.
"""

from __future__ import annotations

import fnmatch
import hashlib
from collections.abc import Sequence
from pathlib import PurePosixPath

from ..errors import NotFoundError

SHOWN_NAMES = 20  # files listed when a pattern matches nothing


def clean_patterns(patterns: Sequence[str]) -> tuple[str, ...]:
    """The patterns as they are matched: stripped, without a leading ``/`` or ``./``."""
    cleaned = (p.strip().lstrip("/").removeprefix("./") for p in patterns)
    return tuple(dict.fromkeys(p for p in cleaned if p))


def matches(name: str, pattern: str) -> bool:
    """A name matches its exact path, a glob on the path or on the base name, or a folder."""
    if name == pattern or fnmatch.fnmatchcase(name, pattern):
        return True
    if "/" not in pattern and fnmatch.fnmatchcase(PurePosixPath(name).name, pattern):
        return True
    folder = pattern.rstrip("/")
    return bool(folder) and name.startswith(folder + "/")


def select(
    names: Sequence[str], patterns: Sequence[str], what: str, web_url: str | None
) -> list[str]:
    """The names matching any pattern; NotFoundError naming the patterns that match nothing."""
    chosen = [n for n in names if any(matches(n, p) for p in patterns)]
    unmatched = [p for p in patterns if not any(matches(n, p) for n in names)]
    if unmatched:
        listing = ", ".join(names[:SHOWN_NAMES]) + (" ..." if len(names) > SHOWN_NAMES else "")
        see = f" - or see {web_url}" if web_url else ""
        raise NotFoundError(
            f"No file in {what} matches {', '.join(repr(p) for p in unmatched)}.",
            fix=f"Pick from: {listing or '(no files)'}{see}",
        )
    return chosen


def selection_key(patterns: Sequence[str]) -> str:
    """A cache key part for a ``--file`` selection, so a subset never passes for the whole."""
    canonical = "\n".join(sorted(set(patterns)))
    return "files-" + hashlib.sha256(canonical.encode()).hexdigest()[:16]
