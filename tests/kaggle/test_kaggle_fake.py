"""The Kaggle fake speaks the real protocol: RPC paths, envelopes, 302 to another host, auth."""

from __future__ import annotations

import base64
from pathlib import Path

import requests

from mlenv_magics.testing.kaggle_fake import RULES_MESSAGE, KaggleFake

DATASETS = "v1/datasets.DatasetApiService"
COMPETITIONS = "v1/competitions.CompetitionApiService"


def post(fake: KaggleFake, path: str, body: dict, **headers: str) -> requests.Response:
    return requests.post(
        f"{fake.url}/{path}", json=body, headers=headers, allow_redirects=False, timeout=10
    )


def bearer(fake: KaggleFake) -> dict[str, str]:
    return {"Authorization": f"Bearer {fake.token}"}


def test_get_dataset_reports_the_current_version(kaggle_fake: KaggleFake) -> None:
    kaggle_fake.add_dataset("alice/tiny", versions={1: {"a": b"1"}, 3: {"a": b"333"}})
    answer = post(
        kaggle_fake, f"{DATASETS}/GetDataset", {"ownerSlug": "alice", "datasetSlug": "tiny"}
    )
    assert answer.status_code == 200
    assert answer.json()["currentVersionNumber"] == 3
    legacy_prefix = post(
        kaggle_fake, f"api/{DATASETS}/GetDataset", {"ownerSlug": "alice", "datasetSlug": "tiny"}
    )
    assert legacy_prefix.json()["ref"] == "alice/tiny"


def test_unknown_slug_is_a_404_envelope(kaggle_fake: KaggleFake) -> None:
    answer = post(kaggle_fake, f"{DATASETS}/GetDataset", {"ownerSlug": "no", "datasetSlug": "pe"})
    assert answer.status_code == 404
    assert answer.json() == {"code": 404, "message": "Dataset not found: no/pe"}


def test_listing_pages_until_the_token_is_empty(kaggle_fake: KaggleFake) -> None:
    kaggle_fake.add_dataset("alice/many", files={f"f{i:02}.txt": b"x" for i in range(45)})
    names, token, pages = [], "", 0
    while True:
        body = {"ownerSlug": "alice", "datasetSlug": "many", "pageSize": 20, "pageToken": token}
        page = post(kaggle_fake, f"{DATASETS}/ListDatasetFiles", body).json()
        names += [f["name"] for f in page["datasetFiles"]]
        pages += 1
        token = page["nextPageToken"]
        if not token:
            break
    assert pages == 3 and len(names) == 45 and names == sorted(names)


def test_download_redirects_to_a_signed_url_on_another_host(kaggle_fake: KaggleFake) -> None:
    kaggle_fake.add_dataset("alice/tiny", files={"sub/big.txt": b"hello"})
    body = {"ownerSlug": "alice", "datasetSlug": "tiny", "fileName": "sub/big.txt"}
    answer = post(kaggle_fake, f"{DATASETS}/DownloadDataset", body, **bearer(kaggle_fake))
    assert answer.status_code == 302
    location = answer.headers["Location"]
    assert location.startswith("http://localhost:") and "/big.txt?" in location
    assert "X-Goog-Signature=" in location
    blob = requests.get(location, timeout=10)
    assert blob.content == b"hello" and "md5=" in blob.headers["x-goog-hash"]
    archive = post(
        kaggle_fake, f"{DATASETS}/DownloadDataset", {"ownerSlug": "alice", "datasetSlug": "tiny"}
    )
    assert archive.headers["Location"].split("?")[0].endswith("/tiny.zip")


def test_private_data_needs_valid_credentials(kaggle_fake: KaggleFake) -> None:
    kaggle_fake.add_dataset("alice/secret", files={"a": b"1"}, private=True)
    body = {"ownerSlug": "alice", "datasetSlug": "secret"}
    assert post(kaggle_fake, f"{DATASETS}/GetDataset", body).status_code == 404
    assert (
        post(kaggle_fake, f"{DATASETS}/GetDataset", body, **bearer(kaggle_fake)).status_code == 200
    )
    basic = base64.b64encode(f"{kaggle_fake.username}:{kaggle_fake.key}".encode()).decode()
    assert post(kaggle_fake, f"{DATASETS}/GetDataset", body, Authorization=f"Basic {basic}").ok
    wrong = post(kaggle_fake, f"{DATASETS}/GetDataset", body, Authorization="Bearer nope")
    assert wrong.status_code == 401 and wrong.json()["code"] == 401


def test_competition_rules_not_accepted_is_the_real_403(kaggle_fake: KaggleFake) -> None:
    kaggle_fake.add_competition("titanic", {"train.csv": b"x"}, rules_accepted=False)
    body = {"competitionName": "titanic"}
    anonymous = post(kaggle_fake, f"{COMPETITIONS}/DownloadDataFiles", body)
    assert anonymous.status_code == 401
    denied = post(kaggle_fake, f"{COMPETITIONS}/DownloadDataFiles", body, **bearer(kaggle_fake))
    assert denied.json() == {"code": 403, "message": RULES_MESSAGE}
    listing = post(kaggle_fake, f"{COMPETITIONS}/ListDataFiles", body, **bearer(kaggle_fake))
    assert [f["name"] for f in listing.json()["files"]] == ["train.csv"]


