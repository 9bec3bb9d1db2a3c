"""Which caller data an utterance holds, and where: the recognisers and the choice between them.

E-mail addresses are found first, then dates that name their month (only where a birth or an
expiry context is present), then digit runs. Each run is classified whole; a run that is no kind
whole is split at its pauses ("4111 1111 1111 1111, 04/27, 123" is a card, an expiry and a code),
and what is left of it is a long number if it is long enough. A run with self-corrections is one
entity over all its readings (the wrong digits are caller data too), valued at what the caller
meant: the reading that restarts, or the last group replaced, whichever makes a valid value.
A kind is a candidate when its digit count, its required contexts and its check (Luhn, ABA, SSN
areas, a real month) fit; candidates are scored by the closest cue (before the number 3, after
it 2, elsewhere in the utterance or the previous turn 1) and the first listed wins a tie.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from chalicelib.domain.number_checks import aba_valid, card_valid, nanp_number, ssn_valid
from chalicelib.domain.redaction_policy import CueHit, EntityKind, KindRule, RedactionPolicy
from chalicelib.domain.spoken_dates import DateMention, DateWords, find_dates, find_linked_dates
from chalicelib.domain.spoken_email import ENGLISH_EMAIL, EmailWords, find_emails
from chalicelib.domain.spoken_numbers import ENGLISH_DIGITS, DigitRun, DigitWords, Group, Token, find_digit_runs

_CLOSE_BEFORE, _CLOSE_AFTER, _PRESENT = 3, 2, 1
_MAX_SPLIT_GROUPS = 12
_MAX_READINGS = 6
_MAX_MONTH = 12
_MAX_DAY = 31
_WHOLE = frozenset(EntityKind) - {EntityKind.EMAIL, EntityKind.LONG_NUMBER}
# Parts of a split run and candidate corrections are only what the caller would not mean by chance.
_PARTS = _WHOLE - {EntityKind.CUSTOMER_ACCOUNT}


class Found(NamedTuple):
    rule: KindRule
    value: str  # normalised: digits, "+12125550142", "04/27", "1980-03-03", "j.smith@example.com"
    start: int
    end: int


class Scene(NamedTuple):
    """One utterance's cues, the contexts present in it or the previous turn, and the digit and
    e-mail words of its language (``RedactionPolicy.reading``)."""

    policy: RedactionPolicy
    hits: list[CueHit]
    present: frozenset[str]
    digits: DigitWords = ENGLISH_DIGITS
    email: EmailWords = ENGLISH_EMAIL
    dates: DateWords | None = None  # how the language links day, month and year; None: English dates only


def find_entities(tokens: list[Token], scene: Scene) -> list[Found]:
    """Every entity in ``tokens`` the policy recognises, in text order, none overlapping.

    Example:
        >>> from chalicelib.domain.redaction_policy import Action
        >>> from chalicelib.domain.spoken_numbers import tokenize
        >>> rule = KindRule(EntityKind.CARD, Action.TOKENIZE, "CARD", 13, 19)
        >>> scene = Scene(RedactionPolicy((rule,), {}, complete=False), [], frozenset())
        >>> [f.value for f in find_entities(tokenize("it's 4111 1111 1111 1111"), scene)]
        ['4111111111111111']
    """
    blocked = [False] * len(tokens)
    found: list[Found] = []
    email = scene.policy.rule(EntityKind.EMAIL)
    for mention in find_emails(tokens, scene.email):
        blocked[mention.first : mention.last] = [True] * (mention.last - mention.first)
        if email is not None and not email.excluded_by & scene.present:
            found.append(Found(email, mention.value, mention.start, mention.end))
    found.extend(_from_dates(tokens, blocked, scene))
    runs = find_digit_runs(tokens, blocked, scene.digits)
    for i, run in enumerate(runs):
        lo = runs[i - 1].end if i else 0
        hi = runs[i + 1].start if i + 1 < len(runs) else 1 << 30
        for hit in _from_run(run, scene, lo, hi):
            found.append(hit)
            if hit.rule.kind is EntityKind.CARD and not hit.rule.cues <= scene.present:  # a card context after it
                scene = scene._replace(present=scene.present | hit.rule.cues)
    found.sort(key=lambda f: f.start)
    return found


def _score(scene: Scene, rule: KindRule, start: int, end: int, lo: int, hi: int) -> int:
    policy = scene.policy
    best = _PRESENT if rule.cues & scene.present else 0
    for hit in scene.hits:
        if hit.context in rule.cues:
            if lo <= hit.start and hit.end <= start and start - hit.end <= policy.before_chars:
                return _CLOSE_BEFORE
            if end <= hit.start and hit.end <= hi and hit.start - end <= policy.after_chars:
                best = _CLOSE_AFTER
    return best


def classify(
    scene: Scene, groups: tuple[str, ...], span: tuple[int, int], neighbours: tuple[int, int], kinds: frozenset[str]
) -> Found | None:
    """The best kind among ``kinds`` for digits read in ``groups`` at ``span``, or None.

    ``neighbours`` are where the numbers before and after end and start: a cue beyond them
    belongs to them.

    Example:
        >>> from chalicelib.domain.redaction_policy import Action
        >>> rule = KindRule(EntityKind.CARD, Action.TOKENIZE, "CARD", 13, 19)
        >>> scene = Scene(RedactionPolicy((rule,), {}, complete=False), [], frozenset())
        >>> classify(scene, ("4111", "1111", "1111", "1111"), (0, 19), (0, 99), frozenset({"card"})).value
        '4111111111111111'
    """
    digits = "".join(groups)
    present = scene.present
    lengths = tuple(len(g) for g in groups)
    best: Found | None = None
    best_score = -1
    for rule in scene.policy.rules:
        if rule.kind not in kinds or not rule.fits_length(len(digits)) or rule.excluded_by & present:
            continue
        grouped = lengths in rule.cue_groupings
        if not grouped and not rule.requires <= present:
            continue
        value = _RECOGNISERS[rule.kind](digits, groups)
        if value is None:
            continue
        score = _CLOSE_BEFORE if grouped else _score(scene, rule, *span, *neighbours)
        if score > best_score:
            best, best_score = Found(rule, value, *span), score
            if score == _CLOSE_BEFORE:
                break
    return best


def _from_run(run: DigitRun, scene: Scene, lo: int, hi: int) -> list[Found]:
    neighbours = (lo, hi)
    if len(run.segments) > 1:
        meant = _meant(run, scene, neighbours)
        hit = classify(scene, meant, (run.start, run.end), neighbours, _WHOLE)
        long = _long_number(scene, "".join(meant), run.start, run.end)
        return [hit] if hit is not None else [long] if long is not None else []
    groups = run.segments[0]
    digits = "".join(g.digits for g in groups)
    long_rule = scene.policy.rule(EntityKind.LONG_NUMBER)
    if run.quantity and (long_rule is None or len(digits) < long_rule.min_digits):
        return []  # "twenty dollars", "forty five minutes"
    hit = classify(scene, tuple(g.digits for g in groups), (run.start, run.end), neighbours, _WHOLE)
    return [hit] if hit is not None else _split(run, groups, scene, neighbours)


def _split(run: DigitRun, groups: tuple[Group, ...], scene: Scene, neighbours: tuple[int, int]) -> list[Found]:
    found: list[Found] = []
    k = len(groups)
    loose: list[tuple[Group, int]] = []  # groups no part took, with their start

    def flush() -> None:
        if loose:
            long = _long_number(scene, "".join(g.digits for g, _ in loose), loose[0][1], loose[-1][0].end)
            found.extend([long] if long is not None else [])
            loose.clear()

    i = 0
    while i < k:
        start = run.start if i == 0 else groups[i].start
        hit, j = None, i + 1
        if 1 < k <= _MAX_SPLIT_GROUPS:
            for j in range(k - 1 if i == 0 else k, i, -1):
                part = tuple(g.digits for g in groups[i:j])
                if (hit := classify(scene, part, (start, groups[j - 1].end), neighbours, _PARTS)) is not None:
                    break
        if hit is not None:
            flush()
            found.append(hit)
            i = j
        else:
            loose.append((groups[i], start))
            i += 1
    flush()
    return found


def _long_number(scene: Scene, digits: str, start: int, end: int) -> Found | None:
    rule = scene.policy.rule(EntityKind.LONG_NUMBER)
    if rule is None or not rule.min_digits or len(digits) < rule.min_digits or not rule.fits_length(len(digits)):
        return None
    return Found(rule, digits, start, end)


def _meant(run: DigitRun, scene: Scene, neighbours: tuple[int, int]) -> tuple[str, ...]:
    """The digits the caller meant after correcting themselves, as groups."""
    if len(run.segments) > _MAX_READINGS:  # no caller corrects a number this often: the last reading
        return tuple(g.digits for g in run.segments[-1])
    meant = tuple(g.digits for g in run.segments[0])
    for segment in run.segments[1:]:
        again = tuple(g.digits for g in segment)
        candidates = _corrections(meant, again)
        meant = next(
            (c for c in candidates if classify(scene, c, (run.start, run.end), neighbours, _PARTS) is not None),
            candidates[0],
        )
    return meant


def _corrections(said: tuple[str, ...], again: tuple[str, ...]) -> list[tuple[str, ...]]:
    """What "<said>, no sorry, <again>" may mean: said again from the start, the last group said
    again, or the last digits said again (as many as ``again`` has, or one fewer or more)."""
    said_digits, again_digits = "".join(said), "".join(again)
    replace_last = said[:-1] + again
    overwrite = [
        (said_digits[:-k], *again)
        for k in (len(again_digits), len(again_digits) - 1, len(again_digits) + 1)
        if 0 < k < len(said_digits)
    ]
    if len(again_digits) >= len(said_digits):
        return [again, replace_last, *overwrite]
    return [replace_last, *overwrite, again]


def _from_dates(tokens: list[Token], blocked: list[bool], scene: Scene) -> list[Found]:
    wanted = [
        rule
        for kind in (EntityKind.DOB, EntityKind.EXPIRY)
        if (rule := scene.policy.rule(kind)) is not None
        and rule.requires <= scene.present
        and not rule.excluded_by & scene.present
    ]
    if not wanted:
        return []
    found: list[Found] = []
    day_first = wanted[0].kind is EntityKind.DOB
    _take_dates(find_dates(tokens, blocked, day_first=day_first), wanted, blocked, scene, found)
    if scene.dates is not None:  # the call's language says "doce de marzo de 1980"
        _take_dates(find_linked_dates(tokens, blocked, scene.dates, scene.digits), wanted, blocked, scene, found)
    return found


def _take_dates(
    mentions: list[DateMention], wanted: list[KindRule], blocked: list[bool], scene: Scene, found: list[Found]
) -> None:
    for mention in mentions:
        best: Found | None = None
        best_score = -1
        for rule in sorted(wanted, key=scene.policy.rules.index):
            value = _date_value(rule.kind, mention)
            score = _score(scene, rule, mention.start, mention.end, 0, 1 << 30) if value else -1
            if value is not None and score > best_score:
                best, best_score = Found(rule, value, mention.start, mention.end), score
        if best is not None:
            found.append(best)
            blocked[mention.first : mention.last] = [True] * (mention.last - mention.first)


def _date_value(kind: EntityKind, mention: DateMention) -> str | None:
    if kind is EntityKind.DOB:
        if mention.day is None:
            return f"{mention.year}-{mention.month:02d}" if mention.year else None
        return f"{mention.year or '????'}-{mention.month:02d}-{mention.day:02d}"
    year = mention.year or (f"{mention.day:02d}" if mention.day is not None else None)
    return f"{mention.month:02d}/{year[-2:]}" if year else None


def _expiry(digits: str, groups: tuple[str, ...]) -> str | None:
    """ "04/27", "4 27", "0427", "042027", "oh four twenty twenty seven": month then year."""
    if len(groups) >= 2 and len(groups[0]) <= 2:
        month, year = groups[0], "".join(groups[1:])
    elif len(groups) == 1 and len(digits) in (4, 6):
        month, year = digits[:2], digits[2:]
    else:
        return None
    if len(year) not in (2, 4) or (len(year) == 4 and not year.startswith("20")):
        return None
    return f"{int(month):02d}/{year[-2:]}" if 1 <= int(month) <= _MAX_MONTH else None


def _dob(digits: str, groups: tuple[str, ...]) -> str | None:
    """ "03/03/1980", "3-3-80", "03031980", "oh three oh three nineteen eighty": month, day, year."""
    if len(groups) == 3 and len(groups[0]) <= 2 and len(groups[1]) <= 2 and len(groups[2]) in (2, 4):
        month, day, year = groups
    elif len(digits) in (6, 8):
        month, day, year = digits[:2], digits[2:4], digits[4:]
    else:
        return None
    if len(year) == 4 and year[:2] not in ("19", "20"):
        return None
    if not (1 <= int(month) <= _MAX_MONTH and 1 <= int(day) <= _MAX_DAY):
        return None
    return f"{year}-{int(month):02d}-{int(day):02d}"


def _phone(digits: str, _: tuple[str, ...]) -> str | None:
    number = nanp_number(digits)
    return f"+1{number}" if number else None


def _checked(check: Callable[[str], bool]) -> Callable[[str, tuple[str, ...]], str | None]:
    return lambda digits, _: digits if check(digits) else None


def _any(digits: str, _: tuple[str, ...]) -> str | None:
    return digits


_RECOGNISERS: dict[str, Callable[[str, tuple[str, ...]], str | None]] = {
    EntityKind.CARD: _checked(card_valid),
    EntityKind.SECURITY_CODE: _any,
    EntityKind.EXPIRY: _expiry,
    EntityKind.SSN: _checked(ssn_valid),
    EntityKind.ROUTING: _checked(aba_valid),
    EntityKind.BANK_ACCOUNT: _any,
    EntityKind.PHONE: _phone,
    EntityKind.DOB: _dob,
    EntityKind.CUSTOMER_ACCOUNT: _any,
    EntityKind.LONG_NUMBER: _any,
}
