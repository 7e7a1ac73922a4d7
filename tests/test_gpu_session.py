"""scripts/gpu-session, run on the CPU with a tiny sweep: it trains the pending paper-profile sweep with the
most work left and packs what it stored for the session to bring back."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile

import yaml

from scalingbook.lab.store import REPO_ROOT

TINY = {
    "task": {"name": "count", "train_length": 4, "test_length": 5},
    "model": {"n_layers": 1, "n_heads": 2},
    "members": {"seeds": 2, "lr": 3e-3},
    "train": {"steps": 4, "batch_size": 4, "warmup_steps": 1, "log_every": 2, "progress": False},
    "eval": {"n_examples": 8},
}


def test_the_gpu_session_trains_the_largest_pending_paper_sweep_and_packs_its_results(tmp_path):
    folder = tmp_path / "sweeps"
    folder.mkdir()
    small = {**TINY, "name": "gpu-session-test/small", "grid": [{"d_model": 8}]}
    large = {**TINY, "name": "gpu-session-test/large", "grid": [{"d_model": 16}, {"d_model": 24}]}
    (folder / "small.yaml").write_text(yaml.safe_dump(small))
    (folder / "large.yaml").write_text(yaml.safe_dump(large))
    env = {
        **os.environ,
        "DEVICE": "cpu",
        "SWEEPS_DIR": str(folder),
        "GPU_SESSION_SECONDS": "300",
        "SCALINGBOOK_DATA": str(tmp_path / "data"),
        "PYTHON": sys.executable,
    }
    out = tmp_path / "out"
    done = subprocess.run(
        [REPO_ROOT / "scripts" / "gpu-session", out, "abc123"], env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert (out / "session.txt").read_text().startswith("large.yaml on cpu: finished: 2 of 2 runs stored")
    with tarfile.open(out / "results.tar.gz") as packed:
        manifests = [n for n in packed.getnames() if n.endswith("records/" + n.split("/")[-2] + "/manifest.json")]
    assert len(manifests) == 2 and all("gpu-session-test/large" in n for n in manifests)
    stored = next((tmp_path / "data" / "gpu-session-test" / "large" / "records").glob("*/manifest.json"))
    assert yaml.safe_load(stored.read_text())["git_commit"] != "abc123", "a checkout names its own commit"
    assert not (out / "checkpoints.tar.gz").exists(), "finished runs leave no checkpoints"
