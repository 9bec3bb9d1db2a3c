"""The shipped language packs the tests route and classify with (``data/languages/``)."""

from __future__ import annotations

from chalicelib.adapters.data_files import shipped_language_words

EN = shipped_language_words("en-US")
ES = shipped_language_words("es-US")
