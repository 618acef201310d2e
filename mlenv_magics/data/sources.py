"""Parse what the user typed after ``%mlenv_add_data`` into a typed source.

Accepted forms (see SPEC.md): ``owner/slug``, ``owner/slug/versions/N``, ``kaggle:owner/slug``,
Kaggle dataset and competition URLs, ``competition:slug``, ``drive:ID`` and Drive URLs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal
from urllib.parse import parse_qs, urlsplit

from ..errors import BadSourceError

KAGGLE_WEB = "https://www.kaggle.com"

_SLUG = r"[A-Za-z0-9][A-Za-z0-9_.\-]*"
_SLUG_RE = re.compile(rf"^{_SLUG}$")
_DATASET_RE = re.compile(rf"^(?P<owner>{_SLUG})/(?P<slug>{_SLUG})(?:/versions/(?P<version>\d+))?$")
_DRIVE_ID_RE = re.compile(r"^[A-Za-z0-9_\-]{10,}$")
_KAGGLE_HOSTS = {"kaggle.com", "www.kaggle.com"}
_DRIVE_HOSTS = {"drive.google.com", "docs.google.com"}

EXAMPLES = (
    "owner/slug, owner/slug/versions/N, kaggle:owner/slug, competition:NAME, drive:ID,"
    " or a pasted kaggle.com / drive.google.com URL"
)


@dataclass(frozen=True)
class KaggleDataset:
    owner: str
    slug: str
    version: int | None = None  # None: the latest (online) or newest cached (offline)

    @property
    def ref(self) -> str:
        return f"{self.owner}/{self.slug}"

    @property
    def web_url(self) -> str:
        suffix = f"/versions/{self.version}" if self.version is not None else ""
        return f"{KAGGLE_WEB}/datasets/{self.ref}{suffix}"

    @property
    def label(self) -> str:
        return f"kaggle dataset {self.ref}"


@dataclass(frozen=True)
class KaggleCompetition:
    slug: str

    @property
    def ref(self) -> str:
        return self.slug

    @property
    def web_url(self) -> str:
        return f"{KAGGLE_WEB}/competitions/{self.slug}"

    @property
    def rules_url(self) -> str:
        return f"{self.web_url}/rules"

    @property
    def label(self) -> str:
        return f"kaggle competition {self.slug}"


@dataclass(frozen=True)
class DriveItem:
    id: str
    kind_hint: Literal["file", "folder"] | None = None  # from the URL shape, when it says

    @property
    def label(self) -> str:
        return f"drive {self.kind_hint or 'item'} {self.id}"


Source = KaggleDataset | KaggleCompetition | DriveItem


def parse_source(text: str) -> Source:
    """Turn a SOURCE argument into a typed source; raise ``BadSourceError`` when it is none."""
    raw = text.strip().strip("'\"").strip()
    if not raw:
        raise _bad(text, "it is empty")
    lowered = raw.lower()
    if lowered.startswith(("http://", "https://")) or lowered.startswith(
        ("www.kaggle.com/", "kaggle.com/", "drive.google.com/")
    ):
        return _parse_url(raw if "://" in raw else "https://" + raw, text)
    if lowered.startswith("kaggle:"):
        return _parse_dataset(raw[len("kaggle:") :].strip("/"), text)
    if lowered.startswith(("competition:", "competitions:")):
        slug = raw.split(":", 1)[1].strip("/")
        return _competition(slug, text)
    if lowered.startswith("drive:"):
        return _drive(raw[len("drive:") :], None, text)
    return _parse_dataset(raw.strip("/"), text)


def _parse_dataset(path: str, original: str) -> KaggleDataset:
    match = _DATASET_RE.match(path)
    if not match or ".." in path:
        raise _bad(original, "a Kaggle dataset is written owner/slug or owner/slug/versions/N")
    version = match.group("version")
    return KaggleDataset(
        owner=match.group("owner"),
        slug=match.group("slug"),
        version=int(version) if version is not None else None,
    )


def _competition(slug: str, original: str) -> KaggleCompetition:
    if not _SLUG_RE.match(slug) or ".." in slug:
        raise _bad(original, "a competition is written competition:NAME")
    return KaggleCompetition(slug)


def _drive(file_id: str, kind: Literal["file", "folder"] | None, original: str) -> DriveItem:
    if not _DRIVE_ID_RE.match(file_id):
        raise _bad(original, "a Google Drive id is 10 or more letters, digits, '-' or '_'")
    return DriveItem(file_id, kind)


def _parse_url(url: str, original: str) -> Source:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    segments = [s for s in parts.path.split("/") if s]
    if host in _KAGGLE_HOSTS:
        if len(segments) >= 3 and segments[0] == "datasets":
            path = "/".join(segments[1:5] if segments[3:4] == ["versions"] else segments[1:3])
            return _parse_dataset(path, original)
        if len(segments) >= 2 and segments[0] in {"competitions", "c"}:
            return _competition(segments[1], original)
        raise _bad(original, "only kaggle.com/datasets/... and /competitions/... links work")
    if host in _DRIVE_HOSTS:
        query = parse_qs(parts.query)
        if "d" in segments:
            index = segments.index("d")
            if index + 1 < len(segments):
                return _drive(segments[index + 1], "file", original)
        if "folders" in segments:
            index = segments.index("folders")
            if index + 1 < len(segments):
                return _drive(segments[index + 1], "folder", original)
        if query.get("id"):
            return _drive(query["id"][0], None, original)
        raise _bad(original, "use a Drive link to a file (/file/d/ID) or a folder (/folders/ID)")
    raise _bad(original, f"links from {host or 'that site'} are not a supported source")


def _bad(original: str, why: str) -> BadSourceError:
    return BadSourceError(
        f"{original.strip()!r} is not a data source: {why}.", fix=f"Use {EXAMPLES}."
    )
