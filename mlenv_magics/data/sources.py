"""Parse what the user typed after ``%mlenv_add_data`` into a typed source.

Accepted forms (see SPEC.md): ``owner/slug``, ``owner/slug/versions/N``, ``kaggle:owner/slug``,
Kaggle dataset and competition URLs, ``competition:slug``,
``model:owner/model/framework/variation[/N]``, ``notebook:owner/slug[/versions/N]``, Kaggle model
and code URLs, ``drive:ID`` and Drive URLs.
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
_VERSION = r"[^/]+"  # checked by _version(), which says what is wrong with it
_DATASET_RE = re.compile(
    rf"^(?P<owner>{_SLUG})/(?P<slug>{_SLUG})(?:/versions/(?P<version>{_VERSION}))?$"
)
_MODEL_RE = re.compile(
    rf"^(?P<owner>{_SLUG})/(?P<model>{_SLUG})/(?P<framework>{_SLUG})/(?P<variation>{_SLUG})"
    rf"(?:/(?:versions/)?(?P<version>{_VERSION}))?$"
)
_NOTEBOOK_RE = _DATASET_RE
MAX_VERSION = 10**9  # no Kaggle source has anywhere near this many versions
_DRIVE_ID_RE = re.compile(r"^[A-Za-z0-9_\-]{10,}$")
_KAGGLE_HOSTS = {"kaggle.com", "www.kaggle.com"}
_DRIVE_HOSTS = {"drive.google.com", "docs.google.com"}

EXAMPLES = (
    "owner/slug, owner/slug/versions/N, kaggle:owner/slug, competition:NAME,"
    " model:owner/model/framework/variation[/N], notebook:owner/slug[/versions/N], drive:ID,"
    " or a pasted kaggle.com / drive.google.com URL"
)

# Kaggle's model frameworks, spelled as Kaggle's own clients write them. A framework is matched
# ignoring case, "_" and "-"; on the wire it goes as kagglesdk's ModelFramework enum name, which
# kaggle_api derives from the same key (a test checks this table against kagglesdk's enum).
FRAMEWORKS = (
    "tensorFlow1",
    "tensorFlow2",
    "tfLite",
    "tfJs",
    "pyTorch",
    "jax",
    "flax",
    "pax",
    "maxText",
    "gemmaCpp",
    "ggml",
    "gguf",
    "coral",
    "scikitLearn",
    "mxnet",
    "onnx",
    "keras",
    "transformers",
    "api",
    "other",
    "tensorRtLlm",
    "triton",
    "vllm",
)


def framework_key(name: str) -> str:
    """``PyTorch``, ``py_torch``, ``py-torch`` -> ``pytorch``: one model, one cache entry."""
    return name.replace("_", "").replace("-", "").lower()


_FRAMEWORK_NAMES = {framework_key(name): name for name in FRAMEWORKS}


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


@dataclass(frozen=True)
class KaggleModel:
    """One variation of a Kaggle model (Kaggle calls it a model instance)."""

    owner: str
    model: str
    framework: str  # framework_key() form, e.g. "pytorch"
    variation: str
    version: int | None = None  # None: the latest (online) or newest cached (offline)

    @property
    def framework_name(self) -> str:
        """The framework as Kaggle's clients spell it (``pyTorch``)."""
        return _FRAMEWORK_NAMES.get(self.framework, self.framework)

    @property
    def ref(self) -> str:
        return f"{self.owner}/{self.model}/{self.framework}/{self.variation}"

    @property
    def web_url(self) -> str:
        suffix = f"/{self.version}" if self.version is not None else ""
        return (
            f"{KAGGLE_WEB}/models/{self.owner}/{self.model}/{self.framework_name}"
            f"/{self.variation}{suffix}"
        )

    @property
    def label(self) -> str:
        return f"kaggle model {self.ref}"


@dataclass(frozen=True)
class KaggleNotebook:
    """The output files of a Kaggle notebook (a kernel) version."""

    owner: str
    slug: str
    version: int | None = None

    @property
    def ref(self) -> str:
        return f"{self.owner}/{self.slug}"

    @property
    def web_url(self) -> str:
        return f"{KAGGLE_WEB}/code/{self.ref}"

    @property
    def label(self) -> str:
        return f"kaggle notebook {self.ref}"


