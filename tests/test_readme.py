"""The README's promises: its test command is what CI runs; its quick start runs (as a doctest,
collected by pytest from README.md)."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _bash_blocks(text: str) -> list[str]:
    return [b.strip() for b in re.findall(r"```bash\n(.*?)```", text, flags=re.S)]


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    test_command = next(b for b in _bash_blocks(readme) if "pytest" in b)
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert test_command in ci


def test_readme_main_command_runs_relukit_info():
    readme = (ROOT / "README.md").read_text()
    assert any(b.endswith("relukit info") for b in _bash_blocks(readme))
