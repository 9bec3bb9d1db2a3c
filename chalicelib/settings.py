"""The only reader of the environment.

Every knob the deployed code has is a field here, read once per container from environment
variables prefixed ``SWITCHBOARD_`` (set by ``.chalice/config.json`` per stage, or by ``sim/``).
"""

from __future__ import annotations

from functools import lru_cache

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Validated configuration of one container."""

    model_config = SettingsConfigDict(env_prefix="SWITCHBOARD_", frozen=True)

    stage: str = "dev"
    aws_region: str = "us-east-1"
    # Only set offline: the embedded AWS (moto server) of sim/. Unset in AWS.
    aws_endpoint_url: str | None = None
    table_name: str = "switchboard-dev-sessions"

    # How long session and turn items live after the last write (DynamoDB TTL, epoch seconds).
    session_ttl_seconds: int = Field(default=2 * 24 * 3600, gt=0)
    # Conversation history kept on the session (messages); older ones are dropped.
    history_limit: int = Field(default=24, gt=1)
    # Longest caller utterance accepted; longer ones are rejected as bad input.
    max_utterance_chars: int = Field(default=2_000, gt=0)
    # The latency envelope (budgets per component, soft and hard deadline), per stage.
    envelope_file: str = "envelope.json"
    # X-Ray traces through Powertools Tracer (its import costs about half a second: opt-in).
    tracing_enabled: bool = False
    # Per-request timeouts of the DynamoDB client (a slice of the hard deadline).
    ddb_connect_timeout_ms: int = Field(default=300, gt=0)
    ddb_read_timeout_ms: int = Field(default=700, gt=0)
    ddb_max_attempts: int = Field(default=2, ge=1)
    # The longest wait before a DynamoDB retry (botocore's own waits up to 1 s: see aws_retries).
    ddb_retry_backoff_cap_ms: int = Field(default=100, gt=0)
    # Attempts to commit a turn when another writer changed the session in between.
    commit_attempts: int = Field(default=3, ge=1)
    # Consecutive turns the caller was not understood before we hand over.
    misunderstandings_before_handover: int = Field(default=3, ge=1)
    default_queue: str = "GeneralSupport"

    # Model tiers. Without a key and without a base URL, every turn is answered by tier-0 rules.
    openai_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("SWITCHBOARD_OPENAI_API_KEY", "OPENAI_API_KEY")
    )
    # One OpenAI-compatible base URL for every tier (sim/ points it at the scripted endpoint);
    # otherwise each tier's base_url in tiers.json, otherwise OpenAI's.
    model_base_url: str | None = None
    # The Secrets Manager secret holding the model API key (deployed stages). Read on the first
    # model call, not at cold start; an explicit key or base URL takes precedence.
    model_secret_arn: str | None = None
    tiers_file: str = "tiers.json"
    # Tools: the registry and graph, and the endpoints of the two transports. Without an
    # endpoint, the tools on that transport are refused when asked for.
    tools_file: str = "tools.json"
    tools_mcp_url: str | None = None
    tools_http_url: str | None = None
    prices_file: str = "prices.json"
    # Lambda architecture, for the price of a GB-second.
    lambda_architecture: str = "arm64"

    # Human handover: the Step Functions state machine started for each handover (unset: none is
    # started, the flow still transfers), its client's timeouts (the start happens inside a
    # turn), the policy file (human-only topics, queues, business hours, waits) and the Amazon
    # Connect instance whose contact attributes carry the agent's summary (unset: kept in memory).
    handover_state_machine_arn: str | None = None
    handover_file: str = "handover.json"
    sfn_connect_timeout_ms: int = Field(default=300, gt=0)
    sfn_read_timeout_ms: int = Field(default=600, gt=0)
    connect_instance_id: str | None = None
    # Clients of work outside a turn's deadline (contact attributes, the transcriber's
    # continuation): their own timeouts, well inside those functions' Lambda timeouts.
    task_connect_timeout_ms: int = Field(default=1000, gt=0)
    task_read_timeout_ms: int = Field(default=3000, gt=0)

    # Live transcription (the transcriber Lambda): off unless enabled. The KVS endpoint (unset:
    # AWS's; GetMedia goes to the data endpoint GetDataEndpoint names), its client timeouts (the
    # read timeout must exceed the longest pause between fragments), Amazon Transcribe's endpoint
    # and a CA file to trust for it (sim/ only), the function to re-invoke to go on (unset: the
    # running one), and how much of Lambda's time is kept back to stop and write the checkpoint.
    speech_enabled: bool = False
    # The language a call is transcribed in when its start event names none Transcribe streaming
    # takes (the call's own wins: chalicelib/data/transcribe_languages.json).
    speech_language: str = "en-US"
    # The language of a call whose event says none, or one that is not spoken (a folder of
    # ``data/languages/`` each); the transcriber's own is ``speech_language``.
    default_language: str = Field(default="en-US", pattern=r"^[a-z]{2,3}-[A-Z]{2}$")
    kvs_endpoint_url: str | None = None
    kvs_connect_timeout_ms: int = Field(default=1000, gt=0)
    kvs_read_timeout_ms: int = Field(default=10_000, gt=0)
    # GetMedia's body is read in pieces of this size; a read waits for the whole piece, so it is
    # also the media's added latency: 1 KiB is 32 ms of Connect's two 8 kHz 16-bit tracks.
    kvs_read_bytes: int = Field(default=1024, gt=0)
    transcribe_endpoint_url: str | None = None
    transcribe_ca_file: str | None = None
    transcriber_function_name: str | None = None
    transcriber_stop_before_ms: int = Field(default=60_000, gt=0)
    # Amazon Transcribe streaming's own PII identification (an option, off unless set): Transcribe
    # labels the PII it finds in its final results (their Entities) and changes no text. It is not
    # the protection: our redactor runs on every result before it is kept, whatever this says.
    # Languages it supports and the entity types (comma-separated, e.g. "CREDIT_DEBIT_NUMBER,SSN";
    # empty: all): adapters/speech/transcribe_streaming.py.
    transcribe_pii_identification: bool = False
    transcribe_pii_entity_types: str = ""
    # Transcribe the to-customer track while the bot has the call too (off: only the caller's,
    # until a handover; that track plays our own prompts, whose words the session has). On
    # doubles the Transcribe cost before a handover ($0.024 a minute per track):
    # domain/recognised_tracks.py.
    transcribe_bot_track: bool = False
    # Speculative turns (per stage): the transcriber runs the turn's model work on the caller's
    # stable partial once a pause of ``speculation_pause_ms`` begins; the turn answers from it.
    speculation_enabled: bool = False
    speculation_pause_ms: int = Field(default=250, gt=0)
    speculation_ttl_seconds: int = Field(default=900, gt=0)

    # Caller data protection. The vault of tokenized values (``[CARD_1]`` -> the card number, for
    # the tool that needs it): an item per contact in the session table, its values sealed under
    # a data key of this customer managed key (the stack's SessionKeyArn; unset: no vault, a tool
    # call naming a token is refused). The secret holding the redaction fingerprint key (the
    # stack's RedactionKeySecretArn). How long a contact's values live after its last write: an
    # hour covers a long call and the handover's wait for an agent (handover.json) before the
    # callback step reads the caller's number; the records consumer deletes them when the contact
    # closes, and the TTL bounds a contact whose record never arrives.
    session_key_arn: str | None = None
    redaction_key_secret_arn: str | None = None
    vault_ttl_s: int = Field(default=3600, gt=0)

    log_level: str = "INFO"

    @property
    def models_configured(self) -> bool:
        return any((self.openai_api_key, self.model_base_url, self.model_secret_arn))


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Return the container's settings, read from the environment once."""
    return Settings()
