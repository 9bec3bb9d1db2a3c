"""docs/performance.md is what the benches' JSON in docs/figures/ renders: no figure is typed by
hand, none can drift from its run."""

from __future__ import annotations

from typing import Any

from sim.scripts import load_script
from tests.conftest import ROOT


def render_figures() -> Any:
    return load_script("bench/render_figures.py")


def test_the_performance_page_is_its_figures_rendered() -> None:
    module = render_figures()
    assert module.main(["--check"]) == 0, "run `make figures` (or bench/render_figures.py) and commit"


def test_a_figure_changed_by_hand_would_be_found() -> None:
    module = render_figures()
    figures = module.load()
    assert figures, "docs/figures/ holds the benches' JSON"
    name = next(iter(figures))
    changed = {**figures, name: {**figures[name], "date": "1999-01-01"}}
    assert module.render(changed) != (ROOT / "docs" / "performance.md").read_text()
