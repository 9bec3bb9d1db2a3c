"""The shipped language packs the tests route and classify with (``data/languages/``), and the
third language a test adds by data alone (``tests/fixtures/languages/fr-CA``)."""

from __future__ import annotations

import shutil
from pathlib import Path

from chalicelib.adapters.language_files import LANGUAGES, shipped_language_words

EN = shipped_language_words("en-US")
ES = shipped_language_words("es-US")

FRENCH = Path(__file__).resolve().parent / "fixtures" / "languages" / "fr-CA"


def with_french(root: Path) -> Path:
    """``root`` made a data folder of languages: the shipped ones and the fixture's French
    (its recorded call stays out: it is no language file)."""
    shutil.copytree(LANGUAGES, root)
    shutil.copytree(FRENCH, root / "fr-CA", ignore=shutil.ignore_patterns("call.json"))
    return root
