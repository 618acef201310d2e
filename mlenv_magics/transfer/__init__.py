"""One HTTP transfer layer for every source: timeouts, bounded retries, resume, verification.

Sources describe files as :class:`RemoteFile`; :func:`fetch_files` downloads them into a folder
(normally a cache staging folder), keeping resumable partial bytes in ``partial_dir``.
:func:`send` is the single request primitive (timeouts and bounded retries) that RPC callers use
too. Signed URLs and request headers are secrets: messages name only the host and path.

Modules, lowest first: ``policy`` (TransferPolicy, RetryBudget, Retry-After), ``http``
(sessions, ``send``, network errors, ``redact_url``), ``files`` (RemoteFile, FetchedFile),
``shared`` (cancellation), ``verify`` (hashes), ``partial`` (resume state), ``requester``
(redirects, signed-URL refresh, status errors), ``job``, ``ranges`` (parallel ranges),
``download`` (one file), ``fetch`` (``fetch_files``). ``requests`` is imported only when a
function needs it.
"""

from .fetch import fetch_files
from .files import BodyHere, FetchedFile, RemoteFile, safe_relpath
from .http import make_session, redact_url, send
from .policy import RetryBudget, TransferPolicy
from .shared import Cancelled

__all__ = [
    "BodyHere",
    "Cancelled",
    "FetchedFile",
    "RemoteFile",
    "RetryBudget",
    "TransferPolicy",
    "fetch_files",
    "make_session",
    "redact_url",
    "safe_relpath",
    "send",
]
