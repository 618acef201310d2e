"""What the security review found sound, kept so: no shell, eval, pickle or disabled TLS
checks; nvidia-smi without a shell and with a timeout; XML entity attacks refused; setuid bits
stripped; redirects bounded; TLS verified; prune never follows symlinks; no secret in normal
output, progress or JSON."""

from __future__ import annotations

import ast
import io
import json
import os
import stat
import sys
import time
import zipfile
from pathlib import Path

import pytest

import mlenv_magics
from mlenv_magics import add_data
from mlenv_magics.cache import Cache
from mlenv_magics.cache_command import prune_cache
from mlenv_magics.cli import main
from mlenv_magics.errors import ServerError, TransferError
from mlenv_magics.gpu import gpu_report
from mlenv_magics.testing.kaggle_fake import KaggleFake
from mlenv_magics.transfer import RemoteFile, TransferPolicy, fetch_files, make_session

PACKAGE = Path(mlenv_magics.__file__).parent
FAKE_SMI = Path(__file__).resolve().parent.parent / "fixtures" / "bin" / "nvidia-smi"
T4 = FAKE_SMI.parent.parent / "nvidia-smi" / "t4-from-influxdata-telegraf.xml"
FAST = TransferPolicy(max_attempts=2, backoff_base=0.0, sleep=lambda seconds: None)


def _calls_and_keywords(tree: ast.AST) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = ast.unparse(node.func)
            if name in ("eval", "exec", "yaml.load", "os.system", "os.popen"):
                found.append(name)
            for keyword in node.keywords:
                value = ast.unparse(keyword.value)
                if (keyword.arg, value) in (("shell", "True"), ("verify", "False")):
                    found.append(f"{keyword.arg}={value}")
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names: list[str | None] = [alias.name for alias in node.names]
            if isinstance(node, ast.ImportFrom):
                names.append(node.module)
            for imported in names:
                if imported and imported.split(".")[0] in ("pickle", "marshal", "shelve", "dill"):
                    found.append(f"import {imported}")
    return found


def test_the_package_has_no_shell_eval_pickle_or_disabled_tls_check() -> None:
    offenders = {
        str(path.relative_to(PACKAGE)): found
        for path in sorted(PACKAGE.rglob("*.py"))
        if (found := _calls_and_keywords(ast.parse(path.read_text(encoding="utf-8"))))
    }
    assert offenders == {}


def _gpu_report(path_dir: Path, fixture: Path | None = None) -> object:
    env = {"PATH": os.pathsep.join([str(path_dir), os.path.dirname(sys.executable), "/bin"])}
    if fixture is not None:
        env["MLENV_FAKE_SMI_FIXTURE"] = str(fixture)
    return gpu_report(
        env=env,
        sysfs_root=str(path_dir / "no-sysfs"),
        path_exists=lambda path: path in {"/dev/nvidiactl", "/dev/nvidia0"},
        nvml=False,
        find_spec=lambda name: None,
        modules={},
        system="linux",
        pid=1,
    )


def test_nvidia_smi_runs_without_a_shell(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "bin;touch PWNED;$(touch PWNED2)"
    folder.mkdir()
    (folder / "nvidia-smi").symlink_to(FAKE_SMI)
    monkeypatch.chdir(tmp_path)  # where a shell would have created them
    report = _gpu_report(folder, T4)
    assert [d.name for d in report.devices] == ["Tesla T4"]  # type: ignore[attr-defined]
    assert not list(tmp_path.glob("PWNED*"))


def test_a_hanging_nvidia_smi_is_given_up_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlenv_magics.gpu import smi_xml

    monkeypatch.setattr(smi_xml, "SMI_TIMEOUT_S", 0.5)
    hanging = tmp_path / "nvidia-smi"
    hanging.write_text("#!/bin/sh\nexec sleep 30\n")
    hanging.chmod(0o755)
    began = time.monotonic()
    report = _gpu_report(tmp_path)
    assert time.monotonic() - began < 10
    assert report.backend == "none"  # type: ignore[attr-defined]
    assert any("did not answer within" in note for note in report.notes)  # type: ignore[attr-defined]


LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'
        for i in range(1, 10)
    )
    + "]><nvidia_smi_log><driver_version>&lol9;</driver_version></nvidia_smi_log>"
)
EXTERNAL = (
    '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY secret SYSTEM "file://{path}">]>'
    "<nvidia_smi_log><driver_version>&secret;</driver_version></nvidia_smi_log>"
)


