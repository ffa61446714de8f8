"""Take README's screenshot of a ``relukit compare`` report with headless Chromium.

Run: ``python scripts/screenshot_report.py RUN_DIR`` (a folder ``relukit compare`` wrote) →
``docs/report.png``, the top 1280×1100 pixels of ``RUN_DIR/report.html`` as Chromium renders it
(Debian's ``chromium``; ``.ci/run`` installs it for tests/test_lab.py).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "report.png"


def main(run_dir: str) -> None:
    report = (Path(run_dir) / "report.html").resolve()
    if not report.is_file():
        raise SystemExit(f"no report.html in {run_dir}")
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        raise SystemExit("chromium not found (Debian: apt-get install chromium)")
    OUT.parent.mkdir(exist_ok=True)
    subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         "--window-size=1280,1100", f"--screenshot={OUT}", report.as_uri()],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    print(f"wrote {OUT}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: python scripts/screenshot_report.py RUN_DIR")
    main(sys.argv[1])
