"""README.md's tables of measurements are the renderings of ``benchmarks/results/*.json``
(``python scripts/render_readme.py`` rewrites them)."""

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location(
    "render_readme", ROOT / "scripts" / "render_readme.py"
)
assert _spec is not None and _spec.loader is not None
render_readme = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(render_readme)


def test_every_renderer_has_one_block_in_the_readme():
    text = render_readme.README.read_text(encoding="utf-8")
    assert sorted(render_readme.block_names(text)) == sorted(render_readme.RENDERERS)


def test_readme_figures_match_the_results():
    text = render_readme.README.read_text(encoding="utf-8")
    rendered = render_readme.render(text)
    assert rendered == text, (
        "README.md differs from benchmarks/results/*.json; run python scripts/render_readme.py\n"
        + render_readme.diff(text, rendered)
    )


def test_render_restores_a_retyped_figure():
    text = render_readme.README.read_text(encoding="utf-8")
    end = text.index("<!-- end generated -->")
    retyped = text[:end] + "| a retyped row |\n\n" + text[end:]
    assert render_readme.render(retyped) == text


def test_check_mode_passes():
    assert render_readme.main(["--check"]) == 0
