"""Errors the user must act on.

Every failure that needs the user to do something raises a subclass of
:class:`MlenvError`. IPython shows these as one short message that names the fix
(through ``_render_traceback_``), and the cell still fails, so "Run all" stops.
"""

from __future__ import annotations

from collections.abc import Mapping


class MlenvError(Exception):
    """A failure the user must act on; the message says what to do."""

    def __init__(self, message: str, *, fix: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix

    def __str__(self) -> str:
        if self.fix:
            return f"{self.message}\n{self.fix}"
        return self.message

    def _render_traceback_(self) -> list[str]:
        # IPython calls this instead of formatting a traceback (7.x, 8.x and 9.x).
        lines = str(self).splitlines() or [""]
        return [f"{type(self).__name__}: {lines[0]}", *lines[1:]]


class UnsupportedHostError(MlenvError):
    """The requested action does not exist on this host."""


class AcceleratorMissingError(MlenvError):
    """``--require`` or ``--min-memory`` was not met."""


class CredentialsError(MlenvError):
    """Credentials are missing or were rejected."""


class LoginRequired(CredentialsError):
    """No credentials were found, and a login form would help.

    Carries what the front needs to show the form: ``form`` names it (``"kaggle"``),
    ``form_fix`` is the fix to show once the form is displayed, and ``login_env`` is the
    environment the login is saved for (kept out of the message and the repr).
    """

    def __init__(
        self,
        message: str,
        *,
        fix: str,
        form: str,
        form_fix: str,
        login_env: Mapping[str, str],
    ) -> None:
        super().__init__(message, fix=fix)
        self.form = form
        self.form_fix = form_fix
        self.login_env = login_env


class AccessDeniedError(MlenvError):
    """The server refused access (rules not accepted, private, consent missing)."""


class NotFoundError(MlenvError):
    """The dataset, competition, file or Drive id does not exist."""


class RateLimitedError(MlenvError):
    """The server kept answering 429 after the bounded retries."""


class TransferError(MlenvError):
    """The network failed after the bounded retries; a rerun resumes."""


class IntegrityError(MlenvError):
    """Downloaded bytes did not match the size or hash the server announced."""


class ArchiveError(MlenvError):
    """A corrupt archive, or one whose entries would escape the target folder."""


class DiskSpaceError(MlenvError):
    """Not enough free disk space for the download or the extraction."""


class OfflineError(MlenvError):
    """``--offline`` was given and the data is neither mounted nor cached."""


class ServerError(MlenvError):
    """The server kept failing (5xx) or answered something unexpected."""


class BadSourceError(MlenvError):
    """The SOURCE argument is not a form mlenv understands (a usage error)."""


class CacheBusyError(MlenvError):
    """Another process kept a cache entry locked longer than the bounded wait."""


class DestinationExistsError(MlenvError):
    """``--to DIR`` already holds different files with the same names."""
