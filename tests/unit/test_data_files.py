"""The shipped configuration files and the errors a broken one gives at start-up."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chalicelib.adapters.data_files import DATA, check_prices_cover, load_prices, load_prompt, load_tiers
from chalicelib.domain.ledger import PriceBook
from chalicelib.errors import ConfigurationInvalidError, PriceMissingError


def test_tiers_are_rules_small_and_large_with_models_from_configuration() -> None:
    tiers = load_tiers()
    assert [t.tier for t in tiers.tiers] == [0, 1, 2]
    assert tiers.get(0).model is None
    assert tiers.get(1).expected_ms() < tiers.get(2).expected_ms()


def test_every_price_names_its_source_and_date() -> None:
    data = json.loads((DATA / "prices.json").read_text())
    for section in ("services", "models", "self_hosting"):
        for name, entry in data[section].items():
            assert entry["source"] and entry["date"], name


def test_a_model_tier_without_a_latency_prior_is_refused(tmp_path: Path) -> None:
    data = json.loads((DATA / "tiers.json").read_text())
    del data["tiers"][1]["latency_prior"]
    path = tmp_path / "tiers.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ConfigurationInvalidError, match="tier 1"):
        load_tiers(path)


def test_a_missing_tier_is_refused(tmp_path: Path) -> None:
    data = json.loads((DATA / "tiers.json").read_text())
    data["tiers"] = data["tiers"][:2]
    path = tmp_path / "tiers.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ConfigurationInvalidError):
        load_tiers(path)


def test_a_configured_model_without_a_price_fails_at_start_up() -> None:
    with pytest.raises(PriceMissingError):
        check_prices_cover(load_tiers(), PriceBook(services={}, models={}))


def test_a_price_without_a_source_is_refused(tmp_path: Path) -> None:
    data = json.loads((DATA / "prices.json").read_text())
    data["services"]["lambda_request"]["source"] = ""
    path = tmp_path / "prices.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ConfigurationInvalidError):
        load_prices(path)


def test_system_prompt_ships_with_the_facts_it_may_use() -> None:
    prompt = load_prompt("system")
    assert "Never invent" in prompt and "6 pm on Saturday" in prompt


def test_the_streaming_languages_name_their_source_and_hold_english_and_spanish() -> None:
    from chalicelib.adapters.data_files import load_streaming_languages
    from chalicelib.adapters.speech.transcribe_streaming import PII_LANGUAGES

    data = json.loads((DATA / "transcribe_languages.json").read_text())
    assert data["source"] and data["checked"]
    languages = load_streaming_languages()
    assert {"en-US", "es-US", "fr-CA"} <= languages
    assert {"en-US", "es-US"} <= PII_LANGUAGES  # both of the flow's languages keep PII identification


def test_a_streaming_language_list_with_a_code_twice_or_not_xx_xx_is_refused(tmp_path: Path) -> None:
    from chalicelib.adapters.data_files import load_streaming_languages

    data = json.loads((DATA / "transcribe_languages.json").read_text())
    for streaming in (["en-US", "en-US"], ["english"]):
        path = tmp_path / "transcribe_languages.json"
        path.write_text(json.dumps({**data, "streaming": streaming}))
        with pytest.raises(ConfigurationInvalidError):
            load_streaming_languages(path)
