"""A loopback fake of the Google Drive v2 API and its OAuth token endpoint.

The real PyDrive2 (and googleapiclient, oauth2client, google-auth) talk to it over
127.0.0.1: ``files.list`` with ``q`` and paging, ``files.get`` with ``fields``,
``alt=media`` with ``Range``, ``files/<id>/export``, ``about``, and ``POST /token`` for the
service-account JWT grant and the refresh-token grant. Faults can be injected: a transfer
dropped at a byte offset, a wrong md5 or size in the metadata, 5xx and 429 answers, revoked
tokens, files the caller may not read, slow media, media redirected elsewhere.

    with DriveFake() as fake:
        folder = fake.add_folder("data")
        fake.add_file("a.csv", b"x,y\\n", parent=folder)
        key_file = fake.write_service_account(tmp_path / "sa.json")
        # MLENV_DRIVE_API=fake.base_url  GOOGLE_APPLICATION_CREDENTIALS=key_file
"""

from __future__ import annotations

import base64
import functools
import hashlib
import itertools
import json
import re
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

FOLDER_MIME = "application/vnd.google-apps.folder"
SHORTCUT_MIME = "application/vnd.google-apps.shortcut"
DOC_EXPORTS: dict[str, dict[str, bytes]] = {
    "document": {
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document": b"PK docx",
        "application/pdf": b"%PDF-1.4 document",
        "text/plain": b"document text",
    },
    "spreadsheet": {
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": b"PK xlsx",
        "text/csv": b"a,b\n1,2\n",
    },
    "presentation": {
        "application/vnd.openxmlformats-officedocument.presentationml.presentation": b"PK pptx",
        "application/pdf": b"%PDF-1.4 slides",
    },
    "drawing": {"image/png": b"\x89PNG drawing", "application/pdf": b"%PDF-1.4 drawing"},
    "form": {},
}
DRIVE_PREFIX = "/drive/v2/"


Predicate = Callable[[Mapping[str, Any]], bool]

_TOKEN = re.compile(
    r"\s*(?:(?P<string>'(?:[^'\\]|\\.)*')|(?P<op>!=|=|\(|\))|(?P<word>[A-Za-z_][A-Za-z0-9_.]*))"
)


class QueryError(ValueError):
    pass


def _tokens(query: str) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    position = 0
    query = query.rstrip()
    while position < len(query):
        match = _TOKEN.match(query, position)
        if not match or match.end() == position:
            raise QueryError(f"cannot parse the query near {query[position:]!r}")
        kind = match.lastgroup or ""
        text = match.group(kind)
        if kind == "string":
            text = re.sub(r"\\(.)", r"\1", text[1:-1])
        found.append((kind, text))
        position = match.end()
    return found


class _Parser:
    def __init__(self, query: str, root_id: str) -> None:
        self.tokens = _tokens(query)
        self.root_id = root_id
        self.index = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise QueryError("the query ended too early")
        self.index += 1
        return token

    def is_word(self, word: str) -> bool:
        token = self.peek()
        return token is not None and token[0] == "word" and token[1].lower() == word

    def parse(self) -> Predicate:
        predicate = self.disjunction()
        if self.peek() is not None:
            raise QueryError(f"unexpected {self.peek()[1]!r}")  # type: ignore[index]
        return predicate

    def disjunction(self) -> Predicate:
        parts = [self.conjunction()]
        while self.is_word("or"):
            self.take()
            parts.append(self.conjunction())
        return parts[0] if len(parts) == 1 else lambda item: any(p(item) for p in parts)

    def conjunction(self) -> Predicate:
        parts = [self.negation()]
        while self.is_word("and"):
            self.take()
            parts.append(self.negation())
        return parts[0] if len(parts) == 1 else lambda item: all(p(item) for p in parts)

    def negation(self) -> Predicate:
        if self.is_word("not"):
            self.take()
            inner = self.negation()
            return lambda item: not inner(item)
        return self.primary()

    def primary(self) -> Predicate:
        kind, text = self.take()
        if kind == "op" and text == "(":
            inner = self.disjunction()
            if self.take() != ("op", ")"):
                raise QueryError("missing ')'")
            return inner
        if kind == "string":
            if not self.is_word("in"):
                raise QueryError("expected 'in' after a quoted value")
            self.take()
            _, field = self.take()
            if field != "parents":
                raise QueryError(f"'in {field}' is not supported")
            wanted = self.root_id if text == "root" else text
            return lambda item: any(p.get("id") == wanted for p in item.get("parents", []))
        if kind == "word":
            return self.comparison(text)
        raise QueryError(f"unexpected {text!r}")

    def comparison(self, field: str) -> Predicate:
        op_kind, operator = self.take()
        if op_kind == "word" and operator.lower() == "contains":
            operator = "contains"
        elif op_kind != "op" or operator not in {"=", "!="}:
            raise QueryError(f"unsupported operator {operator!r}")
        value_kind, value = self.take()
        if field == "trashed":
            if value_kind != "word" or value not in {"true", "false"}:
                raise QueryError("trashed takes true or false")
            wanted = value == "true"
            if operator == "contains":
                raise QueryError("trashed does not support contains")
            equal = operator == "="
            return lambda item: (item.get("labels", {}).get("trashed", False) == wanted) == equal
        if field not in {"title", "mimeType"} or value_kind != "string":
            raise QueryError(f"unsupported condition on {field!r}")
        if operator == "contains":
            return lambda item: value.lower() in str(item.get(field, "")).lower()
        if operator == "=":
            return lambda item: str(item.get(field, "")).lower() == value.lower()
        return lambda item: str(item.get(field, "")).lower() != value.lower()