Source = KaggleDataset | KaggleCompetition | KaggleModel | KaggleNotebook | DriveItem


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
    if lowered.startswith(("model:", "models:")):
        return _parse_model(raw.split(":", 1)[1].strip("/"), text)
    if lowered.startswith(("notebook:", "notebooks:")):
        return _parse_notebook(raw.split(":", 1)[1].strip("/"), text)
    return _parse_dataset(raw.strip("/"), text)


def _parse_dataset(path: str, original: str) -> KaggleDataset:
    match = _DATASET_RE.match(path)
    if not match or ".." in path:
        why = "a Kaggle dataset is written owner/slug or owner/slug/versions/N"
        if _MODEL_RE.match(path):
            why += " (a model is written model:owner/model/framework/variation[/N])"
        raise _bad(original, why)
    return KaggleDataset(
        owner=match.group("owner"),
        slug=match.group("slug"),
        version=_version(match.group("version"), original),
    )


def _parse_model(path: str, original: str) -> KaggleModel:
    match = _MODEL_RE.match(path)
    if not match or ".." in path:
        raise _bad(original, "a Kaggle model is written model:owner/model/framework/variation[/N]")
    framework = framework_key(match.group("framework"))
    if framework not in _FRAMEWORK_NAMES:
        raise BadSourceError(
            f"{original.strip()!r} names the model framework {match.group('framework')!r},"
            " which Kaggle does not have.",
            fix="Use one of: " + ", ".join(FRAMEWORKS) + " (any case).",
        )
    return KaggleModel(
        owner=match.group("owner"),
        model=match.group("model"),
        framework=framework,
        variation=match.group("variation"),
        version=_version(match.group("version"), original),
    )


def _parse_notebook(path: str, original: str) -> KaggleNotebook:
    match = _NOTEBOOK_RE.match(path)
    if not match or ".." in path:
        raise _bad(original, "a notebook is written notebook:owner/slug or .../versions/N")
    return KaggleNotebook(
        owner=match.group("owner"),
        slug=match.group("slug"),
        version=_version(match.group("version"), original),
    )


def _version(text: str | None, original: str) -> int | None:
    """A version number as Kaggle numbers them: 1, 2, ...; anything else is refused."""
    if text is None:
        return None
    if not text.isascii() or not text.isdigit():
        raise _bad(original, f"the version {text!r} is not a number")
    if text.startswith("0"):
        why = f"the version {text!r} is not one: versions count from 1, without leading zeros"
        raise _bad(original, why)
    if len(text) > len(str(MAX_VERSION)) or int(text) > MAX_VERSION:
        raise _bad(original, f"the version {text} is far beyond any Kaggle version")
    return int(text)


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
        if segments[:1] == ["models"]:
            return _parse_model(_model_url_path(segments[1:]), original)
        if segments[:1] in (["code"], ["kernels"]):
            if parse_qs(parts.query).get("scriptVersionId"):
                raise _bad(
                    original,
                    "a scriptVersionId link does not say the version number; write"
                    " notebook:owner/slug/versions/N",
                )
            return _parse_notebook(_notebook_url_path(segments[1:]), original)
        raise _bad(
            original,
            "only kaggle.com/datasets/..., /competitions/..., /models/... and /code/... links work",
        )
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


def _model_url_path(segments: list[str]) -> str:
    """``owner/model/framework/variation[/N]`` from a model page's path, in either of Kaggle's
    URL shapes (``.../pyTorch/2b/1`` or ``.../frameworks/pyTorch/variations/2b/versions/1``)."""
    if segments[2:3] == ["frameworks"]:
        if segments[4:5] != ["variations"]:
            return ""  # a framework page, not one variation
        segments = [*segments[:2], segments[3], *segments[5:]]
    head, rest = segments[:4], segments[4:]
    if rest[:1] == ["versions"]:
        rest = rest[1:]
    return "/".join(head + rest[:1])


def _notebook_url_path(segments: list[str]) -> str:
    """``owner/slug[/versions/N]`` from a notebook page's path (``/notebook``, ``/output`` and
    other tab names after the slug are ignored)."""
    head = segments[:2]
    if segments[2:3] == ["versions"]:
        return "/".join(segments[:4])
    return "/".join(head)


def _bad(original: str, why: str) -> BadSourceError:
    return BadSourceError(
        f"{original.strip()!r} is not a data source: {why}.", fix=f"Use {EXAMPLES}."
    )