def test_injected_faults_then_recovery(kaggle_fake: KaggleFake) -> None:
    kaggle_fake.add_dataset("alice/tiny", files={"a": b"1"})
    kaggle_fake.fail("GetDataset", 429, retry_after=2)
    kaggle_fake.fail("GetDataset", 500, http_200=True)
    body = {"ownerSlug": "alice", "datasetSlug": "tiny"}
    first = post(kaggle_fake, f"{DATASETS}/GetDataset", body)
    assert (first.status_code, first.headers["Retry-After"]) == (429, "2")
    second = post(kaggle_fake, f"{DATASETS}/GetDataset", body)
    assert second.status_code == 200 and second.json()["code"] == 500
    assert post(kaggle_fake, f"{DATASETS}/GetDataset", body).json()["currentVersionNumber"] == 1
    assert len(kaggle_fake.calls_to("GetDataset")) == 3


def test_attach_endpoint_creates_the_mount(kaggle_fake: KaggleFake) -> None:
    kaggle_fake.add_dataset("alice/tiny", files={"sub/a.txt": b"A"})
    headers = {
        "X-Kaggle-Authorization": f"Bearer {kaggle_fake.user_secrets_token}",
        "X-KAGGLE-PROXY-DATA": kaggle_fake.proxy_token,
    }
    path = "kaggle-jwt-handler/AttachDatasourceUsingJwtRequest"
    body = {"datasetRef": {"OwnerSlug": "alice", "DatasetSlug": "tiny", "VersionNumber": "1"}}
    assert post(kaggle_fake, path, body).status_code == 401
    answer = post(kaggle_fake, path, body, **headers).json()
    assert answer == {"wasSuccessful": True, "result": {"mountSlug": "tiny", "versionNumber": 1}}
    assert kaggle_fake.mount_root is not None
    assert (kaggle_fake.mount_root / "tiny" / "sub" / "a.txt").read_bytes() == b"A"
    missing = post(
        kaggle_fake, path, {"datasetRef": {"OwnerSlug": "x", "DatasetSlug": "y"}}, **headers
    )
    assert missing.json()["wasSuccessful"] is False


def test_colab_cache_endpoints(kaggle_fake: KaggleFake) -> None:
    kaggle_fake.add_dataset("alice/tiny", files={"a": b"1"})
    addr = kaggle_fake.colab_env()["TBE_RUNTIME_ADDR"]
    body = {"owner": "alice", "dataset": "tiny"}
    url = f"http://{addr}/kagglehub/datasets"
    assert requests.post(f"{url}/is_supported", json=body, timeout=10).status_code == 404
    kaggle_fake.colab_cached.add("alice/tiny")
    assert requests.post(f"{url}/is_supported", json=body, timeout=10).status_code == 200
    slug = requests.post(f"{url}/mount", json=body, timeout=10).json()["slug"]
    assert kaggle_fake.colab_mount_root is not None
    assert (kaggle_fake.colab_mount_root / slug / "a").read_bytes() == b"1"


def test_user_secrets_endpoint(kaggle_fake: KaggleFake) -> None:
    kaggle_fake.user_secrets["KAGGLE_API_TOKEN"] = "tok"
    headers = {"X-Kaggle-Authorization": f"Bearer {kaggle_fake.user_secrets_token}"}
    path = "requests/GetUserSecretByLabelRequest"
    answer = post(kaggle_fake, path, {"Label": "KAGGLE_API_TOKEN"}, **headers).json()
    assert answer == {"wasSuccessful": True, "result": {"secret": "tok"}}
    assert post(kaggle_fake, path, {"Label": "NOPE"}, **headers).json()["wasSuccessful"] is False


def test_introspect_and_hello(kaggle_fake: KaggleFake) -> None:
    active = post(
        kaggle_fake, "v1/security.OAuthService/IntrospectToken", {"token": kaggle_fake.token}
    )
    assert active.json()["active"] is True and active.json()["username"] == kaggle_fake.username
    assert post(kaggle_fake, "v1/security.OAuthService/IntrospectToken", {"token": "x"}).json() == {
        "active": False
    }
    hello = post(kaggle_fake, "v1/api.v1.DiagnosticsService/Hello", {}, **bearer(kaggle_fake))
    assert hello.json() == {"userName": kaggle_fake.username}


def test_demo_seed(tmp_path: Path) -> None:
    from mlenv_magics.testing.kaggle_fake import DEMO_COMPETITION, DEMO_DATASET, seed_demo

    with KaggleFake() as fake:
        seed_demo(fake)
        assert DEMO_DATASET in fake.datasets and DEMO_COMPETITION in fake.competitions
        assert fake.env()["MLENV_KAGGLE_API"] == fake.url


def test_list_tree_walks_a_folder(kaggle_fake: KaggleFake) -> None:
    kaggle_fake.add_dataset(
        "alice/tree", files={"top.txt": b"t", "sub/a.txt": b"a", "sub/deep/b.txt": b"b"}
    )
    body = {"ownerSlug": "alice", "datasetSlug": "tree", "datasetVersionNumber": 1, "path": "sub"}
    page = post(kaggle_fake, f"{DATASETS}/ListTreeDatasetFiles", body).json()
    assert [f["name"] for f in page["files"]] == ["sub/a.txt", "sub/deep/b.txt"]
    assert page["directories"] == [{"relativeUrl": "sub/deep"}] and page["nextPageToken"] == ""
