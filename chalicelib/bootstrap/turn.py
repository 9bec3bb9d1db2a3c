"""The turn and what it needs: envelope, tiers, prices, models, tools, the dialogue policy, the
session store; the stream consumers that share the store."""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING, Any

from chalicelib.adapters.data_files import (
    DATA,
    check_prices_cover,
    load_envelope,
    load_prices,
    load_prompt,
    load_tiers,
    load_tools,
    shipped_end_of_turn,
    shipped_match_vocabulary,
)
from chalicelib.adapters.dynamodb_store import DynamoDbSessionStore
from chalicelib.adapters.language_files import shipped_languages
from chalicelib.adapters.redaction_policy import process_redactor
from chalicelib.adapters.usage_meter import InvocationMeter
from chalicelib.domain.dialogue import DialoguePolicy
from chalicelib.domain.envelope import Envelope
from chalicelib.domain.language import Languages
from chalicelib.domain.language_words import LanguageWords
from chalicelib.domain.ledger import PriceBook
from chalicelib.domain.ports import ModelClient
from chalicelib.domain.redaction import Redactor
from chalicelib.domain.tiers import TierTable
from chalicelib.domain.words_key import NO_VOCABULARY, MatchVocabulary
from chalicelib.errors import ConfigurationInvalidError
from chalicelib.usecases.handle_turn import HandleTurn
from chalicelib.usecases.run_tools import RunTools

if TYPE_CHECKING:  # built only by the handlers that need them: kept off the turn's cold start
    from chalicelib.usecases.stream_consumers import CloseContact, IngestSegments


