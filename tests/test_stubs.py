"""The generated API's typed stubs are current; mypy accepts (and refuses) what it should."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _make_stubs():
    spec = importlib.util.spec_from_file_location("make_stubs", ROOT / "scripts" / "make_stubs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_stubs_are_regenerated_from_the_catalog():
    for path, text in _make_stubs().render_all().items():
        assert path.read_text() == text, f"{path} is stale: run python scripts/make_stubs.py"


def _mypy(*paths: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            *(sys.executable, "-m", "mypy", "--ignore-missing-imports"),
            *("--follow-imports=silent", "--no-incremental", *map(str, paths)),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )


@pytest.mark.slow
def test_mypy_accepts_typed_uses_and_refuses_wrong_ones(tmp_path):
    pytest.importorskip("mypy")
    ok = _mypy("tests/typecheck_api.py", *sorted((ROOT / "src" / "relukit").rglob("*.pyi")))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    bad = tmp_path / "bad_use.py"
    bad.write_text(
        "import torch\nimport relukit\nfrom relukit.torch import functional as F\n"
        'F.gelu(torch.ones(2), approximate="fast")\n'
        "relukit.relu(1.0, 2.0)\n"
        "relukit.torch.LeakyReLU(negative_slope='0.1')\n"
    )
    refused = _mypy(bad)
    assert refused.returncode == 1, refused.stdout
    assert "Literal['none', 'tanh']" in refused.stdout
    assert "Too many positional arguments" in refused.stdout
    assert '"negative_slope" to "LeakyReLU" has incompatible type "str"' in refused.stdout