def compile_query(query: str, root_id: str = "root") -> Predicate:
    """A predicate over Drive v2 file resources; an empty query matches everything.

    Supported: ``'<id>' in parents`` (``'root'`` is the user's root folder),
    ``title = | != | contains '<text>'``, ``mimeType = | != '<type>'``,
    ``trashed = true | false``, ``and``, ``or``, ``not`` and parentheses.
    """
    if not query.strip():
        return lambda item: True
    return _Parser(query, root_id).parse()


class _FieldsError(ValueError):
    pass


def _parse_fields(spec: str) -> dict[str, Any]:
    """``items(id,title),nextPageToken`` or ``labels/trashed`` → a selection tree."""
    position = 0

    def parse_list(end: str | None) -> dict[str, Any]:
        nonlocal position
        selection: dict[str, Any] = {}
        while position < len(spec):
            match = re.match(r"\s*([A-Za-z0-9_*]+(?:/[A-Za-z0-9_*]+)*)\s*", spec[position:])
            if not match:
                raise _FieldsError(spec)
            position += match.end()
            path = match.group(1).split("/")
            node = selection
            for name in path[:-1]:
                node = node.setdefault(name, {})
            leaf = path[-1]
            if position < len(spec) and spec[position] == "(":
                position += 1
                node[leaf] = parse_list(")")
            else:
                node[leaf] = None
            if position < len(spec) and spec[position] == ",":
                position += 1
                continue
            if end and position < len(spec) and spec[position] == end:
                position += 1
                return selection
        if end:
            raise _FieldsError(spec)
        return selection

    return parse_list(None)


def _select(value: Any, tree: dict[str, Any] | None) -> Any:
    if tree is None or "*" in tree:
        return value
    if isinstance(value, list):
        return [_select(item, tree) for item in value]
    if isinstance(value, dict):
        return {key: _select(value[key], sub) for key, sub in tree.items() if key in value}
    return value


@dataclass
class FakeDriveItem:
    id: str
    title: str
    mime_type: str
    parents: list[str]
    content: bytes | None = None  # None for folders and Google-native files
    exports: dict[str, bytes] = field(default_factory=dict)
    drive_id: str | None = None
    trashed: bool = False
    version: int = 1
    reported_md5: str | None = None  # a fault: the metadata announces this md5 instead
    reported_size: int | None = None  # a fault: the metadata announces this size instead
    media_location: str | None = None  # a fault: media answers 302 to this URL
    denied: bool = False  # a fault: 403 for everyone
    target_id: str | None = None  # shortcuts

    @property
    def md5(self) -> str | None:
        return hashlib.md5(self.content).hexdigest() if self.content is not None else None


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    kind: str  # "token", "about", "list", "get", "media", "export", "other"
    path: str
    query: Mapping[str, str]
    file_id: str | None
    range: str | None