class TurnParts:
    """The turn handler's use case and its adapters (a part of ``Container``)."""

    settings: Any
    clock: Any
    meter: InvocationMeter
    dynamodb_client: Any
    handover_policy: Any
    handover_workflow: Any
    speculation_store: Any
    transcript_store: Any
    agent_connected: Any
    secretsmanager_client: Callable[[], Any]
    opened: list[Any]
    vault: Callable[[], Any]  # VaultParts
    vault_configured: bool  # VaultParts
    redaction_key: Callable[[], bytes]  # VaultParts

    @cached_property
    def session_store(self) -> DynamoDbSessionStore:
        s = self.settings
        return DynamoDbSessionStore(self.dynamodb_client, s.table_name, s.session_ttl_seconds, usage=self.meter)

    @cached_property
    def envelope(self) -> Envelope:
        """The latency envelope of this stage, checked: a container whose parts do not fit its
        deadline refuses to start (``EnvelopeInvalidError`` names the part)."""
        return load_envelope(DATA / self.settings.envelope_file, self.settings.stage)

    @cached_property
    def tiers(self) -> TierTable:
        return load_tiers(DATA / self.settings.tiers_file)

    @cached_property
    def prices(self) -> PriceBook:
        prices = load_prices(DATA / self.settings.prices_file, self.settings.lambda_architecture)
        check_prices_cover(self.tiers, prices)
        return prices

    @cached_property
    def model_client(self) -> ModelClient | None:
        """The model client, or None when no model endpoint is configured (tier 0 only)."""
        s = self.settings
        if not s.models_configured:
            return None
        from chalicelib.adapters.openai_model import OpenAiModelClient  # noqa: PLC0415 - model turns only

        key: str | Callable[[], str]
        if s.openai_api_key is not None:
            key = s.openai_api_key.get_secret_value()
        elif s.model_base_url is None and s.model_secret_arn is not None:
            from chalicelib.adapters.secrets import SecretsManagerSecret  # noqa: PLC0415

            key = SecretsManagerSecret(self.secretsmanager_client, s.model_secret_arn).value
        else:
            key = "no-key-needed"  # an OpenAI-compatible endpoint that takes none (sim/)
        return OpenAiModelClient(api_key=key, base_url_override=s.model_base_url)

    @cached_property
    def tool_runner(self) -> RunTools | None:
        """The tool runner, or None when no tool endpoint is configured (no tool is offered)."""
        return self.tool_runner_into(self.meter)

    def tool_runner_into(self, meter: InvocationMeter) -> RunTools | None:
        """A tool runner recording into ``meter``; None without endpoints."""
        s = self.settings
        if s.tools_mcp_url is None and s.tools_http_url is None:
            return None
        from chalicelib.adapters.dynamodb_journal import DynamoDbToolJournal  # noqa: PLC0415
        from chalicelib.adapters.tools.gateway import TransportGateway, TransportToolGateway  # noqa: PLC0415

        graph, routes = load_tools(DATA / s.tools_file)
        transports: dict[str, TransportGateway] = {}
        if s.tools_mcp_url:
            from chalicelib.adapters.tools.mcp_gateway import McpToolGateway  # noqa: PLC0415 - heavy SDK

            transports["mcp"] = McpToolGateway(s.tools_mcp_url)
        if s.tools_http_url:
            from chalicelib.adapters.tools.http_gateway import HttpToolGateway  # noqa: PLC0415

            transports["http"] = HttpToolGateway(s.tools_http_url, routes)
        journal = DynamoDbToolJournal(self.dynamodb_client, s.table_name, s.session_ttl_seconds, usage=meter)
        self.opened.extend(transports.values())
        # The raw values behind the call's tokens, read just before each call (VaultParts); the
        # results scrubbed to bare labels, which needs no fingerprint key (the callback step's
        # role reads no secret): the container's redactor.
        vault = self.vault_into(meter) if self.vault_configured else None
        return RunTools(graph, TransportToolGateway(transports), journal, self.clock, self.envelope, meter,
                        vault=vault, redactor=self.container_redactor)  # fmt: skip

    @cached_property
    def dialogue_policy(self) -> DialoguePolicy:
        s = self.settings
        return DialoguePolicy(
            history_limit=s.history_limit,
            misunderstandings_before_handover=s.misunderstandings_before_handover,
            default_queue=s.default_queue,
            system_prompt=load_prompt("system"),
            max_history_messages=self.tiers.max_history_messages,
            max_message_chars=self.tiers.max_message_chars,
            handover=self.handover_policy,
            languages=self.languages,
        )

    @cached_property
    def languages(self) -> Languages:
        """Every language under ``data/languages/`` (a folder each), the stage's default among
        them: the turn's lines, voices and model instruction. Read at start-up: a language that is
        not valid stops the container there, not mid-call."""
        return shipped_languages(self.settings.default_language)

    @cached_property
    def redactor(self) -> Redactor:
        """The redactor of the caller's words, with the deployment's fingerprint key (the same in
        every container, so a card read in one turn is the same token in the next, wherever it
        runs). No key, no turn: a turn that cannot redact answers with the safe line.

        Raises:
            SettingMissingError: ``SWITCHBOARD_REDACTION_KEY_SECRET_ARN`` is not set.
            SecretUnavailableError: the secret could not be read.
        """
        return Redactor(process_redactor().policy, self.redaction_key())

    @cached_property
    def handle_turn(self) -> HandleTurn:
        self.prices  # noqa: B018 - fail at start-up, not mid-call, if a configured model has no price
        shipped_end_of_turn()  # the same for the end-of-turn file every answer reads (loaded once)
        return HandleTurn(
            self.session_store,
            self.clock,
            self.dialogue_policy,
            self.envelope,
            models=self.model_client,
            tiers=self.tiers,
            tools=self.tool_runner,
            commit_attempts=self.settings.commit_attempts,
            meter=self.meter,
            handover=self.handover_workflow,
            speculations=self.speculation_store,
            redactor=self.redactor,
            vault=self.vault() if self.vault_configured else None,
            vocabulary=self.match_vocabulary,
            words=self.language_words,
        )

    @cached_property
    def language_words(self) -> LanguageWords:
        """The words the rules and the router read in the stage's default language (each language's
        are in its folder, ``data/languages/<locale>/``, loaded with the language): what a turn
        reads before its session has a language. A language with no folder, or a file that is not
        valid, stops the container at start-up (``ConfigurationInvalidError``)."""
        words = self.languages.get(self.settings.default_language).words
        if words is None:  # every shipped language is loaded with its words
            raise ConfigurationInvalidError(f"languages/{self.settings.default_language}: no rules or router words")
        return words

    @cached_property
    def match_vocabulary(self) -> MatchVocabulary:
        """The speculation key's words for the stage's language (``domain/words_key``): the turn's,
        the speculation's and the pause trigger's. Read only when the stage speculates (the file
        stays off the cold start of one that does not)."""
        if self.speculation_store is None:
            return NO_VOCABULARY
        return shipped_match_vocabulary(self.settings.speech_language)

    @cached_property
    def ingest_segments(self) -> IngestSegments:
        from chalicelib.usecases.stream_consumers import IngestSegments  # noqa: PLC0415

        return IngestSegments(self.session_store, self.clock, self.container_redactor)

    @cached_property
    def close_contact(self) -> CloseContact:
        from chalicelib.usecases.stream_consumers import CloseContact  # noqa: PLC0415

        resume = self.agent_connected if self.handover_workflow is not None else None
        return CloseContact(self.session_store, self.clock, self.prices, resume_handover=resume,
                            speculations=self.speculation_store,
                            transcripts=self.transcript_store if self.settings.speech_enabled else None,
                            vault=self.vault() if self.vault_configured else None)  # fmt: skip

    @cached_property
    def container_redactor(self) -> Redactor:
        """The shipped policy with a random key of this container, for redaction whose tokens need
        not outlive it: the transcriber's run (its tokens are the run's own) and the stream
        consumers' scrub (bare labels, no state). Neither role may read the deployment's
        fingerprint secret, and neither needs it: nothing they fingerprint is stored."""
        return process_redactor()
