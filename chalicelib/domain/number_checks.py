"""The check rules that tell an identifier from any other run of digits.

A run of digits is only a card number if its Luhn digit is right, a routing number if its ABA
checksum is, an SSN if it avoids the areas, groups and serials that are never issued. Each check
takes the digits alone (``"4111111111111111"``) and says yes or no; none of them looks at words.
"""

from __future__ import annotations

SSN_DIGITS = 9
ROUTING_DIGITS = 9
PHONE_DIGITS = 10
_ABA_WEIGHTS = (3, 7, 1, 3, 7, 1, 3, 7, 1)


def luhn_valid(digits: str) -> bool:
    """True when the last digit is the Luhn check digit of the others.

    Example:
        >>> luhn_valid("4111111111111111"), luhn_valid("4111111111111112")
        (True, False)
    """
    total = 0
    for i, char in enumerate(reversed(digits)):
        d = ord(char) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return bool(digits) and total % 10 == 0


def card_valid(digits: str) -> bool:
    """True for a payment card number: Luhn-valid, and not starting with 0 (no card network's).

    Example:
        >>> card_valid("4111111111111111"), card_valid("0000000000000")
        (True, False)
    """
    return bool(digits) and digits[0] != "0" and luhn_valid(digits)


def luhn_check_digit(body: str) -> str:
    """The digit that makes ``body`` + digit pass the Luhn check.

    Example:
        >>> luhn_check_digit("411111111111111")
        '1'
    """
    return next(str(d) for d in range(10) if luhn_valid(f"{body}{d}"))


def aba_valid(digits: str) -> bool:
    """True for a 9-digit US bank routing number whose 3-7-1 weighted sum is a multiple of 10.

    Example:
        >>> aba_valid("021000021"), aba_valid("021000022")
        (True, False)
    """
    if len(digits) != ROUTING_DIGITS or digits == "0" * ROUTING_DIGITS:
        return False
    return sum(w * (ord(c) - 48) for w, c in zip(_ABA_WEIGHTS, digits, strict=True)) % 10 == 0


def ssn_valid(digits: str) -> bool:
    """True for a 9-digit SSN the Social Security Administration could have issued.

    Never issued: area 000, 666 and 900-999, group 00, serial 0000.

    Example:
        >>> ssn_valid("123456789"), ssn_valid("666121234"), ssn_valid("123004567")
        (True, False, False)
    """
    if len(digits) != SSN_DIGITS:
        return False
    area, group, serial = digits[:3], digits[3:5], digits[5:]
    return area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000"


def nanp_number(digits: str) -> str | None:
    """The 10-digit North American number in ``digits`` (with or without the leading 1), or None.

    The area code and the exchange each start with 2-9.

    Example:
        >>> nanp_number("12125550142"), nanp_number("1125550142")
        ('2125550142', None)
    """
    if len(digits) == PHONE_DIGITS + 1 and digits[0] == "1":
        digits = digits[1:]
    if len(digits) != PHONE_DIGITS or digits[0] in "01" or digits[3] in "01":
        return None
    return digits
