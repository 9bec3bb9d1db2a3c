"""The latency envelope: what each component of a turn may take, and the turn's deadlines.

Declared up front (``chalicelib/data/envelope.json``) and checked at cold start: every path a
turn can take must fit inside the hard deadline, or the container refuses to start with an
error that names the part that does not fit. While a turn runs, every component draws its
timeout from the envelope and from what is left of the turn (``Deadline``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from chalicelib.errors import EnvelopeInvalidError

STATE_READ, ROUTING, MODEL_FIRST_TOKEN, MODEL_TOTAL = "state_read", "routing", "model_first_token", "model_total"
TOOL_CALL, STATE_WRITE, RENDER = "tool_call", "state_write", "render"
COMPONENTS = (STATE_READ, ROUTING, MODEL_FIRST_TOKEN, MODEL_TOTAL, TOOL_CALL, STATE_WRITE, RENDER)
# What a turn's timings are recorded as (the invocation's meter, the turn item's latency_ms, the
# Latency.* metrics): a budgeted component under its own name, except the two a turn may run
# more than once, timed in total: its model calls (each within MODEL_TOTAL) and its tool calls
# (each within TOOL_CALL). Besides: waiting for a speculative turn, and the time until the write.
# Redacting the caller's words is part of routing (within its budget), timed on its own as well;
# keeping a tokenized value in the vault is timed as ``vault``.
MODEL_CALLS, TOOL_CALLS, SPECULATION, UNTIL_WRITE = "model", "tools", "speculation", "until_write"
REDACTION, VAULT = "redaction", "vault"
BUDGET_OF = {MODEL_CALLS: MODEL_TOTAL, TOOL_CALLS: TOOL_CALL}  # the per-call budget of a timing
# The sequences of components one turn runs; each must fit inside the hard deadline.
PATHS = (
    ("rules", (STATE_READ, ROUTING, STATE_WRITE, RENDER)),
    ("model", (STATE_READ, ROUTING, MODEL_TOTAL, STATE_WRITE, RENDER)),
    ("tool", (STATE_READ, ROUTING, TOOL_CALL, STATE_WRITE, RENDER)),
)


@dataclass(frozen=True)
class Envelope:
    hard_deadline_ms: float
    soft_deadline_ms: float
    cold_start_ms: float
    components: dict[str, float] = field(default_factory=dict)

    def budget(self, component: str) -> float:
        return self.components[component]

    @property
    def finish_reserve_ms(self) -> float:
        """Kept free at the end of every turn for the write and the answer."""
        return self.components[STATE_WRITE] + self.components[RENDER]

    def validate(self) -> Envelope:
        """Return self, or raise ``EnvelopeInvalidError`` naming what does not fit."""
        missing = [c for c in COMPONENTS if c not in self.components]
        if missing:
            raise EnvelopeInvalidError(f"envelope has no budget for: {', '.join(missing)}")
        negative = [c for c, ms in self.components.items() if ms <= 0]
        if negative:
            raise EnvelopeInvalidError(f"budgets must be positive: {', '.join(negative)}")
        if not 0 < self.soft_deadline_ms < self.hard_deadline_ms:
            raise EnvelopeInvalidError(
                f"soft deadline {self.soft_deadline_ms:.0f} ms must be below the hard deadline "
                f"{self.hard_deadline_ms:.0f} ms"
            )
        if self.components[MODEL_FIRST_TOKEN] > self.components[MODEL_TOTAL]:
            raise EnvelopeInvalidError("model_first_token does not fit inside model_total")
        for name, path in PATHS:
            needed = sum(self.components[c] for c in path)
            if needed > self.hard_deadline_ms:
                parts = " + ".join(f"{c} {self.components[c]:.0f}" for c in path)
                raise EnvelopeInvalidError(
                    f"the {name} path does not fit the hard deadline of {self.hard_deadline_ms:.0f} ms: "
                    f"{parts} = {needed:.0f} ms"
                )
        return self
