"""Hostile archives, built the way an attacker would build them."""

from __future__ import annotations

import io
import zipfile

LINK_MODE = 0o120777 << 16
FILE_MODE = 0o100644 << 16


def zip_of(entries: list[tuple[str, bytes, bool]]) -> bytes:
    """A zip of (name, data, is_symlink); a symlink entry's data is its target."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data, is_link in entries:
            info = zipfile.ZipInfo(name, date_time=(2025, 1, 1, 0, 0, 0))
            info.external_attr = LINK_MODE if is_link else FILE_MODE
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return buffer.getvalue()


def chained_links(secret_path: str) -> bytes:
    """Two links, each inside the folder when read alone: ``d0/.../d39/l`` climbs to the root,
    and ``creds`` goes through it and climbs 40 more levels, to ``/`` + ``secret_path``."""
    deep = "/".join(f"d{i}" for i in range(40))
    return zip_of(
        [
            ("train.csv", b"a,b\n1,2\n", False),
            (f"{deep}/l", b"../" * 40, True),
            ("creds", (f"{deep}/l/" + "../" * 40 + secret_path.lstrip("/")).encode(), True),
        ]
    )


def reachable_from(error: BaseException) -> list[BaseException]:
    """``error`` and every exception chained to it (``__cause__``, ``__context__``)."""
    found: list[BaseException] = []
    pending: list[BaseException | None] = [error]
    while pending:
        item = pending.pop()
        if item is None or any(item is seen for seen in found):
            continue
        found.append(item)
        pending += [item.__cause__, item.__context__]
    return found


def texts_reachable_from(error: BaseException) -> str:
    """What the chained exceptions can show: messages, reprs, args, and the request and
    response ``requests`` keeps on them (URL and headers)."""
    parts: list[str] = []
    for item in reachable_from(error):
        parts += [str(item), repr(item), repr(item.args)]
        for name in ("request", "response"):
            attached = getattr(item, name, None)
            if attached is not None:
                parts += [str(getattr(attached, "url", "")), repr(getattr(attached, "headers", ""))]
    return "\n".join(parts)
