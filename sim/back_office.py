"""The sample back office: a FAKE of a contact centre's billing and scheduling, for the demo and
the tests.

Nothing here talks to a real billing or scheduling system. One in-memory ``SampleBackend``
(three deterministic accounts, payment arrangements, card payments, callbacks) answers the
operations; ``sim.tool_apps`` serves them as an MCP server (the HTTP API serves all but the card
payment), ``sim.tool_servers`` runs both.

The card payment is where caller data must arrive, and only there: it takes the real card
number (the tool runner swaps the model's ``[CARD_1]`` for it), checks its Luhn digit, keeps
every real number it was sent (``received_cards``: what ``sim leaks`` counts) and answers only
the last four digits.

Side effects run once per idempotency key: a repeat with the same key answers the stored result
without running again (the same key with other arguments is refused). Faults are switched per
tool at run time (``set_fault``): ``slow``, ``error``, ``timeout``, ``drop_after_effect`` (the
effect happens and is stored, then the connection is cut before the answer) and ``garbage``
(an answer that is not a JSON object: text that is not JSON, or a huge nested list). Under load
they are also drawn per request (``fault_rates``, ``draw_fault``), from the seed and the request
itself; ``sim.tool_faults`` applies the drawn ones at the transport.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal, TypeVar, get_args

from typing_extensions import TypedDict  # pydantic needs this one on Python < 3.12

from sim.seeded import SeededDraws

Fault = Literal["slow", "error", "timeout", "drop_after_effect", "garbage"]
FAULTS: tuple[str, ...] = get_args(Fault)
TOOL_NAMES = ("lookup_account", "get_balance", "create_payment_arrangement", "take_card_payment", "book_callback")
CALLBACK_WINDOWS = ("morning", "afternoon", "evening")

_ACCOUNT_NUMBER = re.compile(r"[0-9]{4,12}")
_PHONE = re.compile(r"\+?[0-9]{10,15}")
_CARD = re.compile(r"[0-9]{13,19}")
_EXPIRY = re.compile(r"(0[1-9]|1[0-2])/[0-9]{2}")
_T = TypeVar("_T")


# --- what the back office answers -------------------------------------------------------------


class AccountSummary(TypedDict):
    account_id: str
    first_name: str
    status: str


class Balance(TypedDict):
    account_id: str
    balance: float
    currency: str
    due_date: str | None
    status: str


class PaymentArrangement(TypedDict):
    arrangement_id: str
    account_id: str
    amount: float
    pay_on: str
    status: str


class CardPayment(TypedDict):
    payment_id: str
    account_id: str
    amount: float
    status: str
    card_last4: str


class CallbackBooking(TypedDict):
    callback_id: str
    window: str
    status: str


class BackOfficeError(Exception):
    """A request the back office refuses. ``status`` is the HTTP API's answer; over MCP every
    refusal is a JSON-RPC invalid-params error (-32602)."""

    status = 400
    code = "bad_request"


class AccountNotFoundError(BackOfficeError):
    status = 404
    code = "account_not_found"


class RequestInvalidError(BackOfficeError):
    status = 422
    code = "invalid_request"


class IdempotencyKeyMissingError(BackOfficeError):
    status = 400
    code = "idempotency_key_required"


class InjectedFaultError(Exception):
    """The ``error`` fault: the server fails (HTTP 500; over MCP, an error result)."""


@dataclass(frozen=True)
class SampleAccount:
    account_number: str
    first_name: str
    last_name: str
    status: str
    balance: float
    currency: str = "USD"
    due_date: str | None = None

    @property
    def account_id(self) -> str:
        return f"acc-{self.account_number}"


SAMPLE_ACCOUNTS = (
    SampleAccount("448129", "Dana", "Whitfield", "active", 182.40, due_date="2026-12-14"),
    SampleAccount("551209", "Luis", "Ortega", "active", 0.00),
    SampleAccount("550911", "Priya", "Natarajan", "past_due", 311.75, due_date="2026-11-30"),
)


class SampleBackend:
    """The fake back office: accounts, side effects with idempotency keys, faults. Thread-safe.

    Args:
        accounts: the accounts it knows (default ``SAMPLE_ACCOUNTS``).
        slow_seconds: how long a call under the ``slow`` fault takes before answering.
        hang_seconds: how long a call under the ``timeout`` fault hangs before answering.

    Attributes:
        side_effects_executed: side effects actually run (repeats of a key do not count).
        executions_by_key: idempotency key -> times its side effect ran (1, if keys work).
        executions_by_request: what was asked (tool and arguments) -> times a side effect ran for
            it under any key: more than 1 means the caller got the effect twice (2 payments).
        faults_drawn: fault -> requests it was drawn for (``fault_rates``).
        calls_by_tool: tool name -> calls received, repeats and refusals included.
        garbage_shape: what the ``garbage`` fault answers: ``"text"`` (not JSON at all) or
            ``"nested_list"`` (JSON, but a huge nested list instead of an object).
    """

    def __init__(
        self, accounts: tuple[SampleAccount, ...] = SAMPLE_ACCOUNTS, *, slow_seconds: float = 1.5,
        hang_seconds: float = 10.0, fault_rates: Mapping[str, float] | None = None, seed: int = 7,
    ) -> None:  # fmt: skip
        unknown = set(fault_rates or {}) - set(FAULTS)
        if unknown:
            raise ValueError(f"unknown tool faults: {sorted(unknown)}")
        self.slow_seconds = slow_seconds
        self.hang_seconds = hang_seconds
        self.fault_rates = dict(fault_rates or {})
        self.faults_drawn: dict[str, int] = {}
        self.executions_by_request: dict[str, int] = {}
        self._draws = SeededDraws(seed)
        self.garbage_shape: Literal["text", "nested_list"] = "text"
        self.side_effects_executed = 0
        self.executions_by_key: dict[str, int] = {}
        self.calls_by_tool: dict[str, int] = {}
        self._by_number = {a.account_number: a for a in accounts}
        self._by_id = {a.account_id: a for a in accounts}
        self._lock = threading.Lock()
        self._faults: dict[str, Fault] = {}
        self._release = threading.Event()
        self._stored: dict[str, tuple[str, Any]] = {}  # key -> (what was asked, what was answered)
        self._ids = itertools.count(1)
        self._cards: list[str] = []  # every real card number take_card_payment was sent

    # --- faults --------------------------------------------------------------------------------

    def set_fault(self, tool_name: str, fault: Fault) -> None:
        """Make every later call of ``tool_name`` misbehave as ``fault`` (see ``FAULTS``)."""
        if tool_name not in TOOL_NAMES or fault not in FAULTS:
            raise ValueError(f"unknown tool or fault: {tool_name!r}, {fault!r}")
        with self._lock:
            self._faults[tool_name] = fault

    def clear_faults(self) -> None:
        """Back to normal, and wake the calls a ``slow`` or ``timeout`` fault is still holding."""
        with self._lock:
            self._faults.clear()
            held, self._release = self._release, threading.Event()
        held.set()

    def fault(self, tool_name: str) -> Fault | None:
        """The fault switched on for ``tool_name``, if any."""
        with self._lock:
            return self._faults.get(tool_name)

    def draw_fault(self, tool_name: str, request: str) -> Fault | None:
        """The fault drawn for this request (``fault_rates``), counted; None most of the time."""
        if not self.fault_rates:
            return None
        fault, _ = self._draws.pick(f"{tool_name}|{request}", self.fault_rates, FAULTS)
        if fault is not None:
            with self._lock:
                self.faults_drawn[fault] = self.faults_drawn.get(fault, 0) + 1
        return fault  # type: ignore[return-value]

    def garbage(self) -> str | list[Any]:
        """What a tool under the ``garbage`` fault answers instead of its result."""
        if self.garbage_shape == "text":
            return "<html><body>Back office is having a moment</body></html>"
        return [[i, [str(i), [i / 2, [None]]]] for i in range(5000)]

    # --- operations ----------------------------------------------------------------------------

    def lookup_account(self, account_number: str) -> AccountSummary:
        """The account with this number (as the caller reads it out).

        Raises:
            RequestInvalidError: not 4-12 digits.
            AccountNotFoundError: no such account.
        """
        self._enter("lookup_account")
        if not _ACCOUNT_NUMBER.fullmatch(account_number):
            raise RequestInvalidError("account_number must be 4 to 12 digits")
        account = self._by_number.get(account_number)
        if account is None:
            raise AccountNotFoundError(f"no account numbered {account_number}")
        return {"account_id": account.account_id, "first_name": account.first_name, "status": account.status}

    def get_balance(self, account_id: str) -> Balance:
        """Balance, currency, due date and status of an account.

        Raises:
            AccountNotFoundError: no such account.
        """
        self._enter("get_balance")
        account = self._account(account_id)
        return {"account_id": account.account_id, "balance": account.balance, "currency": account.currency,
                "due_date": account.due_date, "status": account.status}  # fmt: skip

    def create_payment_arrangement(
        self, account_id: str, amount: float, pay_on: str, *, idempotency_key: str | None
    ) -> PaymentArrangement:
        """Schedule a payment (a side effect: once per idempotency key).

        Raises:
            IdempotencyKeyMissingError: no key.
            AccountNotFoundError: no such account.
            RequestInvalidError: amount outside 1-5000, ``pay_on`` not a date, or the key was
                used before with other arguments.
        """
        self._enter("create_payment_arrangement")
        key = _required_key(idempotency_key)
        account = self._account(account_id)
        if isinstance(amount, bool) or not 1 <= amount <= 5000:
            raise RequestInvalidError("amount must be between 1 and 5000")
        try:
            date.fromisoformat(pay_on)
        except ValueError:
            raise RequestInvalidError("pay_on must be a date (YYYY-MM-DD)") from None
        asked = {"account_id": account.account_id, "amount": amount, "pay_on": pay_on}

        def execute() -> PaymentArrangement:
            return {"arrangement_id": f"pa-{next(self._ids):04d}", "account_id": account.account_id,
                    "amount": round(float(amount), 2), "pay_on": pay_on, "status": "scheduled"}  # fmt: skip

        return self._once(key, "create_payment_arrangement", asked, execute)

    def take_card_payment(
        self, account_id: str, amount: float, card_number: str, expiry: str, *, idempotency_key: str | None
    ) -> CardPayment:
        """Charge a card now (a side effect: once per idempotency key); the answer names only the
        card's last four digits.

        Raises:
            IdempotencyKeyMissingError: no key.
            AccountNotFoundError: no such account.
            RequestInvalidError: amount outside 1-5000, a card number that is not 13-19 digits or
                fails its Luhn check (a token such as ``[CARD_1]`` that was never swapped for the
                number), an expiry that is not MM/YY, or the key was used before with other
                arguments.
        """
        self._enter("take_card_payment")
        if _CARD.fullmatch(card_number):
            with self._lock:
                self._cards.append(card_number)
        key = _required_key(idempotency_key)
        account = self._account(account_id)
        if isinstance(amount, bool) or not 1 <= amount <= 5000:
            raise RequestInvalidError("amount must be between 1 and 5000")
        if not _CARD.fullmatch(card_number) or not luhn_valid(card_number):
            raise RequestInvalidError("card_number must be a card number (13 to 19 digits, Luhn)")
        if not _EXPIRY.fullmatch(expiry):
            raise RequestInvalidError("expiry must be MM/YY")
        # What was asked, for the idempotency check and the invariants' report: never the number.
        card = hashlib.sha256(card_number.encode()).hexdigest()[:12]
        asked = {"account_id": account.account_id, "amount": amount, "card": card, "expiry": expiry}

        def execute() -> CardPayment:
            return {"payment_id": f"cp-{next(self._ids):04d}", "account_id": account.account_id,
                    "amount": round(float(amount), 2), "status": "approved",
                    "card_last4": card_number[-4:]}  # fmt: skip

        return self._once(key, "take_card_payment", asked, execute)

    def received_cards(self) -> tuple[str, ...]:
        """Every real card number ``take_card_payment`` was sent, repeats included, in order."""
        with self._lock:
            return tuple(self._cards)

    def book_callback(
        self, phone: str, window: str, account_id: str | None = None, *, idempotency_key: str | None
    ) -> CallbackBooking:
        """Book a call back (a side effect: once per idempotency key).

        Raises:
            IdempotencyKeyMissingError: no key.
            AccountNotFoundError: ``account_id`` given but unknown.
            RequestInvalidError: a bad phone number or window, or the key was used before with
                other arguments.
        """
        self._enter("book_callback")
        key = _required_key(idempotency_key)
        if account_id is not None:
            self._account(account_id)
        if not _PHONE.fullmatch(phone):
            raise RequestInvalidError("phone must be 10 to 15 digits, optionally after a +")
        if window not in CALLBACK_WINDOWS:
            raise RequestInvalidError(f"window must be one of {', '.join(CALLBACK_WINDOWS)}")
        asked = {"account_id": account_id, "phone": phone, "window": window}

        def execute() -> CallbackBooking:
            return {"callback_id": f"cb-{next(self._ids):04d}", "window": window, "status": "booked"}

        return self._once(key, "book_callback", asked, execute)

    # --- internals -----------------------------------------------------------------------------

    def _enter(self, tool: str) -> None:
        """Count the call and apply the tool's fault, if it is one the back office itself shows."""
        with self._lock:
            self.calls_by_tool[tool] = self.calls_by_tool.get(tool, 0) + 1
            fault, release = self._faults.get(tool), self._release
        if fault == "slow":
            release.wait(self.slow_seconds)
        elif fault == "timeout":
            release.wait(self.hang_seconds)
        elif fault == "error":
            raise InjectedFaultError(f"{tool}: the back office failed (injected fault)")

    def _account(self, account_id: str) -> SampleAccount:
        account = self._by_id.get(account_id)
        if account is None:
            raise AccountNotFoundError(f"no account with id {account_id}")
        return account

    def _once(self, key: str, tool: str, asked: dict[str, Any], execute: Callable[[], _T]) -> _T:
        """Run ``execute`` the first time ``key`` is seen; answer the stored result after that."""
        fingerprint = json.dumps([tool, asked], sort_keys=True)
        with self._lock:
            stored = self._stored.get(key)
            if stored is not None:
                if stored[0] != fingerprint:
                    raise RequestInvalidError("this idempotency key was used with other arguments")
                return stored[1]  # type: ignore[no-any-return]
            result = execute()
            self._stored[key] = (fingerprint, result)
            self.side_effects_executed += 1
            self.executions_by_key[key] = self.executions_by_key.get(key, 0) + 1
            self.executions_by_request[fingerprint] = self.executions_by_request.get(fingerprint, 0) + 1
            return result


def luhn_valid(digits: str) -> bool:
    """The Luhn check digit of a card number holds."""
    total = 0
    for i, char in enumerate(reversed(digits)):
        n = int(char) * (2 if i % 2 else 1)
        total += n - 9 if n > 9 else n
    return total % 10 == 0


def _required_key(idempotency_key: str | None) -> str:
    if not idempotency_key:
        raise IdempotencyKeyMissingError("a side effect needs an idempotency key")
    return idempotency_key
