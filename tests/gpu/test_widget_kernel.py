"""The widget view inside a real IPython kernel (ipywidgets 7 needs one to open comms)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlenv_magics.gpu.report import WIDGET_MIME
from mlenv_magics.testing.notebook_runner import own_kernel

pytestmark = pytest.mark.kernel

HERE = Path(__file__).resolve().parent
CODE = f"""
import sys
sys.path[:0] = [{str(HERE.parent.parent)!r}, {str(HERE)!r}]
from gpu_kit import A100_MIG, smi_env, with_nvidia_files
from mlenv_magics.gpu import gpu_report
from mlenv_magics.runtime import detect_runtime
runtime = detect_runtime(shell=get_ipython())
report = gpu_report(
    env=smi_env(A100_MIG), path_exists=with_nvidia_files, nvml=False, runtime=runtime
)
print("VIEW", report.widget_view().root.model_id if runtime.widgets_useful else None)
report
"""


def test_bare_report_in_a_kernel_carries_text_html_and_the_widget_view(tmp_path: Path) -> None:
    messages: list[dict] = []  # type: ignore[type-arg]
    with own_kernel(tmp_path) as client:
        client.execute_interactive(CODE, timeout=60, output_hook=messages.append)
    errors = [m["content"] for m in messages if m["msg_type"] == "error"]
    assert not errors, errors
    printed = "".join(m["content"].get("text", "") for m in messages if m["msg_type"] == "stream")
    model_id = printed.split("VIEW ", 1)[1].split()[0]
    [result] = [m["content"]["data"] for m in messages if m["msg_type"] == "execute_result"]
    assert result["text/plain"].startswith("GPU report")
    assert 'data-mlenv-card="0:mig3"' in result["text/html"]
    assert "<style" not in result["text/html"]
    view = result[WIDGET_MIME]
    assert view["model_id"] == model_id and view["version_major"] == 2
    json.dumps(result)
