"""Running `python whalebot.py` in a child process for the optimiser's command tests."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.optimize.helpers import base_config
from tests.paths import REPO_ROOT
from whale.config.model import to_dict


def write_config(directory: Path, **changes) -> Path:
    data = to_dict(base_config())
    for key, value in changes.items():
        node = data
        *parents, leaf = key.split("__")
        for p in parents:
            node = node[p]
        node[leaf] = value
    path = directory / "config.json"
    path.write_text(json.dumps(data, indent=2))
    return path


def whalebot(*args: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO_ROOT / "whalebot.py"), *args], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout)


def start(*args: str, cwd: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(REPO_ROOT / "whalebot.py"), *args], cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
