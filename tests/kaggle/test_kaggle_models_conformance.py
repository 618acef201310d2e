"""The real kagglehub and kaggle CLI download models and notebook outputs from the fake, and
accept its two leniency knobs (JSON labelled text/html, download RPCs answering 200 with the
bytes): the fake speaks Kaggle's protocol for these calls too."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from mlenv_magics.testing.kaggle_fake import KaggleFake
from mlenv_magics.testing.kaggle_fake_models import framework_enum_name

RUNNER = Path(__file__).with_name("kaggle_cli_runner.py")
FEW = {"config.json": b'{"layers": 2}', "weights/model.bin": bytes(range(256)) * 64}
MANY = {f"shard-{i:02d}.bin": bytes([i]) * (1000 + i) for i in range(30)}  # > kagglehub's 25
OUTPUTS = {"submission.csv": b"id,y\n1,0\n", "plots/loss.txt": b"0.9\n0.5\n"}

# kagglehub has no base-URL setting either; its client reads the PROD endpoint from
# kagglesdk when it is built, so replacing that entry first routes every call to the fake.
HUB = (
    "import json, sys, kagglesdk.kaggle_env as e;"
    "e._env_to_endpoint[e.KaggleEnv.PROD] = sys.argv[1];"
    "import kagglehub;"
    "print('RESULT', json.dumps([{call}]))"
)


def run_hub(fake: KaggleFake, tmp_path: Path, *calls: str) -> list[str]:
    home = tmp_path / "hub-home"
    home.mkdir(exist_ok=True)
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home),
        "KAGGLEHUB_CACHE": str(tmp_path / "hub-cache"),
        "KAGGLE_API_TOKEN": fake.token,
    }
    code = HUB.replace("{call}", ", ".join(calls))
    done = subprocess.run(
        [sys.executable, "-c", code, fake.url],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT "))
    return [str(p) for p in json.loads(line.split(" ", 1)[1])]


def run_cli(fake: KaggleFake, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    home = tmp_path / "cli-home"
    home.mkdir(exist_ok=True)
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home),
        "PYTHONIOENCODING": "utf-8",
        "KAGGLE_USERNAME": fake.username,
        "KAGGLE_KEY": fake.key,
    }
    return subprocess.run(
        [sys.executable, str(RUNNER), fake.url, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def same_files(folder: Path, files: dict[str, bytes]) -> None:
    found = {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in folder.rglob("*")
        if p.is_file() and ".complete" not in p.relative_to(folder).parts
    }
    assert found == files


@pytest.fixture
def hub() -> None:
    pytest.importorskip("kagglehub")


@pytest.mark.usefixtures("hub")
@pytest.mark.parametrize("lenient", [False, True])
def test_kagglehub_downloads_a_small_model_file_by_file(
    kaggle_fake: KaggleFake, tmp_path: Path, lenient: bool
) -> None:
    kaggle_fake.models.add_model("google/gemma/pyTorch/2b", versions={1: {"a": b"x"}, 2: FEW})
    if lenient:
        kaggle_fake.json_content_type = "text/html; charset=utf-8"
        kaggle_fake.inline_downloads = True
    (latest,) = run_hub(
        kaggle_fake, tmp_path, "kagglehub.model_download('google/gemma/pyTorch/2b')"
    )
    assert latest.endswith("/2")
    same_files(Path(latest), FEW)
    downloads = kaggle_fake.calls_to("DownloadModelInstanceVersion")
    assert sorted(c.body["path"] for c in downloads) == sorted(FEW)
    assert all(c.body["framework"] == "MODEL_FRAMEWORK_PY_TORCH" for c in downloads)
    assert kaggle_fake.calls_to("GetModelInstance")


@pytest.mark.usefixtures("hub")
def test_kagglehub_takes_the_archive_of_a_model_with_more_than_a_page(
    kaggle_fake: KaggleFake, tmp_path: Path
) -> None:
    kaggle_fake.models.add_model("alice/big/jax/base", MANY)
    (path,) = run_hub(kaggle_fake, tmp_path, "kagglehub.model_download('alice/big/jax/base/1')")
    same_files(Path(path), MANY)
    (download,) = kaggle_fake.calls_to("DownloadModelInstanceVersion")
    assert "path" not in download.body  # the tar.gz of the whole version
    listing = kaggle_fake.calls_to("ListModelInstanceVersionFiles")
    assert [c.body.get("pageToken", "") for c in listing] == [""]  # only the first page


@pytest.mark.usefixtures("hub")
def test_kagglehub_one_model_file_and_a_gated_model(
    kaggle_fake: KaggleFake, tmp_path: Path
) -> None:
    kaggle_fake.models.add_model("google/gemma/keras/2b", FEW, gated=True)
    code = (
        "import kagglehub\n"
        "try:\n"
        "    kagglehub.model_download('google/gemma/keras/2b/1', path='config.json')\n"
        "except Exception as error:\n"
        "    print('FAILED', error)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", HUB.split("import kagglehub;")[0] + "\n" + code, kaggle_fake.url],
        env={
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(tmp_path),
            "KAGGLEHUB_CACHE": str(tmp_path / "c"),
            "KAGGLE_API_TOKEN": kaggle_fake.token,
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert "FAILED" in done.stdout and "403" in done.stdout, done.stdout + done.stderr
    kaggle_fake.models.accept_licence("google/gemma/keras/2b")
    (one,) = run_hub(
        kaggle_fake, tmp_path, "kagglehub.model_download('google/gemma/keras/2b/1', 'config.json')"
    )
    assert Path(one).read_bytes() == FEW["config.json"]


@pytest.mark.usefixtures("hub")
@pytest.mark.parametrize("archive", ["tar.gz", "zip"])
def test_kagglehub_downloads_notebook_outputs(
    kaggle_fake: KaggleFake, tmp_path: Path, archive: str
) -> None:
    kaggle_fake.models.notebook_archive = archive
    kaggle_fake.models.add_notebook("alice/train-run", {"old.txt": b"v1"})
    kaggle_fake.models.add_notebook("alice/train-run", OUTPUTS)
    whole, old, one = run_hub(
        kaggle_fake,
        tmp_path,
        "kagglehub.notebook_output_download('alice/train-run')",
        "kagglehub.notebook_output_download('alice/train-run/versions/1', force_download=True)",
        "kagglehub.notebook_output_download('alice/train-run', path='plots/loss.txt')",
    )
    same_files(Path(whole), OUTPUTS)
    assert (Path(old) / "old.txt").read_bytes() == b"v1"
    assert Path(one).read_bytes() == OUTPUTS["plots/loss.txt"]
    first = kaggle_fake.calls_to("GetKernel")[0].body
    assert first == {"userName": "alice", "kernelSlug": "train-run"}
    versions = [c.body.get("versionNumber") for c in kaggle_fake.calls_to("DownloadKernelOutput")]
    assert versions == [2, 1, 2]


@pytest.mark.usefixtures("hub")
def test_kagglehub_attaches_models_and_notebooks_inside_kaggle(
    kaggle_fake: KaggleFake, tmp_path: Path
) -> None:
    kaggle_fake.models.add_model("google/gemma/pyTorch/2b", FEW)
    kaggle_fake.models.add_notebook("alice/train-run", OUTPUTS)
    home = tmp_path / "hub-home"
    home.mkdir()
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(home)}
    env |= kaggle_fake.kaggle_notebook_env()
    code = (
        "import json, kagglehub;"
        "print('RESULT', json.dumps([kagglehub.model_download('google/gemma/pyTorch/2b'),"
        " kagglehub.notebook_output_download('alice/train-run')]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]
    line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT "))
    model, outputs = (Path(p) for p in json.loads(line.split(" ", 1)[1]))
    root = kaggle_fake.mount_root
    assert root is not None
    assert model == root / "models/google/gemma/pytorch/2b/1"
    same_files(model, FEW)
    assert outputs == root / "notebooks/alice/train-run"
    same_files(outputs, OUTPUTS)
    (attach_model, attach_kernel) = kaggle_fake.calls_to("attach")
    assert attach_model.body["modelRef"]["Framework"] == "pyTorch"
    assert attach_kernel.body["kernelRef"] == {"OwnerSlug": "alice", "KernelSlug": "train-run"}


@pytest.mark.usefixtures("hub")
def test_kagglehub_mounts_a_model_from_colabs_cache(
    kaggle_fake: KaggleFake, tmp_path: Path
) -> None:
    kaggle_fake.models.add_model("google/gemma/pyTorch/2b", FEW)
    kaggle_fake.models.colab_cached.add("google/gemma/pyTorch/2b")
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path)}
    env |= kaggle_fake.colab_env()
    env["KAGGLE_API_TOKEN"] = kaggle_fake.token
    code = "import kagglehub; print('RESULT', kagglehub.model_download('google/gemma/pyTorch/2b'))"
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]
    path = Path(done.stdout.split("RESULT ", 1)[1].strip())
    same_files(path, FEW)
    assert [c.method for c in kaggle_fake.calls] == [
        "colab-models:is_supported",
        "colab-models:mount",
    ]


@pytest.mark.parametrize("lenient", [False, True])
def test_kaggle_cli_downloads_a_model_version(
    kaggle_fake: KaggleFake, tmp_path: Path, lenient: bool
) -> None:
    kaggle_fake.models.add_model("alice/big/pyTorch/base", MANY)
    if lenient:
        kaggle_fake.json_content_type = "text/html; charset=utf-8"
        kaggle_fake.inline_downloads = True
    out = tmp_path / "model"
    ref = "alice/big/pyTorch/base/1"
    done = run_cli(
        kaggle_fake, tmp_path, "models", "instances", "versions", "download", ref, "-p", str(out)
    )
    assert done.returncode == 0, done.stderr[-2000:] + done.stdout[-2000:]
    with tarfile.open(out / "big.tar.gz") as archive:
        members = {m.name: archive.extractfile(m).read() for m in archive if m.isfile()}  # type: ignore[union-attr]
    assert members == MANY
    (download,) = kaggle_fake.calls_to("DownloadModelInstanceVersion")
    assert download.body["framework"] == "MODEL_FRAMEWORK_PY_TORCH"
    assert download.body["versionNumber"] == 1


def test_kaggle_cli_downloads_notebook_outputs(kaggle_fake: KaggleFake, tmp_path: Path) -> None:
    kaggle_fake.models.add_notebook("alice/train-run", OUTPUTS)
    out = tmp_path / "outputs"
    done = run_cli(kaggle_fake, tmp_path, "kernels", "output", "alice/train-run", "-p", str(out))
    assert done.returncode == 0, done.stderr[-2000:] + done.stdout[-2000:]
    for name, data in OUTPUTS.items():
        assert (out / name).read_bytes() == data


def test_framework_names_are_kagglesdks_enum() -> None:
    from kagglesdk.models.types.model_enums import ModelFramework

    from mlenv_magics.data.sources import FRAMEWORKS

    names = {member.name for member in ModelFramework} - {"MODEL_FRAMEWORK_UNSPECIFIED"}
    assert {framework_enum_name(spelling) for spelling in FRAMEWORKS} == names
