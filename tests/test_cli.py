"""The ``relukit`` command line: ``relukit info [NAME]`` and ``python -m relukit``."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

import relukit
from relukit import cli
from relukit.lab._spec import unicode_formula


def test_info_lists_the_catalog_and_the_seed_values(capsys):
    assert cli.main(["info"]) == 0
    out = capsys.readouterr().out
    for a in relukit.catalog:
        assert a.name in out and a.kink in out
    seed_row = next(line for line in out.splitlines() if line.startswith("relu()"))
    assert seed_row.split()[1:] == ["f", "0", "0", "0", "1.2", "5"]
    assert "keras.ops defaults to the tanh form" in out  # a differing default, from the catalog


def test_info_groups_the_catalog_by_family(capsys):
    from relukit._catalog import FAMILIES

    assert cli.main(["info"]) == 0
    out = capsys.readouterr().out
    tables = out.split("Where other frameworks differ")[0]
    starts = [tables.index(f"\n{family}:\n") for family in FAMILIES]
    assert starts == sorted(starts)
    for a in relukit.catalog:
        i = starts[FAMILIES.index(a.family)]
        end = min([s for s in starts if s > i], default=len(tables))
        assert f"\n{a.name} " in tables[i:end], (a.name, a.family)


@pytest.mark.parametrize("activation", relukit.catalog, ids=lambda a: a.name)
def test_info_name(capsys, activation):
    assert cli.main(["info", activation.name]) == 0
    out = capsys.readouterr().out
    # readable Unicode math, never raw LaTeX (issue #14 item 6)
    assert unicode_formula(activation.formula) in out
    assert unicode_formula(activation.derivative_formula) in out
    assert "\\" not in out
    assert all(s.framework in out for s in activation.spellings)
    assert "f'" in out  # the derivative row of the value table


def test_info_unknown_name_exits_with_usage(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["info", "swish"])
    assert exc.value.code == 2
    assert "invalid choice: 'swish'" in capsys.readouterr().err


@pytest.mark.slow  # subprocesses
def test_python_dash_m_and_console_script():
    out = subprocess.run(
        [sys.executable, "-m", "relukit", "info", "relu"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out.startswith("ReLU (relu), rectifier")
    script = Path(sys.executable).with_name("relukit")
    if not script.exists():
        pytest.skip("relukit is not installed as a console script in this environment")
    env = {**os.environ, "PYTHONWARNINGS": "error"}
    out = subprocess.run(
        [str(script), "info"], capture_output=True, text=True, check=True, env=env
    ).stdout
    assert "relukit catalog" in out


def test_info_native_says_whether_the_kernels_are_active(capsys):
    pytest.importorskip("torch")
    from relukit.torch import _native

    assert cli.main(["info", "--native"]) == 0
    out = capsys.readouterr().out
    want = "active (loaded from" if _native.ops() is not None else "not active ("
    assert want in out
