"""``run_on_kaggle`` against the fake, whose pushed notebooks really run."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from mlenv_magics.errors import MlenvError
from mlenv_magics.kaggle_run import (
    KernelBusyError,
    PushRejectedError,
    RemoteOptionError,
    RemoteRunError,
    RunOptions,
    kaggle_output,
    run_on_kaggle,
)
from mlenv_magics.kaggle_run.client import KernelsClient
from mlenv_magics.testing.kaggle_fake import KaggleFake

from .remote_kit import FakeTime, Recorder

TRAIN = """\
import os, json
print("epoch 1 loss 0.5")
os.makedirs("sub", exist_ok=True)
open("sub/metrics.json", "w").write(json.dumps({"loss": 0.5}))
open("model.pt", "wb").write(b"weights" * 100)
os.makedirs(".cache/huggingface", exist_ok=True)
open(".cache/huggingface/blob", "w").write("x" * 1000)
from IPython.display import HTML
HTML("<table><tr><td>loss</td><td>0.5</td></tr></table>")
"""


def run(code: str, client: KernelsClient, time: FakeTime, recorder: Recorder, **options: object):
    return run_on_kaggle(
        code, RunOptions(**options), reporter=recorder, client=client, timing=time.timing()
    )


def test_a_cell_runs_on_kaggle_and_its_results_come_back(
    fake: KaggleFake, client: KernelsClient, fake_time: FakeTime, recorder: Recorder
) -> None:
    fake.kernels.queue_seconds = 0.2
    result = run(TRAIN, client, fake_time, recorder, accelerator="gpu")

    assert result.status == "complete" and result.version == 1
    assert result.ref.startswith(f"{fake.username}/mlenv-")
    assert result.out == Path.cwd() / "kaggle_runs" / result.ref.split("/")[1] / "v1"
    assert (result.out / "model.pt").read_bytes() == b"weights" * 100
    assert json.loads((result.out / "sub" / "metrics.json").read_text()) == {"loss": 0.5}
    assert sorted(result.files) == ["__notebook__.ipynb", "model.pt", "sub/metrics.json"]
    assert result.skipped == [".cache/huggingface/blob"] and not (result.out / ".cache").exists()
    assert "epoch 1 loss 0.5" in result.log and "epoch 1 loss 0.5" in recorder.log_text
    html = [
        o["data"]["text/html"] for o in recorder.shown_outputs if "text/html" in o.get("data", {})
    ]
    assert html == ["<table><tr><td>loss</td><td>0.5</td></tr></table>"]
    assert recorder.statuses[0] == "queued" and recorder.statuses[-1] == "complete"
    assert any(n.startswith("Kaggle GPU quota: 29.0 h of 30.0 h left") for n in recorder.notices)
    push = fake.calls_to("SaveKernel")[-1].body
    assert push["machineShape"] == "NvidiaTeslaT4" and push["kernelType"] == "notebook"
    assert push["isPrivate"] is True and push["enableInternet"] is True
    assert json.loads(push["text"])["cells"][0]["source"] == TRAIN
    assert all(s >= 5 for s in fake_time.sleeps)
    assert result.to_dict()["files"] == result.files and result.to_dict()["status"] == "complete"


def test_the_same_cell_keeps_its_kernel_and_a_rerun_is_the_next_version(
    fake: KaggleFake, client: KernelsClient, fake_time: FakeTime, recorder: Recorder
) -> None:
    first = run("print(1)", client, fake_time, recorder)
    second = run("print(1)", client, fake_time, recorder)
    other = run("print(2)", client, fake_time, recorder)
    assert first.ref == second.ref != other.ref
    assert (first.version, second.version) == (1, 2)
    assert second.out is not None and second.out.name == "v2"


def test_a_failing_cell_raises_with_the_remote_traceback_and_the_url(
    fake: KaggleFake, client: KernelsClient, fake_time: FakeTime, recorder: Recorder
) -> None:
    code = (
        "print('before')\nopen('partial.txt', 'w').write('kept')\nraise ValueError('bad shape 3x4')"
    )
    with pytest.raises(RemoteRunError) as caught:
        run(code, client, fake_time, recorder)
    text = str(caught.value)
    assert "ValueError: bad shape 3x4" in text and "https://www.kaggle.com/code/" in text
    assert "\x1b[" not in text
    run_result = caught.value.run
    assert run_result.status == "error" and run_result.out is not None
    assert (run_result.out / "partial.txt").read_text() == "kept"  # results still fetched
    assert isinstance(caught.value, MlenvError)


def test_a_push_kaggle_rejects_raises_its_text_and_what_to_do(
    fake: KaggleFake, client: KernelsClient, fake_time: FakeTime, recorder: Recorder
) -> None:
    fake.kernels.reject_push("Maximum batch GPU session count of 2 reached.")
    with pytest.raises(PushRejectedError) as caught:
        run("print(1)", client, fake_time, recorder, accelerator="gpu")
    assert "Maximum batch GPU session count of 2 reached." in str(caught.value)
    assert "wait for one to end" in str(caught.value)
    assert fake.kernels.kernels == {}


def test_no_second_session_on_a_kernel_that_is_still_running(
    fake: KaggleFake, client: KernelsClient, fake_time: FakeTime, recorder: Recorder, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    code = f"import os, time\nwhile not os.path.exists({str(gate)!r}): time.sleep(0.02)"
    detached = run(code, client, fake_time, recorder, detach=True)
    assert detached.status == "queued" and detached.out is None
    with pytest.raises(KernelBusyError) as caught:
        run(code, client, fake_time, recorder)
    assert f"%mlenv_kaggle status {detached.ref}" in str(caught.value)
    assert len(fake.calls_to("SaveKernel")) == 1
    gate.touch()
    assert fake.kernels.wait_until(detached.ref, {"COMPLETE"})


def test_the_log_is_shown_while_the_run_is_still_going(
    fake: KaggleFake, client: KernelsClient, fake_time: FakeTime, recorder: Recorder, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    code = (
        "import os, time\nprint('step 1 done', flush=True)\n"
        f"while not os.path.exists({str(gate)!r}): time.sleep(0.02)\nprint('step 2 done')"
    )
    seen_while_running: list[bool] = []

    def open_gate_after_first_line() -> None:
        arrived = recorder.wait_for_log("step 1 done")
        ref = next(iter(fake.kernels.kernels))
        seen_while_running.append(arrived and fake.kernels.kernel(ref).latest.status == "RUNNING")
        gate.touch()

    opener = threading.Thread(target=open_gate_after_first_line)
    opener.start()
    result = run(code, client, fake_time, recorder)
    opener.join(10)
    assert seen_while_running == [True]
    assert recorder.log_text.count("step 1 done") == 1 and "step 2 done" in recorder.log_text
    assert result.log == "step 1 done\nstep 2 done\n"


def test_expired_output_urls_are_renewed_and_many_files_are_paged(
    fake: KaggleFake, client: KernelsClient, fake_time: FakeTime, recorder: Recorder
) -> None:
    fake.kernels.expire_output_urls = True
    code = "for i in range(45):\n    open(f'part-{i:02d}.txt', 'w').write(str(i) * 10)"
    result = run(code, client, fake_time, recorder)
    assert len(result.files) == 46  # 45 parts and the executed notebook, over three pages
    assert (result.out / "part-44.txt").read_text() == "44" * 10
    pages = [c.body.get("pageToken") for c in fake.calls_to("ListKernelSessionOutput")]
    assert {"", "20", "40"} <= set(pages)
    blob = fake.kernels.output_blob(result.ref, 1, "part-00.txt")
    assert fake.blobs.stats(blob).statuses[:2] == (403, 200)


def test_hidden_folders_come_only_when_asked(
    fake: KaggleFake, client: KernelsClient, fake_time: FakeTime, recorder: Recorder
) -> None:
    result = run(TRAIN, client, fake_time, recorder, include_hidden=True)
    assert (result.out / ".cache" / "huggingface" / "blob").read_text() == "x" * 1000
    assert result.skipped == []


def test_data_sources_are_attached_and_mounted_on_the_remote_machine(
    fake: KaggleFake, client: KernelsClient, fake_time: FakeTime, recorder: Recorder
) -> None:
    fake.add_dataset("alice/tiny", files={"train.csv": b"a,b\n1,2\n"})
    fake.add_competition("titanic", files={"test.csv": b"id\n1\n"})
    code = (
        "import os\nroot = os.environ['KAGGLE_CACHE_MOUNT_FOLDER']\n"
        "print(open(root + '/tiny/train.csv').read() + open(root + '/titanic/test.csv').read())"
    )
    result = run(
        code,
        client,
        fake_time,
        recorder,
        data=("alice/tiny", "https://www.kaggle.com/competitions/titanic", "bob/missing"),
        internet=False,
    )
    assert "a,b\n1,2\nid\n1\n" in result.log
    push = fake.calls_to("SaveKernel")[-1].body
    assert push["datasetDataSources"] == ["alice/tiny", "bob/missing"]
    assert push["competitionDataSources"] == ["titanic"] and push["enableInternet"] is False
    assert any("bob/missing" in n and "did not attach" in n for n in recorder.notices)


def test_models_and_notebooks_go_to_their_own_lists(
    fake: KaggleFake, client: KernelsClient, fake_time: FakeTime, recorder: Recorder
) -> None:
    data = ("model:google/gemma/PyTorch/2b/3", "notebook:alice/feature-prep")
    run("print(1)", client, fake_time, recorder, data=data, detach=True)
    push = fake.calls_to("SaveKernel")[-1].body
    assert push["modelDataSources"] == ["google/gemma/pytorch/2b/3"]
    assert push["kernelDataSources"] == ["alice/feature-prep"]


@pytest.mark.parametrize("shape", ["p100", "NvidiaTeslaP100", "tpuv38"])
def test_retired_machines_are_explained_not_remapped(
    fake: KaggleFake, client: KernelsClient, fake_time: FakeTime, recorder: Recorder, shape: str
) -> None:
    with pytest.raises(RemoteOptionError, match="retired"):
        run("print(1)", client, fake_time, recorder, accelerator=shape)
    assert fake.calls_to("SaveKernel") == []


def test_no_quota_left_stops_before_the_push(
    fake: KaggleFake, client: KernelsClient, fake_time: FakeTime, recorder: Recorder
) -> None:
    fake.kernels.gpu_quota = {"timeUsed": "108000s", "totalTimeAllowed": "108000s"}
    with pytest.raises(MlenvError, match="No Kaggle GPU time is left"):
        run("print(1)", client, fake_time, recorder, accelerator="gpu")
    assert fake.calls_to("SaveKernel") == []


def test_output_later_fetches_a_finished_run(
    fake: KaggleFake, client: KernelsClient, recorder: Recorder
) -> None:
    fake.kernels.add_finished(
        f"{fake.username}/earlier-run",
        {"result.csv": b"1,2\n"},
        log=[{"stream_name": "stdout", "time": 0.1, "data": "done\n"}],
    )
    result = kaggle_output(f"{fake.username}/earlier-run", client=client, reporter=recorder)
    assert result.status == "complete" and result.version == 1
    assert (result.out / "result.csv").read_bytes() == b"1,2\n"
    assert (result.out / "earlier-run.log").read_text() == "done\n"
