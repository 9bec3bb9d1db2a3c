"""``python -m sim doctor``: what each packaged function of a stage is wired to, and which
features it ships.

For every function of ``app.py`` it resolves the configuration ``chalice package --stage S``
gives the function (``sim.deployment.packaged_functions``), builds that function's container
with exactly that environment — nothing of the simulator's — and builds what the function's
handler builds. It reports the adapter behind every port the handler reaches and the state of
every feature switch. A stage fails (exit 1) when a function:

- would wire a stand-in: an ``InMemory*``/``Scripted*``/``Recording*``/``Fake*``/``Sample*``
  class, anything from ``sim/`` or ``tests/``, or an endpoint on loopback;
- cannot build what its handler needs (a missing setting is a named start-up error);
- ships a feature silently off: a switch the stage does not set explicitly, a setting a
  shipped feature needs left unset, or speech off while the shipped contact flow streams media.

Values the stage configuration still holds as placeholders (the account ``000000000000``, the
nil instance id, ``.invalid`` hosts) are warnings: ``infra/stage_config.py`` replaces them with
the stack's outputs before ``chalice deploy``. A secret a function reads while it starts (the
redaction key) is not read here — the doctor has no AWS — but answered with a placeholder, and
named in a warning: that it is configured is checked, not what it holds.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from sim.deployment import CHALICE_CONFIG, ROOT, FunctionConfig, packaged_functions

FLOW = ROOT / "infra" / "contact-flow.json"
STAND_IN_PREFIXES = ("InMemory", "Scripted", "Recording", "Fake", "Sample")
LOOPBACK = {"127.0.0.1", "localhost", "::1", "0.0.0.0"}  # noqa: S104 - a value to recognise, not to bind
PLACEHOLDERS = ("000000000000", "00000000-0000-0000-0000-000000000000", ".invalid")

# What each handler of app.py builds from the container (the same attributes, in app.py's order).
HANDLER_BUILDS: dict[str, tuple[str, ...]] = {
    "turn": ("handle_turn",),
    "segments": ("ingest_segments",),
    "contact_records": ("close_contact",),
    "handover_prepare": ("prepare_handover",),
    "handover_wait": ("wait_for_agent",),
    "handover_callback": ("offer_callback",),
    "handover_agent_connected": ("agent_connected",),
    "transcriber": ("transcribe_call", "lambda_continuation"),
}


@dataclass(frozen=True)
class Feature:
    """A feature switch: the variables that turn it on, and whether the stage must ship it on."""

    name: str
    switch: str  # the variable that says on or off (a boolean, or a setting whose presence is "on")
    needs: tuple[str, ...] = ()  # further settings it needs when on
    boolean: bool = False


FEATURES = (
    Feature("contact_attributes", "SWITCHBOARD_CONNECT_INSTANCE_ID"),
    Feature("handover_workflow", "SWITCHBOARD_HANDOVER_STATE_MACHINE_ARN"),
    Feature("speech", "SWITCHBOARD_SPEECH_ENABLED", ("SWITCHBOARD_TRANSCRIBER_FUNCTION_NAME",), boolean=True),
    Feature("speculation", "SWITCHBOARD_SPECULATION_ENABLED", ("SWITCHBOARD_SPECULATION_PAUSE_MS",), boolean=True),
    Feature("model_secret", "SWITCHBOARD_MODEL_SECRET_ARN"),
    # Caller data protection: the vault the tools read tokens from (KmsVault), the redaction key.
    Feature("vault", "SWITCHBOARD_SESSION_KEY_ARN", ("SWITCHBOARD_VAULT_TTL_S",)),
    Feature("redaction_key", "SWITCHBOARD_REDACTION_KEY_SECRET_ARN"),
    Feature("tools_mcp", "SWITCHBOARD_TOOLS_MCP_URL"),
    Feature("tools_http", "SWITCHBOARD_TOOLS_HTTP_URL"),
    Feature("tracing", "SWITCHBOARD_TRACING_ENABLED", boolean=True),
    Feature("transcribe_pii_identification", "SWITCHBOARD_TRANSCRIBE_PII_IDENTIFICATION", boolean=True),
    Feature("transcribe_bot_track", "SWITCHBOARD_TRANSCRIBE_BOT_TRACK", boolean=True),
)


@dataclass
class FunctionReport:
    function: str
    memory_mb: int
    timeout_s: int
    adapters: dict[str, str] = field(default_factory=dict)  # port (attribute path) -> class
    features: dict[str, str] = field(default_factory=dict)  # feature -> "on" / "off" / "off (why)"
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def flow_streams_media(flow_path: Path = FLOW) -> bool:
    """True when the shipped contact flow starts media streaming (the transcriber's input)."""
    flow = json.loads(flow_path.read_text())
    return any(
        a.get("Type") == "UpdateContactMediaStreamingBehavior"
        and a.get("Parameters", {}).get("MediaStreamingState") == "Enabled"
        for a in flow.get("Actions", [])
    )


@contextlib.contextmanager
def only_environment(environment: dict[str, str]) -> Iterator[None]:
    """The process environment as Lambda gives it to the function: its variables and nothing of
    the caller's configuration (AWS credentials and the region stay, boto3 needs them)."""
    saved = dict(os.environ)
    for name in list(os.environ):
        if name.startswith(("SWITCHBOARD_", "POWERTOOLS_", "OPENAI_")):
            del os.environ[name]
    os.environ.update(environment)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _class_name(value: Any) -> str:
    kind = type(value)
    return f"{kind.__module__}.{kind.__qualname__}"


def _is_stand_in(value: Any) -> bool:
    kind = type(value)
    return kind.__name__.startswith(STAND_IN_PREFIXES) or kind.__module__.split(".")[0] in ("sim", "tests")


def _adapters(value: Any, path: str, found: dict[str, Any], depth: int = 0, seen: set[int] | None = None) -> None:
    """Every adapter (an object of ``chalicelib.adapters`` or a stand-in) reachable from
    ``value``'s attributes, by attribute path."""
    seen = set() if seen is None else seen
    owner = getattr(value, "__self__", None) if callable(value) else None
    if owner is not None and type(owner).__module__.startswith("chalicelib.adapters"):
        value = owner  # a bound method of an adapter (the model key's reader)
    if value is None or (type(value).__module__ == "chalicelib.bootstrap" and depth > 0):
        return
    if value is None or id(value) in seen or depth > 4:
        return
    seen.add(id(value))
    module = type(value).__module__
    if module.startswith("chalicelib.adapters") or _is_stand_in(value):
        found[path] = value
    if not (module.startswith(("chalicelib.", "sim.", "tests.")) and hasattr(value, "__dict__")):
        if isinstance(value, dict):
            for key, inner in value.items():
                _adapters(inner, f"{path}[{key}]", found, depth + 1, seen)
        return
    for name, inner in vars(value).items():
        _adapters(inner, f"{path}.{name.lstrip('_')}", found, depth + 1, seen)


def _switch_findings(env: dict[str, str], report: FunctionReport, streams_media: bool) -> None:
    """Each feature's state, and a finding for each one off without saying so."""
    for feature in FEATURES:
        value = env.get(feature.switch)
        if value is None:
            report.features[feature.name] = "off (not set)"
            report.errors.append(f"{feature.name} is silently off: {feature.switch} is not set")
            continue
        on = value.strip().lower() == "true" if feature.boolean else bool(value.strip())
        report.features[feature.name] = "on" if on else f"off ({feature.switch}={value})"
        report.errors += [f"{feature.name} is on but {n} is not set" for n in feature.needs if on and not env.get(n)]
    speech = env.get("SWITCHBOARD_SPEECH_ENABLED", "").lower() == "true"
    if streams_media and not speech:
        report.errors.append("the contact flow streams media but speech is off: no live transcript, no speculation")
    if env.get("SWITCHBOARD_SPECULATION_ENABLED", "").lower() == "true" and not speech:
        report.errors.append("speculation is on but speech is off: nothing would start a speculation")


def _value_findings(env: dict[str, str], report: FunctionReport) -> None:
    """Endpoints on loopback (stand-ins), placeholders, a model key in plain configuration."""
    for name, value in sorted(env.items()):
        if name.endswith("_URL") and urlparse(value).hostname in LOOPBACK:
            report.errors.append(f"{name} points at loopback ({value}): a local stand-in")
        if any(marker in value for marker in PLACEHOLDERS):
            report.warnings.append(f"{name} is a placeholder until infra/stage_config.py writes the stack's value")
    if "OPENAI_API_KEY" in env or "SWITCHBOARD_OPENAI_API_KEY" in env:
        report.errors.append("a model key in the function's configuration: it belongs in the secret")


@contextlib.contextmanager
def _secrets_unread(report: FunctionReport) -> Iterator[None]:
    """Secrets read while the function starts answer a placeholder (named in a warning)."""
    from chalicelib.adapters.secrets import SecretsManagerSecret  # noqa: PLC0415 - after the CLI has parsed

    def placeholder(secret: SecretsManagerSecret) -> str:
        secret_id = secret._secret_id
        report.warnings.append(f"secret {secret_id} is read at start-up: its value is not checked offline")
        return "doctor-placeholder-secret-value-not-read"

    real = SecretsManagerSecret.value
    SecretsManagerSecret.value = placeholder  # type: ignore[method-assign]
    try:
        yield
    finally:
        SecretsManagerSecret.value = real  # type: ignore[method-assign]


def _wiring(function: FunctionConfig, report: FunctionReport) -> None:
    """Build what the handler builds, in the function's own environment; report each adapter."""
    from chalicelib.bootstrap import Container  # noqa: PLC0415 - after the CLI has parsed
    from chalicelib.settings import Settings  # noqa: PLC0415

    builds = HANDLER_BUILDS.get(function.name, ())
    if not builds:
        report.errors.append(f"{function.name}: the doctor does not know what this handler builds")
        return
    found: dict[str, Any] = {}
    with only_environment(function.environment), _secrets_unread(report):
        try:
            container = Container(Settings())
            for attribute in builds:
                _adapters(getattr(container, attribute), attribute, found)
        except Exception as exc:  # noqa: BLE001 - every start-up failure is a finding, by name
            report.errors.append(f"cannot start: {type(exc).__name__}: {exc}")
            return
    for path, adapter in sorted(found.items()):
        report.adapters[path] = _class_name(adapter)
        if _is_stand_in(adapter):
            report.errors.append(f"{path} is a stand-in: {_class_name(adapter)}")


def examine(function: FunctionConfig, streams_media: bool) -> FunctionReport:
    """Build ``function``'s container as deployed and report its wiring and switches."""
    report = FunctionReport(function.name, function.memory_mb, function.timeout_s)
    _switch_findings(function.environment, report, streams_media)
    _value_findings(function.environment, report)
    _wiring(function, report)
    return report


def diagnose(stage: str, config_path: Path = CHALICE_CONFIG, flow_path: Path = FLOW) -> list[FunctionReport]:
    """One report per function of ``app.py`` for ``stage``."""
    import app as app_module  # noqa: PLC0415 - the packaged functions are the app's

    config = json.loads(config_path.read_text())
    functions = packaged_functions(config, stage, sorted(app_module.app.handler_map))
    streams_media = flow_streams_media(flow_path)
    return [examine(function, streams_media) for function in functions.values()]


def render(stage: str, reports: list[FunctionReport]) -> str:
    lines = [f"doctor: stage {stage}, {len(reports)} functions"]
    for report in reports:
        verdict = "FAIL" if report.errors else "ok"
        lines.append(f"\n{report.function}  ({report.memory_mb} MB, {report.timeout_s} s)  {verdict}")
        lines += [f"  feature {name:<20} {state}" for name, state in report.features.items()]
        lines += [f"  port    {path:<44} {kind}" for path, kind in report.adapters.items()]
        lines += [f"  ERROR   {e}" for e in report.errors]
    warnings = sorted({w for r in reports for w in r.warnings})
    lines += ["", *(f"warning: {w}" for w in warnings)] if warnings else []
    failed = [r.function for r in reports if r.errors]
    lines.append(
        f"\n{'FAIL: ' + ', '.join(failed) if failed else 'ok: every port on a real adapter, every feature set'}"
    )
    return "\n".join(lines)


def as_json(stage: str, reports: list[FunctionReport]) -> dict[str, Any]:
    return {"stage": stage, "ok": not any(r.errors for r in reports), "functions": [asdict(r) for r in reports]}
