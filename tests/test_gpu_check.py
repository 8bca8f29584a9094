"""tools/gpu-check, the short check of the GPU path, run on the CPU at a tiny size so that it cannot rot."""
import json
import os
import subprocess
import sys
from pathlib import Path

TOOL = Path(__file__).resolve().parents[1] / "tools" / "gpu-check"


def test_gpu_check_trains_scores_and_reports_on_the_cpu(table_oracle, cifar10_root, nb201_dir, tmp_path):
    env = {**os.environ, "HARNESS_ORACLE": str(table_oracle.path), "OMP_NUM_THREADS": "1"}
    args = ["--device", "cpu", "--channels", "4", "--cells", "1", "--resolution", "8", "--samples", "0.02",
            "--epochs", "2", "--rebn-cells", "5", "--calibration-images", "128", "--valid-images", "128",
            "--data-root", str(cifar10_root), "--splits", str(nb201_dir / "splits"), "--out", str(tmp_path / "c")]
    done = subprocess.run([sys.executable, str(TOOL), *args], capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr
    check = json.loads((tmp_path / "c" / "check.json").read_text())
    assert check["device"] == "CPU" and len(check["images_per_second"]) == 2 and min(check["images_per_second"]) > 0
    assert check["steps"]["angle"]["cells"] == 15625 and check["steps"]["rebn"]["cells"] == 5
    assert -1 <= check["steps"]["angle"]["kendall_tau"] <= 1
    assert "| angle | 15625 |" in (tmp_path / "c" / "report.md").read_text()
    on_cuda = subprocess.run([sys.executable, str(TOOL), *args[2:-1], str(tmp_path / "g"), "--device", "cuda"],
                             capture_output=True, text=True, env=env, timeout=600)
    import torch
    if torch.cuda.is_available():  # the same tiny check on the GPU
        assert on_cuda.returncode == 0 and json.loads((tmp_path / "g" / "check.json").read_text())["device"] != "CPU"
    else:  # a clear refusal, not a traceback
        assert on_cuda.returncode != 0 and "torch sees no GPU" in on_cuda.stderr and "Traceback" not in on_cuda.stderr
