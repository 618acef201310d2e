"""Names from archives and servers that become parts of local paths: what is refused.

A name may hold any character a filesystem accepts (``Results: 2024.csv`` is fine); refused are
only the forms that would leave the folder the name is joined to: an absolute path, ``..``, a
NUL, and a Windows drive letter (``C:``), which makes ``pathlib`` drop the folder on Windows.
"""

from __future__ import annotations

from .errors import ServerError


def has_drive_prefix(part: str) -> bool:
    """``C:...``: a Windows drive letter, which replaces the folder a path is joined to."""
    return len(part) >= 2 and part[1] == ":" and part[0].isascii() and part[0].isalpha()


def relative_path_problem(name: str, *, backslash_separates: bool = True) -> str | None:
    """Why ``name`` (a relative posix path) must not be joined to a folder, or None.

    With ``backslash_separates`` a backslash counts as a separator (how Windows reads it);
    without, a backslash is refused outright.
    """
    if not name:
        return "is empty"
    if "\x00" in name:
        return "contains a NUL character"
    if "\\" in name and not backslash_separates:
        return "contains a backslash"
    normalized = name.replace("\\", "/")
    if normalized.startswith("/"):
        return "is an absolute path"
    parts = normalized.split("/")
    if ".." in parts:
        return "climbs out of the folder with '..'"
    if any(has_drive_prefix(part) for part in parts):
        return "starts with a drive letter"
    return None


def checked_mount_name(name: object, what: str) -> str:
    """A mount name a notebook host answered, checked before it is joined to the input root.

    Slashes between plain parts are allowed (Kaggle mounts models as ``model/framework/...``);
    an absolute path, ``..``, ``.``, empty parts, a backslash or a drive letter are not.
    """
    text = name if isinstance(name, str) else ""
    problem = relative_path_problem(text, backslash_separates=False)
    if problem is None and any(part in ("", ".") for part in text.split("/")):
        problem = "has an empty or '.' part"
    if problem is not None:
        shown = text if len(text) <= 80 else text[:77] + "..."
        raise ServerError(
            f"{what} answered the mount name {shown!r}, which {problem}; refusing to use it.",
            fix="Add the data from the notebook's Input panel instead, and report this.",
        )
    return text
