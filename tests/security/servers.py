"""Loopback servers a hostile redirect can point at: they record what arrives and answer with
fixed bytes. ``DualServer`` speaks TLS and plain HTTP on one port (it looks at the first byte),
so a redirect can change only the scheme."""

from __future__ import annotations

import datetime
import ipaddress
import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


@dataclass
class Seen:
    scheme: str
    method: str
    path: str
    headers: dict[str, str]


@dataclass
class Answers:
    """What the server answers: ``redirects`` maps a path to a Location, else ``body``."""

    body: bytes = b""
    content_type: str = "application/octet-stream"
    redirects: dict[str, str] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)

    def headers_at(self, path_prefix: str) -> list[dict[str, str]]:
        return [
            {k.lower(): v for k, v in s.headers.items()}
            for s in self.seen
            if s.path.startswith(path_prefix)
        ]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Any

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _answer(self) -> None:
        answers: Answers = self.server.answers
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        scheme = "https" if isinstance(self.connection, ssl.SSLSocket) else "http"
        answers.seen.append(Seen(scheme, self.command, self.path, dict(self.headers.items())))
        location = answers.redirects.get(self.path.split("?")[0])
        if location is not None:
            self.send_response(302)
            self.send_header("Location", location)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", answers.content_type)
        self.send_header("Content-Length", str(len(answers.body)))
        self.end_headers()
        self.wfile.write(answers.body)

    do_GET = do_POST = _answer


class DualServer(ThreadingHTTPServer):
    daemon_threads = True
    context: ssl.SSLContext | None = None

    def get_request(self) -> tuple[Any, Any]:
        sock, address = super().get_request()
        if self.context is not None:
            sock.settimeout(5)
            first = sock.recv(1, socket.MSG_PEEK)
            if first == b"\x16":  # a TLS ClientHello
                sock = self.context.wrap_socket(sock, server_side=True)
            sock.settimeout(None)
        return sock, address


@contextmanager
def serving(answers: Answers, tls_dir: Path | None = None) -> Iterator[tuple[int, Path | None]]:
    """Serve ``answers`` on 127.0.0.1; yields (port, CA file or None). With ``tls_dir`` the
    port also speaks TLS, with a throwaway certificate for 127.0.0.1 written there."""
    server = DualServer(("127.0.0.1", 0), _Handler)
    server.answers = answers  # type: ignore[attr-defined]
    cert = None
    if tls_dir is not None:
        cert, key = _self_signed(tls_dir)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        server.context = context
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield int(server.server_address[1]), cert
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _self_signed(folder: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
