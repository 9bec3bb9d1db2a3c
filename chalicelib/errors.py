"""The one error tree.

Every error the application raises on purpose is an ``AppError``: named ``<Thing><Problem>Error``,
and marked retryable (trying again may succeed: throttling, a race, a timeout) or permanent (the
input is wrong and will stay wrong). Adapters map vendor errors here, in one place each.
"""

from __future__ import annotations


class AppError(Exception):
    """Base of every error raised on purpose."""

    retryable: bool = False


class PermanentError(AppError):
    """Trying again with the same input will fail the same way."""

    retryable = False


class RetryableError(AppError):
    """Trying again may succeed."""

    retryable = True


# --- bad input -------------------------------------------------------------------------------


class EventMalformedError(PermanentError):
    """An event is not shaped like any event we accept (not an object, missing fields, bad types)."""


class EventTypeUnknownError(PermanentError):
    """An event names a type we do not handle (for example a Connect ``Name`` other than
    ``ContactFlowEvent``)."""


class UtteranceEmptyError(PermanentError):
    """The caller's turn carried no words (silence, or the flow passed nothing)."""


class UtteranceTooLongError(PermanentError):
    """The caller's turn is longer than any real utterance; refused rather than processed."""


class ResponseTooLargeError(PermanentError):
    """An answer would exceed what the caller (Connect, Lex) accepts."""


# --- state -----------------------------------------------------------------------------------


class TurnAlreadyRecordedError(AppError):
    """The turn being committed was committed before (a duplicate delivery won the race)."""

    retryable = False


class SessionVersionConflictError(RetryableError):
    """Another writer changed the session since we read it; re-read and re-apply."""


class SessionContentionError(RetryableError):
    """The session kept changing under us until the turn ran out of attempts or time."""


class StoreUnavailableError(RetryableError):
    """The session store failed or timed out (throttling, network, service error)."""


class StoreDataCorruptError(PermanentError):
    """A stored item could not be read back into the model (written by something else?)."""


# --- calls to models and tools --------------------------------------------------------------
# A model call and a tool call fail the same few ways; ``kind`` names how, as recorded on the turn
# (an attempt's outcome, a tool call's outcome). Each way is one class, each family mixes it in.


class CallFailedError(RetryableError):
    """A call to a model or a tool failed: the endpoint failed (connection refused or dropped,
    5xx, 429) unless a subclass says otherwise."""

    kind = "unavailable"


class CallTimeoutError(CallFailedError):
    """No answer within the call's budget (its own timeout, or what was left of the turn)."""

    kind = "timeout"


class CallRejectedError(CallFailedError):
    """The endpoint refused the request (4xx other than 429): retrying it will not help."""

    retryable = False
    kind = "rejected"


class ModelError(CallFailedError):
    """A model call failed before giving a usable answer."""


class ModelTimeoutError(ModelError, CallTimeoutError):
    """The model did not answer (first token or whole answer) within the turn's budget."""


class ModelUnavailableError(ModelError):
    """The model endpoint failed: connection refused or dropped, 5xx, 429."""


class ModelRequestRejectedError(ModelError, CallRejectedError):
    """The model endpoint refused the request."""


class ModelOutputMalformedError(ModelError):
    """The endpoint answered with something that is not a chat completion (worth another try)."""

    kind = "malformed"


class SecretUnavailableError(RetryableError):
    """A secret (the model API key) could not be read from Secrets Manager."""


class VaultUnavailableError(RetryableError):
    """The vault of tokenized caller data (its table item or its KMS key) could not be used."""


class VaultValueMissingError(PermanentError):
    """A tool's arguments name a token the vault does not hold (never read out, or expired)."""


class ToolError(CallFailedError):
    """A tool call failed."""


class ToolTimeoutError(ToolError, CallTimeoutError):
    """The tool did not answer within its budget."""


class ToolUnavailableError(ToolError):
    """The tool's server failed: connection refused or dropped, 5xx, an MCP error result."""


class ToolRejectedError(ToolError, CallRejectedError):
    """The tool's server refused the request."""


class ToolResultInvalidError(ToolError):
    """The tool answered with something that is not a bounded JSON object of plain values."""

    retryable = False
    kind = "invalid_result"


# --- handover -------------------------------------------------------------------------------
# The workflow's Catch and Retry name these classes (infra/handover.asl.json): a task handler
# that raises one fails its task with the class name as the error.


class HandoverError(AppError):
    """Base of the handover workflow's errors."""


class HandoverSessionMissingError(HandoverError, PermanentError):
    """The workflow was started for a contact that has no session (or it expired)."""


class HandoverInputMalformedError(HandoverError, PermanentError):
    """A workflow task's input is not what the state machine passes."""


class HandoverWorkflowUnavailableError(HandoverError, RetryableError):
    """Step Functions failed or timed out (start, or resuming a task)."""


class HandoverWorkflowMissingError(HandoverError, PermanentError):
    """The handover state machine does not exist (a configuration error)."""


class CallbackNotBookedError(HandoverError, RetryableError):
    """The callback tool failed or timed out; a retry reuses the journaled idempotency key."""


class ContactAttributesUnavailableError(RetryableError):
    """Amazon Connect failed or timed out while updating contact attributes."""


class ContactAttributesRejectedError(PermanentError):
    """Amazon Connect refused the contact attributes (unknown contact, too large, bad key)."""


# --- configuration ---------------------------------------------------------------------------


class ConfigurationInvalidError(PermanentError):
    """A shipped configuration file or setting is inconsistent; raised at start-up."""


class SettingMissingError(ConfigurationInvalidError):
    """A setting the invoked function needs is not set: a deployed function refuses to start
    rather than fall back to a stand-in (the turn still answers with its safe line)."""


class EnvelopeInvalidError(ConfigurationInvalidError):
    """The latency envelope's parts do not fit inside its deadlines."""


class PriceMissingError(ConfigurationInvalidError):
    """Usage of something that has no price in ``prices.json``."""


# --- live call audio and speech-to-text ------------------------------------------------------


class MediaStreamUnavailableError(RetryableError):
    """The call's media stream (Kinesis Video Streams) could not be read, or stopped mid-way."""


class MediaStreamMalformedError(PermanentError):
    """The media stream's bytes are not the Matroska Amazon Connect writes (bad EBML, no audio
    tracks, a block of an unknown track)."""


class SpeechToTextUnavailableError(RetryableError):
    """The speech-to-text service failed, refused or dropped the stream; resume from the last
    audio position consumed."""


class TranscriberInvocationMalformedError(EventMalformedError):
    """The transcriber's invocation event is not the shape the contact flow's trigger sends
    (``streamARN``, ``startFragmentNum``, ``connectContactId``, optional ``position``)."""


class TranscriberContinuationFailedError(RetryableError):
    """The transcriber could not re-invoke itself to go on; Lambda's own retry of the
    asynchronous invocation resumes from the checkpoint stored on the live transcript."""
