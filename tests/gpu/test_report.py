"""GpuReport: requirement checks, host guidance, JSON, text, HTML and the widget bundle."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from gpu_kit import A100_MIG, H100, T4, no_nvidia_files

from mlenv_magics.errors import AcceleratorMissingError, MlenvError
from mlenv_magics.gpu.report import WIDGET_MIME
from mlenv_magics.gpu.widget import GpuWidgetView
from mlenv_magics.runtime import Runtime

WIDGET_FRONTEND = Runtime(host="local", frontend="jupyterlab")


def no_gpu(report_for, **env: str):  # type: ignore[no-untyped-def]
    return report_for(None, env=env, path_exists=no_nvidia_files)


@pytest.mark.parametrize(
    ("env", "words"),
    [
        ({"COLAB_RELEASE_TAG": "release-colab_20260917"}, "Runtime → Change runtime type"),
        ({"KAGGLE_KERNEL_RUN_TYPE": "Interactive"}, "Settings → Accelerator"),
        ({"BINDER_SERVICE_HOST": "10.0.0.1"}, "Binder never offers a GPU"),
        ({"LIGHTNING_CLOUDSPACE_HOST": "x"}, "Lightning Studio"),
        ({"PAPERSPACE_NOTEBOOK_REPO_ID": "x"}, "change the machine type"),
        ({"DATABRICKS_RUNTIME_VERSION": "15.4"}, "GPU node type"),
        ({}, "Install the NVIDIA driver"),
    ],
)
def test_guidance_per_host(report_for, env: dict[str, str], words: str) -> None:  # type: ignore[no-untyped-def]
    report = no_gpu(report_for, **env)
    assert report.backend == "none" and not report.has_accelerator
    assert words in report.guidance
    assert words in repr(report)
    assert report.to_dict()["guidance"] == report.guidance


def test_colab_from_vs_code_gets_the_extension_steps(report_for) -> None:  # type: ignore[no-untyped-def]
    report = report_for(
        None,
        env={"COLAB_RELEASE_TAG": "r"},
        path_exists=no_nvidia_files,
        runtime=Runtime(host="colab", frontend="vscode"),
    )
    assert "Colab: Remove Server" in report.guidance
    assert "Runtime → Change runtime type" not in report.guidance


def test_kaggle_guidance_lists_what_each_accelerator_offers(report_for) -> None:  # type: ignore[no-untyped-def]
    text = no_gpu(report_for, KAGGLE_KERNEL_RUN_TYPE="Interactive").guidance
    assert "GPU T4 x2" in text and "TPU v5e-8" in text and "P100" in text


def test_wsl_guidance_points_at_the_windows_driver(report_for) -> None:  # type: ignore[no-untyped-def]
    report = report_for(None, env={"PATH": "/nonexistent"}, path_exists=lambda p: p == "/dev/dxg")
    assert "install the NVIDIA driver on Windows" in report.guidance


def test_colab_gpu_variable_without_a_device_is_not_a_gpu(report_for) -> None:  # type: ignore[no-untyped-def]
    report = no_gpu(
        report_for, COLAB_RELEASE_TAG="r", NVIDIA_VISIBLE_DEVICES="all", CUDA_VERSION="12.5.1"
    )
    assert not report.has_gpu
    with pytest.raises(AcceleratorMissingError, match="No GPU is available") as info:
        report.check(require="gpu")
    assert "Runtime → Change runtime type" in str(info.value)
    assert "Set Hardware accelerator to T4 GPU and press Save" in str(info.value)


def test_kaggle_batch_is_plain_text_with_batch_advice(report_for) -> None:  # type: ignore[no-untyped-def]
    report = no_gpu(report_for, KAGGLE_KERNEL_RUN_TYPE="Batch")
    assert report.batch
    assert report._repr_html_() is None
    assert report._repr_mimebundle_() == {"text/plain": repr(report)}
    assert "save a new version" in report.guidance


@pytest.mark.parametrize("need", ["gpu", "accelerator"])
def test_require_raises_an_mlenv_error_with_the_steps(report_for, need: str) -> None:  # type: ignore[no-untyped-def]
    report = no_gpu(report_for, KAGGLE_KERNEL_RUN_TYPE="Interactive")
    with pytest.raises(AcceleratorMissingError) as info:
        report.check(require=need)
    assert isinstance(info.value, MlenvError)
    assert "Settings → Accelerator" in (info.value.fix or "")
    rendered = info.value._render_traceback_()
    assert rendered[0].startswith("AcceleratorMissingError: No") and len(rendered) < 12


def test_require_tpu_on_a_gpu_machine(report_for) -> None:  # type: ignore[no-untyped-def]
    report = report_for(T4, env={"COLAB_RELEASE_TAG": "r"})
    report.check(require="gpu")
    with pytest.raises(AcceleratorMissingError, match="No TPU") as info:
        report.check(require="tpu")
    assert "v5e-1 TPU" in (info.value.fix or "")


def test_min_memory(report_for) -> None:  # type: ignore[no-untyped-def]
    report = report_for(T4)
    report.check(min_memory_bytes=15 * 1024**3)
    with pytest.raises(AcceleratorMissingError, match=r"Tesla T4, has 15\.0 GiB"):
        report.check(min_memory_bytes=16 * 1024**3)


def test_min_memory_counts_mig_slices_not_the_parent(report_for) -> None:  # type: ignore[no-untyped-def]
    report = report_for(A100_MIG)
    report.check(min_memory_bytes=19 * 1024**3)
    with pytest.raises(AcceleratorMissingError, match=r"19\.5 GiB"):
        report.check(min_memory_bytes=40 * 1024**3)


def test_hidden_gpus_do_not_count(report_for) -> None:  # type: ignore[no-untyped-def]
    report = report_for(T4, env={"CUDA_VISIBLE_DEVICES": "-1"})
    assert report.devices and not report.has_gpu
    assert any("hides every GPU" in w for w in report.warnings)
    with pytest.raises(AcceleratorMissingError, match="CUDA_VISIBLE_DEVICES hides"):
        report.check(require="gpu")


def test_to_dict_is_json_with_the_contract_keys(report_for) -> None:  # type: ignore[no-untyped-def]
    data = json.loads(json.dumps(report_for(A100_MIG).to_dict()))
    for key in ("host", "backend", "driver_version", "cuda_version", "devices", "tpu"):
        assert key in data
    assert data["frameworks"] == [] and data["guidance"] == ""
    device_keys = {
        "index", "name", "uuid", "memory_total_mib", "memory_used_mib",
        "utilization_pct", "temperature_c", "power_w", "mig",
    }  # fmt: skip
    assert all(device_keys <= set(d) for d in data["devices"])
    assert data["devices"][0]["utilization_pct"] is None  # MIG parent: unknown, never 0
    assert data["devices"][1]["mig"]["gpu_instance_id"] == 3


def test_text_and_html_are_complete_on_their_own(report_for) -> None:  # type: ignore[no-untyped-def]
    report = report_for(H100)
    text, html = repr(report), report._repr_html_()
    assert "\x1b[" not in text
    assert "NVIDIA H100 80GB HBM3" in text and "19818 / 81559 MiB" in text
    assert "100 %" in text and "629 / 700 W" in text
    assert html is not None and 'data-mlenv-card="0"' in html and "NVIDIA H100 80GB HBM3" in html
    assert "<script" not in html and "<style" not in html and 'class="mlenv-bar' not in html
    assert 'data-mlenv-meter="memory" data-fill="24.3"' in html  # 19818 / 81559
    assert 'data-mlenv-meter="power" data-fill="89.9"' in html  # 629.45 / 700


def test_no_widget_outside_widget_frontends(report_for) -> None:  # type: ignore[no-untyped-def]
    bundle = report_for(T4)._repr_mimebundle_()
    assert set(bundle) == {"text/plain", "text/html"}


def test_widget_view_in_a_widget_frontend(report_for) -> None:  # type: ignore[no-untyped-def]
    import ipywidgets

    report = report_for(A100_MIG, runtime=WIDGET_FRONTEND)
    if int(ipywidgets.__version__.split(".")[0]) < 8:
        pytest.skip("ipywidgets 7 opens comms only inside a kernel: see test_widget_kernel.py")
    bundle = report._repr_mimebundle_()
    assert bundle["text/plain"] == repr(report) and "data-mlenv-card" in bundle["text/html"]
    view = report._widget_view
    assert bundle[WIDGET_MIME]["model_id"] == view.root.model_id
    assert bundle[WIDGET_MIME]["version_major"] == 2
    [card] = view.cards.children  # one GPU card, its four MIG slices inside
    assert all(f'data-mlenv-card="0:mig{i}"' in card.value for i in range(4))
    assert "12 MiB / 19.5 GiB (0 %)" in card.value
    assert "4 MIG slices of NVIDIA A100-SXM4-80GB · 19.5 GiB each" in view.header.value
    view.refresh(report_for(H100, runtime=WIDGET_FRONTEND))
    [card] = view.cards.children
    assert "19.4 / 79.6 GiB (24 %)" in card.value and "MIG" not in card.value
    view.close()


def test_widgets_can_be_switched_off(report_for) -> None:  # type: ignore[no-untyped-def]
    report = report_for(T4, env={"MLENV_WIDGETS": "0"}, runtime=WIDGET_FRONTEND)
    assert WIDGET_MIME not in report._repr_mimebundle_()


def test_ipywidgets_7_view_reference_is_built_from_the_model_id() -> None:
    view = GpuWidgetView.__new__(GpuWidgetView)
    view.root = SimpleNamespace(model_id="abc123")  # ipywidgets 7: no _repr_mimebundle_
    assert view.mime_data() == {"model_id": "abc123", "version_major": 2, "version_minor": 0}


def test_unknown_backend_switch_is_an_mlenv_error(report_for) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(MlenvError, match="MLENV_GPU_BACKEND"):
        report_for(T4, env={"MLENV_GPU_BACKEND": "cuda"})


def test_secrets_in_the_environment_never_show(report_for, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    report = report_for(T4, env={"KAGGLE_KEY": "s3cr3t-value", "KAGGLE_USERNAME": "alice"})
    rendered = repr(report) + (report._repr_html_() or "") + json.dumps(report.to_dict())
    assert "s3cr3t-value" not in rendered
