"""What a digit string can be: a card number (brand prefix, length, Luhn), an expiry, an SSN..."""

from __future__ import annotations

import re

from pipeline.redact.options import ACCOUNT, CVV, EXPIRY, PIN, ROUTING, SSN

# (prefix ranges, allowed lengths); a range (low, high) is compared with as many leading
# digits as ``low`` has.
_CARD_BRANDS: tuple[tuple[tuple[tuple[int, int], ...], tuple[int, ...]], ...] = (
    (((4, 4),), (13, 16, 19)),  # Visa
    (((51, 55), (2221, 2720)), (16,)),  # Mastercard
    (((34, 34), (37, 37)), (15,)),  # American Express
    (((6011, 6011), (644, 649), (65, 65)), (16, 17, 18, 19)),  # Discover
    (((300, 305), (36, 36), (38, 39)), (14, 15, 16, 17, 18, 19)),  # Diners Club
    (((3528, 3589),), (16, 17, 18, 19)),  # JCB
    (((62, 62),), (16, 17, 18, 19)),  # UnionPay
    (((2200, 2204),), (16, 17, 18, 19)),  # Mir
    (((50, 50), (56, 69)), (13, 14, 15, 16, 17, 18, 19)),  # Maestro
)

CARD_FIRST_DIGITS = frozenset("23456")

# The fewest digits any card number has.
CARD_MIN_DIGITS = min(length for _, lengths in _CARD_BRANDS for length in lengths)

_CARD_PREFIXES = tuple(
    (len(str(low)), low, high, frozenset(lengths))
    for ranges, lengths in _CARD_BRANDS
    for low, high in ranges
)

_SSN_LITERAL = re.compile(r"^(\d{3})-(\d{2})-(\d{4})$")
_IBAN = re.compile(r"^[A-Z]{2}\d{2}[A-Z0-9]{11,30}$")
# ---------------------------------------------------------------------------------------------
# Checks on digit strings


def _luhn_ok(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        digit = ord(char) - 48
        if index % 2:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


def is_card_number(digits: str) -> bool:
    """13-19 digits, Luhn-valid, with a known brand's prefix and length."""
    for width, low, high, lengths in _CARD_PREFIXES:
        if len(digits) in lengths and low <= int(digits[:width]) <= high:
            return _luhn_ok(digits)
    return False


def is_expiry(digits: str) -> bool:
    """MMYY, MYY, MMYYYY or MYYYY with a real month (and a 20xx year when four digits)."""
    if len(digits) == 4:
        return 1 <= int(digits[:2]) <= 12
    if len(digits) == 3:
        return digits[0] != "0"
    if len(digits) == 6:
        return 1 <= int(digits[:2]) <= 12 and digits[2:4] == "20"
    if len(digits) == 5:
        return digits[0] != "0" and digits[1:3] == "20"
    return False


def fits(kind: str, digits: str) -> bool:
    if kind == CVV:
        return len(digits) in (3, 4)
    if kind == EXPIRY:
        return is_expiry(digits)
    if kind == ACCOUNT:
        return 4 <= len(digits) <= 17
    if kind == ROUTING:
        return 5 <= len(digits) <= 9
    if kind == SSN:
        return len(digits) in (4, 9)
    if kind == PIN:
        return 4 <= len(digits) <= 8
    return False


def ssn_literal_ok(norm: str) -> bool:
    match = _SSN_LITERAL.match(norm) if len(norm) == 11 else None
    if match is None:
        return False
    area, group, serial = match.groups()
    return area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000"


def iban_ok(text: str) -> bool:
    if len(text) < 15 or not _IBAN.match(text):
        return False
    moved = text[4:] + text[:4]
    number = "".join(str(int(char, 36)) for char in moved)
    return int(number) % 97 == 1