@dataclass
class _Fault:
    kind: str
    status: int
    remaining: int
    retry_after: float | None
    file_id: str | None


@dataclass
class _Drop:
    at_byte: int
    remaining: int


@dataclass
class _ServiceAccount:
    email: str
    public_key: Any
    rejected: bool = False


class DriveFake:
    """The fake server. Use as a context manager, or call :meth:`start` and :meth:`stop`."""

    ROOT_ID = "0AFakeMyDriveRoot"

    def __init__(self, *, page_size: int = 1000, token_lifetime: int = 3600) -> None:
        self.page_size = page_size  # the most items one list page holds, whatever maxResults
        self.token_lifetime = token_lifetime
        self.media_delay = 0.0  # seconds to wait before sending media bytes
        self.requests: list[RecordedRequest] = []
        self._items: dict[str, FakeDriveItem] = {}
        self._shared_drives: dict[str, str] = {}
        self._tokens: dict[str, str] = {}
        self._refresh_tokens: dict[str, str] = {}
        self._service_accounts: dict[str, _ServiceAccount] = {}
        self._faults: list[_Fault] = []
        self._drops: dict[str, _Drop] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ----- lifecycle -------------------------------------------------------------------------
    def start(self) -> DriveFake:
        fake = self

        class Handler(_Handler):
            drive = fake

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},  # a prompt stop()
            name="drive-fake",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> DriveFake:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def root_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the Drive fake is not started")
        port = self._server.server_address[1]
        return f"http://127.0.0.1:{port}/"

    @property
    def base_url(self) -> str:
        """The value for ``MLENV_DRIVE_API``."""
        return self.root_url + DRIVE_PREFIX.lstrip("/")

    @property
    def token_uri(self) -> str:
        return self.root_url + "token"

    # ----- content ---------------------------------------------------------------------------
    def _new_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):04d}{secrets.token_hex(6)}"

    def _add(self, item: FakeDriveItem) -> str:
        parent = item.parents[0] if item.parents else None
        if parent and parent in self._items:
            item.drive_id = self._items[parent].drive_id
        elif parent in self._shared_drives:
            item.drive_id = parent
        with self._lock:
            self._items[item.id] = item
        return item.id

    def _parents(self, parent: str | None) -> list[str]:
        if parent is None or parent == "root":
            return [self.ROOT_ID]
        return [parent]

    def add_shared_drive(self, name: str) -> str:
        """A shared drive; its id is also the id of its top folder."""
        drive_id = self._new_id("0AShared")
        self._shared_drives[drive_id] = name
        return drive_id

    def add_folder(self, title: str, parent: str | None = None, *, id: str | None = None) -> str:
        item = FakeDriveItem(id or self._new_id("1Fold"), title, FOLDER_MIME, self._parents(parent))
        return self._add(item)

    def add_file(
        self,
        title: str,
        content: bytes,
        parent: str | None = None,
        *,
        id: str | None = None,
        mime_type: str = "application/octet-stream",
    ) -> str:
        item = FakeDriveItem(
            id or self._new_id("1File"), title, mime_type, self._parents(parent), content
        )
        return self._add(item)

    def add_doc(
        self,
        title: str,
        kind: str = "document",
        parent: str | None = None,
        *,
        id: str | None = None,
        exports: Mapping[str, bytes] | None = None,
    ) -> str:
        """A Google-native file (``document``, ``spreadsheet``, ``presentation``, ``drawing``,
        ``form``...): no bytes of its own, only exports."""
        formats = dict(exports if exports is not None else DOC_EXPORTS.get(kind, {}))
        item = FakeDriveItem(
            id or self._new_id("1Doc"),
            title,
            f"application/vnd.google-apps.{kind}",
            self._parents(parent),
            exports=formats,
        )
        return self._add(item)

    def add_shortcut(self, title: str, target_id: str, parent: str | None = None) -> str:
        item = FakeDriveItem(self._new_id("1Short"), title, SHORTCUT_MIME, self._parents(parent))
        item.target_id = target_id
        return self._add(item)

    def update_file(self, file_id: str, content: bytes) -> None:
        """New content: a new md5 and version, as after an upload."""
        with self._lock:
            item = self._items[file_id]
            item.content = content
            item.version += 1

    def trash(self, file_id: str) -> None:
        with self._lock:
            self._items[file_id].trashed = True

    # ----- credentials -----------------------------------------------------------------------
    def issue_token(self, principal: str = "tester@example.com") -> str:
        token = "ya29.fake-" + secrets.token_urlsafe(24)
        with self._lock:
            self._tokens[token] = principal
        return token

    def revoke_tokens(self) -> None:
        """Every issued access token now gets 401 (refresh and JWT grants still work)."""
        with self._lock:
            self._tokens.clear()

    def revoke_logins(self) -> None:
        """Saved refresh tokens and issued access tokens stop working (a revoked login)."""
        with self._lock:
            self._refresh_tokens.clear()
            self._tokens.clear()

    @property
    def issued_tokens(self) -> list[str]:
        with self._lock:
            return list(self._tokens)

    def write_service_account(
        self, path: Path, *, email: str = "reader@fake-project.iam.gserviceaccount.com"
    ) -> Path:
        """Write a throwaway service-account key file whose ``token_uri`` is this fake."""
        from cryptography.hazmat.primitives import serialization

        key = _throwaway_rsa_key()
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        self._service_accounts[email] = _ServiceAccount(email, key.public_key())
        info = {
            "type": "service_account",
            "project_id": "fake-project",
            "private_key_id": secrets.token_hex(20),
            "private_key": pem,
            "client_email": email,
            "client_id": str(secrets.randbelow(10**20)),
            "auth_uri": self.root_url + "auth",
            "token_uri": self.token_uri,
        }
        _write_private_json(path, info)
        return path

    def reject_service_account(self, email: str) -> None:
        """The token endpoint answers ``invalid_grant`` for this account from now on."""
        self._service_accounts[email].rejected = True

    def write_authorized_user(self, path: Path) -> Path:
        """Write saved user credentials (``authorized_user`` JSON with a refresh token)."""
        refresh_token = "1//fake-refresh-" + secrets.token_urlsafe(16)
        with self._lock:
            self._refresh_tokens[refresh_token] = "user@example.com"
        info = {
            "type": "authorized_user",
            "client_id": "fake-client.apps.googleusercontent.com",
            "client_secret": "fake-client-secret",
            "refresh_token": refresh_token,
            "token_uri": self.token_uri,
        }
        _write_private_json(path, info)
        return path

    # ----- faults ----------------------------------------------------------------------------
    def fail(
        self,
        kind: str,
        status: int = 503,
        *,
        times: int = 1,
        retry_after: float | None = None,
        file_id: str | None = None,
    ) -> None:
        """The next ``times`` requests of ``kind`` ("list", "get", "media", "export",
        "token", "about" or "any") answer ``status``."""
        with self._lock:
            self._faults.append(_Fault(kind, status, times, retry_after, file_id))

    def drop_transfer(self, file_id: str, at_byte: int, *, times: int = 1) -> None:
        """Media transfers of this file stop after ``at_byte`` bytes of the file."""
        with self._lock:
            self._drops[file_id] = _Drop(at_byte, times)

    def corrupt_md5(self, file_id: str) -> None:
        """The metadata announces an md5 that does not match the bytes."""
        with self._lock:
            self._items[file_id].reported_md5 = "0" * 32

    def misreport_size(self, file_id: str, size: int) -> None:
        """The metadata announces ``size`` as the file's size (``fileSize``)."""
        with self._lock:
            self._items[file_id].reported_size = size

    def redirect_media(self, file_id: str, location: str) -> None:
        """Media downloads of this file answer ``302`` to ``location``."""
        with self._lock:
            self._items[file_id].media_location = location

    def deny(self, file_id: str) -> None:
        """Every caller gets 403 for this file."""
        with self._lock:
            self._items[file_id].denied = True

    # ----- inspection ------------------------------------------------------------------------
    def count(self, kind: str, file_id: str | None = None) -> int:
        with self._lock:
            return sum(
                1
                for r in self.requests
                if r.kind == kind and (file_id is None or r.file_id == file_id)
            )

    def find(self, title: str) -> str:
        """The id of the (first) item with this title."""
        for item in self._items_snapshot():
            if item.title == title:
                return item.id
        raise KeyError(title)

    def clear_requests(self) -> None:
        with self._lock:
            self.requests.clear()

    # ----- used by the handler ---------------------------------------------------------------
    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def _take_fault(self, kind: str, file_id: str | None) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                kind_matches = fault.kind in {kind, "any"}
                file_matches = fault.file_id is None or fault.file_id == file_id
                if fault.remaining > 0 and kind_matches and file_matches:
                    fault.remaining -= 1
                    return fault
        return None

    def _take_drop(self, file_id: str) -> int | None:
        with self._lock:
            drop = self._drops.get(file_id)
            if drop is None or drop.remaining <= 0:
                return None
            drop.remaining -= 1
            return drop.at_byte

    def _principal(self, token: str | None) -> str | None:
        with self._lock:
            return self._tokens.get(token or "")

    def _item(self, file_id: str) -> FakeDriveItem | None:
        with self._lock:
            if file_id == "root":
                file_id = self.ROOT_ID
            return self._items.get(file_id)

    def _items_snapshot(self) -> list[FakeDriveItem]:
        with self._lock:
            return sorted(self._items.values(), key=lambda item: item.id)

    def resource(self, item: FakeDriveItem) -> dict[str, Any]:
        """The Drive v2 ``drive#file`` resource of an item."""
        base = self.base_url
        resource: dict[str, Any] = {
            "kind": "drive#file",
            "id": item.id,
            "title": item.title,
            "mimeType": item.mime_type,
            "parents": [
                {"kind": "drive#parentReference", "id": p, "isRoot": p == self.ROOT_ID}
                for p in item.parents
            ],
            "labels": {"trashed": item.trashed, "starred": False, "hidden": False},
            "version": str(item.version),
            "modifiedDate": f"2026-01-01T00:00:{item.version % 60:02d}.000Z",
            "copyable": True,
            "editable": False,
        }
        if item.drive_id:
            resource["driveId"] = item.drive_id
            resource["teamDriveId"] = item.drive_id
        if item.content is not None:
            size = item.reported_size if item.reported_size is not None else len(item.content)
            resource["fileSize"] = str(size)
            resource["md5Checksum"] = item.reported_md5 or item.md5
            resource["downloadUrl"] = f"{base}files/{item.id}?alt=media&source=downloadUrl"
        if item.mime_type.startswith("application/vnd.google-apps.") and item.exports:
            resource["exportLinks"] = {
                mime: f"{base}files/{item.id}/export?mimeType={quote(mime, safe='')}"
                for mime in item.exports
            }
        if item.target_id:
            target = self._item(item.target_id)
            resource["shortcutDetails"] = {
                "targetId": item.target_id,
                "targetMimeType": target.mime_type if target else "",
            }
        return resource


