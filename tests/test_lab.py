"""The lab (issue #14): specs, formulas, verdict rules on synthetic records, renderers, and the
``compare`` / ``report`` / ``plot`` commands (the full ``--quick`` run is marked slow)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

import relukit
from relukit import lab
from relukit.cli import main
from relukit.lab._claims import CLAIMS, Evidence, judge
from relukit.lab._records import CompareResult, GradientRecord, RunRecord, SpeedRecord
from relukit.lab._render import terminal, to_html
from relukit.lab._spec import ActivationSpec, LabError, printable, unicode_formula

ROOT = Path(__file__).resolve().parents[1]


# --- specs and formulas ------------------------------------------------------------------------


def test_names_are_case_insensitive_and_take_parameters():
    assert ActivationSpec.parse("GELU").name == "gelu"
    assert ActivationSpec.parse("leakyrelu").name == "leaky_relu"
    spec = ActivationSpec.parse("Leaky_ReLU:negative_slope=0.2")
    assert spec.params == {"negative_slope": 0.2}
    assert ActivationSpec.parse("gelu:approximate=tanh").params == {"approximate": "tanh"}


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("nope", "valid: relu, leaky_relu"),
        ("elu:beta=1", "its parameters: alpha"),
        ("elu:alpha=x", "alpha must be a real number"),
        ("gelu:approximate=fast", "approximate must be one of"),
        ("celu:alpha=-1", "positive"),
    ],
)
def test_bad_specs_are_named(text, needle):
    with pytest.raises(LabError, match=needle):
        ActivationSpec.parse(text)


def test_every_entry_is_enumerated_from_the_catalog():
    specs = lab.parse_activations(None)
    assert [s.name for s in specs] == [a.name for a in relukit.catalog]


@pytest.mark.parametrize("activation", relukit.catalog, ids=lambda a: a.name)
def test_formulas_are_unicode_without_latex(activation):
    for latex in (activation.formula, activation.derivative_formula):
        text = unicode_formula(latex)
        assert "\\" not in text and "{" not in text and "frac" not in text
        printable(text, "cp1252").encode("cp1252")
        printable(text, "ascii").encode("ascii")


# --- verdict rules on synthetic records --------------------------------------------------------


def _run(name: str, task: str, seed: int, **kw) -> RunRecord:
    base = dict(
        activation=name,
        name=name,
        task=task,
        seed=seed,
        loss=[1.0, 0.5],
        test_accuracy_curve=[0.5, 0.9],
        train_accuracy=1.0,
        test_accuracy=0.9,
        final_loss=0.5,
        epochs_to_threshold=None,
        dead_init=0.0,
        dead_end=0.0,
        dead_curve=[[0.0, 0.0], [2.0, 0.0]],
        dead_per_layer=[0.0],
        zeros=0.5,
        mean_activation=[0.5],
        histogram=[1] * 60,
        slopes=[],
        seconds=0.1,
    )
    base.update(kw)
    return RunRecord(**base)


def _result(runs=(), speed=(), gradients=(), names=("relu", "leaky_relu")) -> CompareResult:
    r = CompareResult(
        {"activations": list(names), "tasks": ["t"], "seeds": 3, "histogram_bins": [-2, 4, 60]},
        {},
        list(runs),
        list(speed),
        list(gradients),
    )
    r.verdicts = judge(r)
    return r


def _verdict(result: CompareResult, activation: str, claim: str) -> str:
    return next(
        v.verdict for v in result.verdicts if v.activation == activation and v.claim == claim
    )


def test_no_dead_relu_units_never_confirm_dying_relu():
    runs = [_run(n, "t", s, dead_end=0.0) for n in ("relu", "leaky_relu") for s in range(3)]
    r = _result(runs)
    assert _verdict(r, "relu", "dying ReLU") == "contradicted"
    assert _verdict(r, "leaky_relu", "fixes dying neurons") == "inconclusive"


def test_consistently_dead_relu_units_confirm_dying_relu_and_leaky_fix():
    runs = [_run("relu", "t", s, dead_end=0.3 + 0.01 * s) for s in range(3)]
    runs += [_run("leaky_relu", "t", s, dead_end=0.01 * s) for s in range(3)]
    r = _result(runs)
    assert _verdict(r, "relu", "dying ReLU") == "confirmed"
    assert _verdict(r, "leaky_relu", "fixes dying neurons") == "confirmed"


def test_one_noisy_dead_seed_is_inconclusive():
    runs = [_run("relu", "t", s, dead_end=d) for s, d in enumerate((0.0, 0.0, 0.2))]
    assert _verdict(_result(runs), "relu", "dying ReLU") == "inconclusive"


def _speed(name: str, seed: int, alone: float) -> SpeedRecord:
    return SpeedRecord(name, name, seed, alone, alone, alone, 1.0, 1.0)


@pytest.mark.parametrize(
    ("ratios", "expected"),
    [
        ((1.3, 1.4, 1.35), "confirmed"),
        ((0.99, 1.0, 1.01), "contradicted"),
        ((0.8, 1.5, 2.2), "inconclusive"),
    ],
)
def test_more_compute_rule(ratios, expected):
    speed = [_speed("leaky_relu", s, v) for s, v in enumerate(ratios)]
    speed += [_speed("relu", s, 1.0) for s in range(3)]
    assert _verdict(_result(speed=speed), "leaky_relu", "slightly more compute") == expected


def test_vanishing_gradient_rule_needs_the_contrast():
    def grads(name, ratio):
        return [GradientRecord(name, name, s, "relukit", [ratio, 1.0], ratio) for s in range(3)]

    names = ("relu", "sigmoid")
    ok = _result(gradients=grads("relu", 0.5) + grads("sigmoid", 1e-8), names=names)
    assert _verdict(ok, "relu", "avoids vanishing gradient") == "confirmed"
    bad = _result(gradients=grads("relu", 1e-5) + grads("sigmoid", 1e-8), names=names)
    assert _verdict(bad, "relu", "avoids vanishing gradient") == "contradicted"


def test_claims_about_missing_activations_are_not_measured():
    r = _result(names=("relu",))
    assert _verdict(r, "elu", "slightly slower") == "not measured"
    assert _verdict(r, "gelu", "smooth") == "not measured"


def test_smoothness_is_read_from_the_catalog():
    r = _result(names=("relu", "elu", "gelu"))
    assert _verdict(r, "elu", "smooth negative side") == "confirmed"
    assert _verdict(r, "gelu", "smooth") == "confirmed"
    assert lab._claims.derivative_jump("relu") == 1.0


def test_claims_are_the_seeds_table_keyed_by_catalog_names():
    assert {c.activation for c in CLAIMS} <= {a.name for a in relukit.catalog}
    assert all(c.rule and c.side in ("pro", "con") for c in CLAIMS)
    assert isinstance(Evidence(_result()).tasks(), list)


# --- renderers ---------------------------------------------------------------------------------


def test_terminal_table_survives_cp1252():
    runs = [_run(n, "t", s) for n in ("relu", "leaky_relu") for s in range(3)]
    text = terminal(_result(runs))
    assert "Activation" in text and "dying ReLU" in text and "Measured" in text
    printable(text, "cp1252").encode("cp1252")


class _Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def check_self_contained(page: str) -> _Page:
    parser = _Page()
    parser.feed(page)
    parser.close()
    for tag, attrs in parser.tags:
        for key in ("src", "href"):
            value = attrs.get(key) or ""
            assert not value or value.startswith("data:"), (tag, key, value[:80])
        assert tag not in ("link", "iframe")
    assert "url(" not in page and "@import" not in page
    return parser


def test_html_is_self_contained_with_every_figure():
    runs = [_run(n, "t", s) for n in ("relu", "leaky_relu") for s in range(3)]
    page = to_html(_result(runs))
    parser = check_self_contained(page)
    imgs = [a for t, a in parser.tags if t == "img"]
    assert len(imgs) == 4  # activations, training, dead units, distributions (no gradients)
    assert sum(t == "table" for t, _ in parser.tags) == 4


# --- experiments, in process -------------------------------------------------------------------


def test_same_seed_same_numbers():
    a = lab.train("relu", "spirals", 1, epochs=2)
    b = lab.train("relu", "spirals", 1, epochs=2)
    assert (a.loss, a.dead_end, a.histogram) == (b.loss, b.dead_end, b.histogram)
    c = lab.train("relu", "spirals", 2, epochs=2)
    assert c.loss != a.loss


def test_prelu_records_learned_slopes():
    r = lab.train("prelu:weight=0.1", "spirals", 0, epochs=2)
    assert r.activation == "prelu:weight=0.1" and len(r.slopes) == 3


def test_compare_round_trips_through_report(tmp_path, capsys):
    result = lab.compare(
        ["relu", "elu"], datasets=["spirals"], seeds=2, epochs=2, quick=True, workers=1
    )
    run = tmp_path / "run"
    run.mkdir()
    (run / "results.json").write_text(lab.to_json(result))
    assert main(["report", str(run), "--json"]) == 0
    again = CompareResult.from_dict(json.loads(capsys.readouterr().out))
    assert again == result
    check_self_contained((run / "report.html").read_text())


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["compare", "--activations", "nope"], "unknown activation 'nope'; valid: relu"),
        (["compare", "--datasets", "mnist"], "unknown dataset 'mnist'; valid: digits"),
        (["compare", "--seeds", "0"], "seeds must be a whole number >= 1"),
        (["plot", "relu", "-o", "x.pdf"], "must end in .png or .svg"),
        (["plot", "Sigmoidal"], "valid: relu"),
        (["report", "/nonexistent"], "has no results.json"),
    ],
)
def test_bad_arguments_exit_with_one_line(argv, needle, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert needle in err and err.count("\n") == 1


def test_every_run_gets_a_new_folder(tmp_path):
    from relukit.lab._cli import new_run_dir

    folders = {new_run_dir(tmp_path) for _ in range(3)}
    assert len(folders) == 3 and all(f.is_dir() and not any(f.iterdir()) for f in folders)


def test_plot_writes_png_and_svg(tmp_path, capsys):
    png = tmp_path / "a.png"
    assert (
        main(["plot", "ReLU", "leaky_relu:negative_slope=0.2", "--derivative", "-o", str(png)]) == 0
    )
    assert png.read_bytes().startswith(b"\x89PNG")
    svg = tmp_path / "a.svg"
    assert main(["plot", "gelu", "-o", str(svg)]) == 0
    assert b"<svg" in svg.read_bytes()


def test_version_and_help(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0 and relukit.__version__ in capsys.readouterr().out
    for command in ("compare", "report", "plot"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        assert "examples:" in capsys.readouterr().out


# --- the command, end to end (slow: worker processes) ------------------------------------------


def _relukit(*args: str, encoding: str = "utf-8", **kw) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONIOENCODING": encoding}
    return subprocess.run(
        [sys.executable, "-m", "relukit", *args], capture_output=True, env=env, **kw
    )


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory) -> tuple[subprocess.CompletedProcess, Path]:
    out = tmp_path_factory.mktemp("runs")
    proc = _relukit("compare", "--quick", "--out", str(out), encoding="cp1252", timeout=300)
    return proc, out


@pytest.mark.slow
def test_quick_compare_writes_a_new_run_folder(quick_run):
    proc, out = quick_run
    assert proc.returncode == 0, proc.stderr.decode("cp1252", "replace")
    text = proc.stdout.decode("cp1252")
    assert "dying ReLU" in text and "Leaky ReLU" in text
    (folder,) = out.iterdir()
    data = json.loads((folder / "results.json").read_text())
    assert not data["partial"] and data["settings"]["quick"]
    names = {r["name"] for r in data["runs"]}
    assert names == {a.name for a in relukit.catalog}
    assert {"torch", "python", "platform"} <= set(data["environment"])
    page = (folder / "report.html").read_text()
    assert len([t for t, _ in check_self_contained(page).tags if t == "img"]) == 5
    rerun = _relukit("report", str(folder), timeout=120)
    assert rerun.returncode == 0
    assert json.loads((folder / "results.json").read_text()) == data


@pytest.mark.slow
def test_interrupted_compare_leaves_a_partial_report(tmp_path):
    import signal
    import time

    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    # Ctrl-C's Python handler in the child: a suite started in the background by a
    # non-interactive shell inherits SIGINT ignored, and Python then keeps ignoring it. Set in
    # the child's own code, not by a preexec_fn: that runs the parent's at-fork hooks, and jax
    # (imported by tests/test_keras_jax_fast.py) warns there that fork may deadlock.
    start = (
        "import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
        "from relukit.cli import main; sys.exit(main())"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", start, "compare", "--quick", "--out", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    time.sleep(8)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=180)
    assert proc.returncode == 130
    assert b"PARTIAL" in out
    (folder,) = tmp_path.iterdir()
    assert json.loads((folder / "results.json").read_text())["partial"] is True
    assert "Partial report" in (folder / "report.html").read_text()


def _chromium() -> str | None:
    import shutil

    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.slow
@pytest.mark.skipif(_chromium() is None, reason="no chromium/chromium-browser binary found")
def test_report_renders_in_headless_chromium(quick_run, tmp_path):
    _, out = quick_run
    (folder,) = [p for p in out.iterdir() if (p / "report.html").exists()]
    dom = subprocess.run(
        [
            _chromium(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            f"--user-data-dir={tmp_path}",
            "--virtual-time-budget=5000",
            "--dump-dom",
            (folder / "report.html").as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    parser = _Page()
    parser.feed(dom)
    imgs = [a for t, a in parser.tags if t == "img"]
    assert len(imgs) == 5 and all(a.get("data-loaded") == "yes" for a in imgs), imgs
    body = next(a for t, a in parser.tags if t == "body")
    assert body.get("data-images-loaded") == "5"
    assert "dying ReLU" in dom and sum(t == "table" for t, _ in parser.tags) >= 3


# --- relukit dying -----------------------------------------------------------------------------


@pytest.mark.slow
def test_dying_run_recycles_and_counts_dead_units_per_layer():
    from relukit.lab._dying import DEPTH, dying_run

    r = dying_run("relu", "he+recycle", 0, epochs=3)
    assert r.epochs == [0, 1, 2, 3] and all(len(d) == DEPTH for d in r.dead)
    assert 0 <= r.dead_end <= 1 and r.recycled >= 0
    with pytest.raises(LabError, match="arm must be one of"):
        dying_run("relu", "xavier", 0)


def test_dying_report_round_trips(tmp_path, capsys):
    from relukit.lab._dying import dying
    from relukit.lab._records import DyingResult

    result = dying(["relu"], seeds=1, epochs=1, workers=1)
    (tmp_path / "results.json").write_text(json.dumps(result.to_dict()))
    assert main(["report", str(tmp_path), "--json"]) == 0
    assert DyingResult.from_dict(json.loads(capsys.readouterr().out)) == result
    page = (tmp_path / "report.html").read_text()
    assert len([t for t, _ in check_self_contained(page).tags if t == "img"]) == 2


@pytest.mark.slow
def test_quick_dying_command(tmp_path):
    proc = _relukit("dying", "--quick", "--out", str(tmp_path), encoding="cp1252", timeout=300)
    assert proc.returncode == 0, proc.stderr.decode("cp1252", "replace")
    text = proc.stdout.decode("cp1252")
    assert "he+recycle" in text and "asymmetric" in text
    (folder,) = tmp_path.iterdir()
    data = json.loads((folder / "results.json").read_text())
    rectifiers = {a.name for a in relukit.catalog if a.family == "rectifier"}
    assert {r["name"] for r in data["runs"]} == rectifiers