@pytest.mark.parametrize("attack", ["billion-laughs", "external-entity"])
def test_xml_entity_attacks_from_nvidia_smi_are_refused(tmp_path: Path, attack: str) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("the-secret-content")
    document = LAUGHS if attack == "billion-laughs" else EXTERNAL.format(path=secret)
    fixture = tmp_path / "hostile.xml"
    fixture.write_text(document)
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "nvidia-smi").symlink_to(FAKE_SMI)
    report = _gpu_report(tmp_path / "bin", fixture)
    shown = repr(report) + json.dumps(report.to_dict())  # type: ignore[attr-defined]
    assert "the-secret-content" not in shown and "lollollol" not in shown
    assert report.driver_version in (None, "")  # type: ignore[attr-defined]


def test_setuid_and_setgid_bits_are_stripped(kaggle_fake: KaggleFake) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, mode in (("tool", 0o106777), ("lib.so", 0o102777), ("data", 0o101666)):
            info = zipfile.ZipInfo(name, date_time=(2025, 1, 1, 0, 0, 0))
            info.external_attr = mode << 16
            archive.writestr(info, b"bytes")
    kaggle_fake.add_dataset("alice/suid", {"tool": b"bytes"}, archive=buffer.getvalue())
    path = add_data("alice/suid", quiet=True)
    for name in ("tool", "lib.so", "data"):
        mode = (path / name).stat().st_mode
        assert not mode & (stat.S_ISUID | stat.S_ISGID | stat.S_ISVTX)
        assert not mode & 0o022  # nobody else may write it either


def test_a_redirect_loop_on_the_blob_host_stops_after_ten(
    kaggle_fake: KaggleFake, tmp_path: Path
) -> None:
    served = tmp_path / "a.csv"
    served.write_bytes(b"1\n")
    kaggle_fake.add_dataset("alice/loop", {"a.csv": served})
    blob = kaggle_fake.dataset_file_blob("alice/loop", "a.csv")
    kaggle_fake.blobs.faults(blob, redirect_to=kaggle_fake.blobs.url_for(blob))
    with pytest.raises(ServerError, match="Too many redirects"):
        add_data("alice/loop", files=["a.csv"], quiet=True, policy=FAST)
    assert kaggle_fake.blobs.stats(blob).requests == 11


def test_a_redirect_loop_on_the_api_stops_after_ten(kaggle_fake: KaggleFake) -> None:
    kaggle_fake.add_dataset("alice/loop", {"a.csv": b"1"})
    again = kaggle_fake.url + "/v1/datasets.DatasetApiService/GetDataset"
    kaggle_fake.redirect("*", again, times=100)
    with pytest.raises(ServerError, match="redirected more than 10 times"):
        add_data("alice/loop", quiet=True, policy=FAST)
    assert len(kaggle_fake.calls) == 11


def test_tls_is_verified(tmp_path: Path) -> None:
    from servers import Answers, serving

    with (
        serving(Answers(body=b"x"), tls_dir=tmp_path / "tls") as (port, _cert),
        make_session({}) as session,
        pytest.raises(TransferError, match="TLS verification"),
    ):
        fetch_files(
            session,
            [RemoteFile("f", url=f"https://127.0.0.1:{port}/f")],
            tmp_path / "dest",
            partial_dir=tmp_path / "partial",
            policy=FAST,
        )


def test_prune_never_follows_symlinks(tmp_path: Path) -> None:
    outside = tmp_path / "precious"
    outside.mkdir()
    (outside / "keep.txt").write_text("keep")
    cache = Cache(tmp_path / "cache")
    entry = cache.entry("kaggle", "datasets", "alice", "tiny", "1")
    with entry.publish({"source": "test"}) as folder:
        (folder / "link").symlink_to(outside, target_is_directory=True)
    staging = cache.root / ".staging"
    (staging / "kaggle~datasets~bob~x~1.abc").symlink_to(outside, target_is_directory=True)
    result = prune_cache(cache, remove_all=True)
    assert result.removed_entries == ["kaggle/datasets/alice/tiny/1"]
    assert (outside / "keep.txt").read_text() == "keep"
    assert not any(staging.iterdir())


def test_no_secret_in_output_progress_or_json(
    kaggle_fake: KaggleFake, capsys: pytest.CaptureFixture[str]
) -> None:
    kaggle_fake.add_competition("titanic", {"train.csv": b"a\n" * 1000})
    path = add_data("competition:titanic")  # progress bar and summary line
    assert main(["info", "--json"]) == 0
    assert main(["info"]) == 0
    assert main(["cache", "list", "--json"]) == 0
    captured = capsys.readouterr()
    shown = captured.out + captured.err + repr(path)
    assert "train.csv" in shown or "titanic" in shown
    assert kaggle_fake.token not in shown