@functools.cache
def _throwaway_rsa_key() -> Any:
    """One RSA key per process: generating a key takes a noticeable fraction of a second."""
    from cryptography.hazmat.primitives.asymmetric import rsa

    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _write_private_json(path: Path, info: Mapping[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(info, indent=2))
    path.chmod(0o600)


def _b64url_json(part: str) -> dict[str, Any]:
    data = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    value = json.loads(data)
    if not isinstance(value, dict):
        raise ValueError("not a JSON object")
    return value


_FILE_PATH = re.compile(r"^files/(?P<id>[^/]+)(?P<export>/export)?$")
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class _Handler(BaseHTTPRequestHandler):
    drive: DriveFake
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    # ----- plumbing --------------------------------------------------------------------------
    def _send_json(
        self, status: int, body: Mapping[str, Any], headers: Mapping[str, str] | None = None
    ) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _send_error(
        self, status: int, reason: str, message: str, headers: Mapping[str, str] | None = None
    ) -> None:
        error = {"domain": "global", "reason": reason, "message": message}
        body = {"error": {"code": status, "message": message, "errors": [error]}}
        self._send_json(status, body, headers)

    def _send_fault(self, fault: _Fault) -> None:
        headers = {}
        if fault.retry_after is not None:
            headers["Retry-After"] = f"{fault.retry_after:g}"
        reasons = {429: "rateLimitExceeded", 401: "authError", 403: "forbidden"}
        reason = reasons.get(fault.status, "backendError")
        self._send_error(fault.status, reason, f"Injected failure {fault.status}.", headers)

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _bearer(self) -> str | None:
        header = self.headers.get("Authorization", "")
        return header[7:].strip() if header.lower().startswith("bearer ") else None

    # ----- routing ---------------------------------------------------------------------------
    def do_POST(self) -> None:
        url = urlsplit(self.path)
        body = self._read_body()
        if url.path == "/token":
            self._record("token", url.path, {}, None)
            fault = self.drive._take_fault("token", None)
            if fault:
                self._send_fault(fault)
                return
            form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
            self._token(form)
            return
        self._record("other", url.path, {}, None)
        self._send_error(404, "notFound", "Not found.")

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        if not url.path.startswith(DRIVE_PREFIX):
            self._record("other", url.path, query, None)
            self._send_error(404, "notFound", "Not found.")
            return
        route = url.path[len(DRIVE_PREFIX) :]
        file_match = _FILE_PATH.match(route)
        file_id = file_match.group("id") if file_match else None
        if route == "files":
            kind = "list"
        elif route == "about":
            kind = "about"
        elif file_match and file_match.group("export"):
            kind = "export"
        elif file_match:
            kind = "media" if query.get("alt") == "media" else "get"
        else:
            kind = "other"
        self._record(kind, url.path, query, file_id)
        fault = self.drive._take_fault(kind, file_id)
        if fault:
            self._send_fault(fault)
            return
        principal = self.drive._principal(self._bearer())
        if principal is None:
            self._send_error(
                401,
                "authError",
                "Invalid Credentials",
                {"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/"'},
            )
            return
        if kind == "list":
            self._list(query)
        elif kind == "about":
            self._send_json(200, self._about(principal))
        elif kind == "other" or file_id is None:
            self._send_error(404, "notFound", "Not found.")
        else:
            self._file(kind, file_id, query)

    def _record(self, kind: str, path: str, query: Mapping[str, str], file_id: str | None) -> None:
        self.drive._record(
            RecordedRequest(self.command, kind, path, query, file_id, self.headers.get("Range"))
        )

    # ----- token endpoint --------------------------------------------------------------------
    def _token(self, form: Mapping[str, str]) -> None:
        grant = form.get("grant_type", "")
        if grant == "urn:ietf:params:oauth:grant-type:jwt-bearer":
            principal = self._check_assertion(form.get("assertion", ""))
        elif grant == "refresh_token":
            with self.drive._lock:
                principal = self.drive._refresh_tokens.get(form.get("refresh_token", ""))
        else:
            self._send_json(400, {"error": "unsupported_grant_type"})
            return
        if principal is None:
            self._send_json(400, {"error": "invalid_grant", "error_description": "Invalid grant."})
            return
        token = self.drive.issue_token(principal)
        self._send_json(
            200,
            {
                "access_token": token,
                "expires_in": self.drive.token_lifetime,
                "token_type": "Bearer",
            },
        )

    def _check_assertion(self, assertion: str) -> str | None:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        parts = assertion.split(".")
        if len(parts) != 3:
            return None
        try:
            header, claims = _b64url_json(parts[0]), _b64url_json(parts[1])
            signature = base64.urlsafe_b64decode(parts[2] + "=" * (-len(parts[2]) % 4))
        except ValueError:
            return None
        account = self.drive._service_accounts.get(str(claims.get("iss")))
        shape_ok = (
            header.get("alg") == "RS256"
            and claims.get("aud") == self.drive.token_uri
            and bool(claims.get("scope"))
            and isinstance(claims.get("exp"), int)
            and isinstance(claims.get("iat"), int)
            and claims["iat"] - 300 <= time.time() <= claims["exp"] + 300
        )
        if account is None or account.rejected or not shape_ok:
            return None
        try:
            signing_input = f"{parts[0]}.{parts[1]}".encode()
            account.public_key.verify(signature, signing_input, padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            return None
        return account.email

    # ----- Drive API -------------------------------------------------------------------------
    def _about(self, principal: str) -> dict[str, Any]:
        return {
            "kind": "drive#about",
            "name": principal.split("@")[0],
            "user": {"kind": "drive#user", "emailAddress": principal},
            "rootFolderId": DriveFake.ROOT_ID,
        }

    def _visible(self, item: FakeDriveItem, query: Mapping[str, str]) -> bool:
        if item.drive_id is None:
            return True
        return query.get("supportsAllDrives") == "true" or (
            query.get("supportsTeamDrives") == "true"
        )

    def _list(self, query: Mapping[str, str]) -> None:
        try:
            predicate = compile_query(query.get("q", ""), root_id=DriveFake.ROOT_ID)
            fields = _parse_fields(query["fields"]) if query.get("fields") else None
            page_size = min(int(query.get("maxResults") or 100), self.drive.page_size)
            offset = int(query.get("pageToken") or 0)
        except (QueryError, _FieldsError, ValueError) as error:
            self._send_error(400, "invalid", f"Invalid Value: {error}")
            return
        all_drives = (
            query.get("includeItemsFromAllDrives") == "true"
            and query.get("supportsAllDrives") == "true"
        )
        matches = [
            self.drive.resource(item)
            for item in self.drive._items_snapshot()
            if (item.drive_id is None or all_drives)
        ]
        matches = [resource for resource in matches if predicate(resource)]
        page = matches[offset : offset + max(page_size, 1)]
        body: dict[str, Any] = {"kind": "drive#fileList", "items": page}
        if offset + len(page) < len(matches):
            body["nextPageToken"] = str(offset + len(page))
        self._send_json(200, _select(body, fields))

    def _file(self, kind: str, file_id: str, query: Mapping[str, str]) -> None:
        item = self.drive._item(file_id)
        # Export takes no supportsAllDrives parameter; it serves shared-drive files anyway.
        if item is None or (kind != "export" and not self._visible(item, query)):
            self._send_error(404, "notFound", f"File not found: {file_id}.")
            return
        if item.denied:
            self._send_error(
                403,
                "insufficientFilePermissions",
                "The user does not have sufficient permissions for this file.",
            )
            return
        if kind == "get":
            try:
                fields = _parse_fields(query["fields"]) if query.get("fields") else None
            except _FieldsError as error:
                self._send_error(400, "invalid", f"Invalid field selection {error}")
                return
            self._send_json(200, _select(self.drive.resource(item), fields))
        elif kind == "export":
            content = item.exports.get(query.get("mimeType", ""))
            if content is None:
                self._send_error(400, "badRequest", "The requested conversion is not supported.")
                return
            self._send_bytes(item, content, etag=None)
        elif item.content is None:
            self._send_error(
                403,
                "fileNotDownloadable",
                "Only files with binary content can be downloaded. Use Export with Docs "
                "Editors files.",
            )
        elif item.media_location is not None:
            self.send_response(302)
            self.send_header("Location", item.media_location)
            self.send_header("Content-Length", "0")
            self.end_headers()
        else:
            self._send_bytes(item, item.content, etag=item.md5)

    def _send_bytes(self, item: FakeDriveItem, content: bytes, etag: str | None) -> None:
        total = len(content)
        start, end = 0, total - 1
        status = 200
        range_header = self.headers.get("Range")
        if_range = self.headers.get("If-Range")
        if range_header and (if_range is None or etag is None or if_range.strip('"') == etag):
            match = _RANGE.match(range_header.strip())
            if match and (match.group(1) or match.group(2)):
                if match.group(1):
                    start = int(match.group(1))
                    if match.group(2):
                        end = min(int(match.group(2)), total - 1)
                else:
                    start = max(total - int(match.group(2)), 0)
                if start >= total or start > end:
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{total}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                status = 206
        self.send_response(status)
        self.send_header("Content-Type", item.mime_type or "application/octet-stream")
        self.send_header("Content-Length", str(end - start + 1))
        self.send_header("Accept-Ranges", "bytes")
        if etag:
            self.send_header("ETag", f'"{etag}"')
            digest = base64.b64encode(bytes.fromhex(etag)).decode()
            self.send_header("x-goog-hash", f"md5={digest}")
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{end}/{total}")
        self.end_headers()
        if self.drive.media_delay:
            time.sleep(self.drive.media_delay)
        stop = end + 1
        drop_at = self.drive._take_drop(item.id) if etag else None
        dropped = drop_at is not None and start <= drop_at < stop
        if dropped and drop_at is not None:
            stop = drop_at
        for offset in range(start, stop, 64 * 1024):
            self.wfile.write(content[offset : min(offset + 64 * 1024, stop)])
        if dropped:
            self.wfile.flush()
            self.close_connection = True
