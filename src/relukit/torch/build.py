"""Build relukit's native CPU kernels ahead of time: ``python -m relukit.torch.build``.

For images and cluster jobs: run it once where the model will run (the build is keyed by the
CPU's flags and torch's version), and the first forward call no longer waits ~20 s for the
compiler. It prints where the library is and exits 1, with the reason, if it cannot be built.
"""

from __future__ import annotations

import sys

from . import _native


def main() -> int:
    if _native.ops() is None:
        print(f"relukit.torch: native kernels unavailable: {_native.ops.reason}", file=sys.stderr)
        return 1
    print(f"relukit.torch: native kernels ready ({_native.ops.reason})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
