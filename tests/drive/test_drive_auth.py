"""Drive credentials: service account, saved user login, Colab, and the failures."""

from __future__ import annotations

import json
import os
import sys
import types
from collections.abc import Callable
from pathlib import Path

import pytest
from drive_helpers import acquire_drive

from mlenv_magics import config
from mlenv_magics.data import drive_auth
from mlenv_magics.data.drive import list_item
from mlenv_magics.data.model import AddDataOptions
from mlenv_magics.data.sources import DriveItem
from mlenv_magics.errors import CredentialsError
from mlenv_magics.testing.drive_fake import DriveFake
from mlenv_magics.transfer import TransferPolicy

Options = Callable[..., AddDataOptions]


def saved_login(fake: DriveFake, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS")
    return fake.write_authorized_user(drive_auth.saved_credentials_path(os.environ))


def assert_no_secret(fake: DriveFake, *texts: str) -> None:
    secrets = [*fake.issued_tokens, *fake._refresh_tokens, "PRIVATE KEY"]
    for secret in secrets:
        for text in texts:
            assert secret not in text


def test_service_account_uses_the_jwt_grant(drive_fake: DriveFake) -> None:
    client = drive_auth.connect(os.environ, on_colab=False)

    assert client.source.startswith("service account reader@fake-project")
    assert drive_fake.count("token") == 1
    assert client.api_base == drive_fake.base_url
    assert_no_secret(drive_fake, repr(client), repr(client.media_headers("key", "id")))
    assert client.media_headers()["Authorization"] == f"Bearer {drive_fake.issued_tokens[0]}"


def test_saved_user_credentials_are_refreshed_headlessly(
    drive_fake: DriveFake, drive_options: Options, monkeypatch: pytest.MonkeyPatch
) -> None:
    saved_login(drive_fake, monkeypatch)
    file_id = drive_fake.add_file("a.txt", b"hello")

    result = acquire_drive(DriveItem(file_id), drive_options())

    assert (result.path / "a.txt").read_bytes() == b"hello"
    assert drive_fake.count("token") == 1


def test_expired_tokens_are_refreshed_without_a_browser(
    drive_fake: DriveFake,
    drive_options: Options,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    saved_login(drive_fake, monkeypatch)
    drive_fake.token_lifetime = 0  # every token is expired as soon as it is issued
    top = drive_fake.add_folder("d")
    drive_fake.add_file("a.txt", b"a", parent=top)
    drive_fake.add_file("b.txt", b"b", parent=top)

    result = acquire_drive(DriveItem(top), drive_options())

    assert sorted(p.name for p in result.path.iterdir()) == ["a.txt", "b.txt"]
    assert drive_fake.count("token") > 2


def test_a_revoked_token_is_replaced_by_a_new_one(
    drive_fake: DriveFake, drive_options: Options
) -> None:
    top = drive_fake.add_folder("d")
    drive_fake.add_file("a.txt", b"a", parent=top)
    drive_fake.fail("list", 401, times=1)

    result = acquire_drive(DriveItem(top), drive_options())

    assert (result.path / "a.txt").read_bytes() == b"a"
    assert drive_fake.count("token") == 2


def test_no_credentials_names_every_way_to_add_them(
    drive_fake: DriveFake, drive_options: Options, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS")

    with pytest.raises(CredentialsError) as error:
        acquire_drive(DriveItem("1SomeDriveFileId"), drive_options())

    message = str(error.value)
    assert "GOOGLE_APPLICATION_CREDENTIALS" in message
    assert str(config.config_dir(os.environ) / "drive-credentials.json") in message
    assert drive_fake.requests == []


def test_saved_credentials_readable_by_others_are_refused(
    drive_fake: DriveFake, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = saved_login(drive_fake, monkeypatch)
    path.chmod(0o644)

    with pytest.raises(CredentialsError, match="chmod 600"):
        drive_auth.connect(os.environ, on_colab=False)


def test_a_rejected_service_account_is_a_clear_error(
    drive_fake: DriveFake, drive_options: Options, capsys: pytest.CaptureFixture[str]
) -> None:
    drive_fake.reject_service_account("reader@fake-project.iam.gserviceaccount.com")

    with pytest.raises(CredentialsError) as error:
        acquire_drive(DriveItem("1SomeDriveFileId"), drive_options())

    assert "invalid_grant" in str(error.value)
    assert "reader@fake-project.iam.gserviceaccount.com" in str(error.value)
    captured = capsys.readouterr()
    assert_no_secret(drive_fake, str(error.value), captured.out, captured.err)


def test_a_broken_key_file_is_a_clear_error(
    drive_fake: DriveFake, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(broken))

    with pytest.raises(CredentialsError, match="not a readable JSON key file"):
        drive_auth.connect(os.environ, on_colab=False)


def test_a_settings_yaml_in_the_working_directory_is_ignored(
    drive_fake: DriveFake, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "settings.yaml").write_text("client_config_backend: file\nbogus: [\n")
    monkeypatch.chdir(tmp_path)

    client = drive_auth.connect(os.environ, on_colab=False)

    assert client.source.startswith("service account")


def test_the_interactive_flows_raise_instead_of_opening_a_browser(drive_fake: DriveFake) -> None:
    client = drive_auth.connect(os.environ, on_colab=False)

    for flow in (client.auth.LocalWebserverAuth, client.auth.CommandLineAuth):
        with pytest.raises(CredentialsError, match="without a browser"):
            flow()


def test_colab_user_auth_is_adapted_for_pydrive2(
    drive_fake: DriveFake,
    drive_options: Options,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Stand-ins for what Colab provides: google.colab.auth.authenticate_user() and
    # application-default credentials (google-auth user credentials whose refresh goes
    # to the fake's token endpoint).
    import google.auth
    import google.oauth2.credentials

    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS")
    monkeypatch.setenv("MLENV_RUNTIME", "colab")
    calls: list[object] = []
    login = json.loads(drive_fake.write_authorized_user(tmp_path / "adc.json").read_text())

    def authenticate_user() -> None:
        calls.append("authenticate_user")

    def default(scopes: list[str] | None = None, **kwargs: object) -> tuple[object, None]:
        calls.append(tuple(scopes or ()))
        credentials = google.oauth2.credentials.Credentials(
            token=None,
            refresh_token=login["refresh_token"],
            client_id=login["client_id"],
            client_secret=login["client_secret"],
            token_uri=drive_fake.token_uri,
            scopes=scopes,
        )
        return credentials, None

    colab = types.ModuleType("google.colab")
    auth = types.ModuleType("google.colab.auth")
    auth.authenticate_user = authenticate_user  # type: ignore[attr-defined]
    colab.auth = auth  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "google.colab", colab)
    monkeypatch.setitem(sys.modules, "google.colab.auth", auth)
    monkeypatch.setattr(google.auth, "default", default)
    top = drive_fake.add_folder("colab-data")
    drive_fake.add_file("from-colab.txt", b"colab", parent=top)

    result = acquire_drive(DriveItem(top), drive_options())

    assert calls == ["authenticate_user", (drive_auth.DRIVE_SCOPE,)]
    assert (result.path / "from-colab.txt").read_bytes() == b"colab"
    assert drive_fake.count("token") == 1
    captured = capsys.readouterr()
    assert_no_secret(drive_fake, captured.out, captured.err, result.summary_line())


def test_colab_without_google_colab_says_what_to_do(
    drive_fake: DriveFake, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS")
    monkeypatch.setitem(sys.modules, "google.colab", None)

    with pytest.raises(CredentialsError, match=r"google\.colab is not importable"):
        drive_auth.connect(os.environ, on_colab=True)


def test_a_revoked_login_is_a_credentials_error(
    drive_fake: DriveFake, drive_policy: TransferPolicy, monkeypatch: pytest.MonkeyPatch
) -> None:

    saved_login(drive_fake, monkeypatch)
    drive_fake.token_lifetime = 0
    top = drive_fake.add_folder("d")
    client = drive_auth.connect(os.environ, on_colab=False)
    drive_fake.revoke_logins()

    with pytest.raises(CredentialsError, match="invalid_grant") as error:
        list_item(client, top, drive_policy)

    assert "mlenv saved Drive login" in str(error.value)


def test_an_unreachable_token_endpoint_is_a_network_error(
    drive_fake: DriveFake, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket

    from mlenv_magics.errors import TransferError

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead_port = probe.getsockname()[1]
    key_file = Path(os.environ["GOOGLE_APPLICATION_CREDENTIALS"])
    key = json.loads(key_file.read_text())
    key["token_uri"] = f"http://127.0.0.1:{dead_port}/token"
    moved = tmp_path / "moved-sa.json"
    moved.write_text(json.dumps(key))
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(moved))

    with pytest.raises(TransferError, match="token endpoint could not be reached"):
        drive_auth.connect(os.environ, on_colab=False)


def test_service_account_keys_are_signed_without_pyopenssl(
    drive_fake: DriveFake, drive_options: Options, monkeypatch: pytest.MonkeyPatch
) -> None:
    # New pyOpenSSL releases lack OpenSSL.crypto.sign, which oauth2client's default signer
    # calls; the service-account path must work (and refresh) whatever pyOpenSSL is installed.
    import oauth2client.crypt

    def broken_signer(*args: object, **kwargs: object) -> None:
        raise AttributeError("module 'OpenSSL.crypto' has no attribute 'sign'")

    monkeypatch.setattr(oauth2client.crypt.Signer, "from_string", broken_signer)
    drive_fake.token_lifetime = 0  # every token is expired as soon as it is issued
    top = drive_fake.add_folder("signed")
    drive_fake.add_file("a.txt", b"a", parent=top)
    drive_fake.add_file("b.txt", b"b", parent=top)

    result = acquire_drive(DriveItem(top), drive_options())

    assert sorted(p.name for p in result.path.iterdir()) == ["a.txt", "b.txt"]
    assert drive_fake.count("token") > 2
    assert result.summary_line().startswith("drive folder signed")


def test_a_key_without_a_private_key_is_a_clear_error(
    drive_fake: DriveFake, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = json.loads(Path(os.environ["GOOGLE_APPLICATION_CREDENTIALS"]).read_text())
    key["private_key"] = "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n"
    damaged = tmp_path / "damaged-sa.json"
    damaged.write_text(json.dumps(key))
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(damaged))

    with pytest.raises(CredentialsError, match="not a usable service-account key"):
        drive_auth.connect(os.environ, on_colab=False)

    assert drive_fake.count("token") == 0


@pytest.mark.parametrize("pysocks", [True, False])
def test_the_network_hint_names_proxy_and_ca_settings_without_secrets(
    pysocks: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(drive_auth, "_pysocks_installed", lambda: pysocks)
    env = {
        "https_proxy": "http://alice:s3cret-pass@proxy.example:3128/",
        "REQUESTS_CA_BUNDLE": "/etc/corp/ca.pem",
    }

    hint = drive_auth.network_hint(env)

    assert "HTTPS_PROXY=http://proxy.example:3128" in hint
    assert "s3cret-pass" not in hint and "alice" not in hint
    assert "REQUESTS_CA_BUNDLE=/etc/corp/ca.pem" in hint
    assert ("pip install PySocks" in hint) is not pysocks


def test_without_a_proxy_the_hint_says_how_to_set_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(drive_auth, "_pysocks_installed", lambda: False)

    hint = drive_auth.network_hint({})

    assert hint.startswith(" ") and "set HTTPS_PROXY and pip install PySocks" in hint
    assert "CA certificates" not in hint
