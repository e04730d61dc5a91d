"""Masking personal data in everything RingWatch hands out.

Reports travel: to enforcement teams, appeal reviewers, merchants. They carry
what an analyst needs to see that accounts are linked, not who the people
are. Masked forms keep exactly that:

- phone ``13812345678`` -> ``138****5678`` (the form platforms already use);
- address -> the part up to the district plus a short hash of the whole
  address, so two orders to the same address still show the same text:
  ``浙江省杭州市西湖区 #3fa2c1``;
- receiver name ``张三`` -> ``张*``;
- IP ``10.1.2.3`` -> ``10.1.2.0/24`` (IPv6: the ``/48``);
- waybill ``SF1234567890`` -> ``SF12****7890``.

Account ids (buyer, seller), device fingerprints and payment hashes are
pseudonymous already and stay as they are. :class:`Masker` applies the rules
when masking is on and returns values untouched when an analyst explicitly
asked for ``--no-mask``.
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = [
    "mask_phone",
    "mask_name",
    "mask_address",
    "mask_ip",
    "mask_waybill",
    "mask_identifier",
    "scrub_text",
    "Masker",
]

# A district-level unit: 区 / 县 / 旗 (or a county-level 市), unless the 区 is part
# of a word that names something smaller (小区 housing estate, 社区, 校区, 园区, 景区)
# or larger (自治区, a province).
_DISTRICT = re.compile(r"(?<![小社校园景街片治])(?:区|县|旗)")
_CITY = (re.compile(r"市"), re.compile(r"州|盟"))
_CJK = re.compile(r"[\u3400-\u9fff]")
# Free-text patterns worth masking wherever they appear: mainland mobile numbers, IPv4.
_PHONE_IN_TEXT = re.compile(r"(?<!\d)(?:\+?86[- ]?)?1[3-9]\d[- ]?\d{4}[- ]?\d{4}(?!\d)")
_IPV4_IN_TEXT = re.compile(r"(?<![\d.])(\d{1,3}\.\d{1,3}\.\d{1,3})\.\d{1,3}(?![\d.])")
# The same phones, addresses and IPs recur on many orders and in many rings: the masks
# that parse or hash are pure functions of their arguments, so remember recent answers.
_remembered = functools.lru_cache(maxsize=1 << 16)


def _short_hash(text: str, n: int = 6) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:n]


@_remembered
def mask_phone(value: str | None) -> str | None:
    """``13812345678`` -> ``138****5678``; values already masked (containing ``*``) are kept.

    Example
    -------
    >>> mask_phone("+86 138-1234-5678")
    '138****5678'
    """
    if value is None or not value.strip():
        return value
    if "*" in value:
        return value.strip()
    digits = re.sub(r"\D", "", value)
    if len(digits) == 13 and digits.startswith("86"):
        digits = digits[2:]  # mainland country code
    if len(digits) >= 7:
        return f"{digits[:3]}****{digits[-4:]}"
    return "****" + digits[-2:]


def mask_name(value: str | None) -> str | None:
    """Keep the first character: ``张三`` -> ``张*``, ``欧阳娜娜`` -> ``欧***``, ``Alice`` -> ``A***``."""
    if value is None or not value.strip():
        return value
    text = value.strip()
    if len(text) == 1:
        return "*"
    return text[0] + "*" * min(len(text) - 1, 3)


def _district(address: str) -> str:
    """The address up to its district (Chinese) or without its first line (other scripts)."""
    if _CJK.search(address):
        head = address[:20]  # a district comes early; later 区 are estates and streets
        found = _DISTRICT.search(head) or _CITY[0].search(head) or _CITY[1].search(head)
        return head[: found.end()] if found else ""
    parts = [p.strip() for p in address.split(",") if p.strip()]
    return ", ".join(parts[1:][-2:]) if len(parts) > 1 else ""


@_remembered
def mask_address(value: str | None, key: str | None = None) -> str | None:
    """Cut an address to its district and add a short hash of the whole (of ``key`` when given).

    Parameters
    ----------
    value : str or None
        The address as typed.
    key : str, optional
        Its normalised key; hashing the key gives two spellings of one
        address the same masked text.

    Example
    -------
    >>> mask_address("浙江省杭州市西湖区文三路100号3单元").startswith("浙江省杭州市西湖区 #")
    True
    """
    if value is None or not value.strip():
        return value
    text = value.strip()
    digest = _short_hash(key or re.sub(r"\s+", "", text))
    district = _district(text)
    return f"{district} #{digest}" if district else f"#{digest}"


@_remembered
def mask_ip(value: str | None) -> str | None:
    """An IP as its network: ``10.1.2.3`` -> ``10.1.2.0/24``, IPv6 -> its ``/48``; unparseable -> ``***``."""
    if value is None or not value.strip():
        return value
    if "*" in value or "/" in value:
        return value.strip()  # already masked or already a network
    try:
        ip = ipaddress.ip_address(value.strip())
    except ValueError:
        return "***"
    prefix = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))


def mask_waybill(value: str | None) -> str | None:
    """Keep the first and last four characters: ``SF1234567890`` -> ``SF12****7890``.

    A waybill number looks up the parcel, and with it parts of the receiver's
    name and address, on the carrier's site.
    """
    if value is None or not value.strip():
        return value
    text = value.strip()
    if len(text) <= 8:
        return "****" + text[-2:]
    return f"{text[:4]}****{text[-4:]}"


def mask_identifier(kind: str, value: str | None, key: str | None = None) -> str | None:
    """Mask a value of an identifier or member kind (``address``, ``phone``, ``ip`` ...).

    Kinds that are pseudonymous already (buyer, seller, device, payment,
    ipnet) are returned unchanged.
    """
    if kind == "phone":
        return mask_phone(value)
    if kind == "address":
        return mask_address(value, key)
    if kind == "ip":
        return mask_ip(value)
    if kind == "waybill":
        return mask_waybill(value)
    return value


def _longest_first(known: Mapping[str, str]) -> list[str]:
    # Longest first, so a value never eats part of a longer one; very short values
    # would mangle ordinary words.
    return sorted((r for r in known if r and len(r) >= 4), key=lambda r: (-len(r), r))


def _scrub(text: str, known: Mapping[str, str], order: list[str]) -> str:
    for raw in order:
        if raw in text:
            text = text.replace(raw, known[raw])
    text = _PHONE_IN_TEXT.sub(lambda m: mask_phone(m.group(0)) or "", text)
    return _IPV4_IN_TEXT.sub(lambda m: f"{m.group(1)}.0/24", text)


def scrub_text(text: str | None, known: Mapping[str, str] | None = None) -> str | None:
    """Mask personal data inside free text (review texts, refund reasons, explanations, notes).

    Parameters
    ----------
    text : str or None
        The text.
    known : mapping of raw value to masked value, optional
        Identifier values known to belong to the ring; each occurrence is replaced.

    Returns
    -------
    str or None
        The text with known values, mainland mobile numbers and IPv4
        addresses masked.

    Example
    -------
    >>> scrub_text("call 13812345678 from 10.1.2.3")
    'call 138****5678 from 10.1.2.0/24'
    """
    if not text:
        return text
    known = known or {}
    return _scrub(text, known, _longest_first(known))


@dataclass
class Masker:
    """Applies the masking rules when ``enabled``; returns values untouched otherwise.

    Parameters
    ----------
    enabled : bool, default True
        False only when an analyst explicitly asked for unmasked output.
    known : dict of raw value to masked value
        Identifier values to replace in free text (see :func:`scrub_text`);
        grow it with :meth:`learn`.

    Example
    -------
    >>> Masker().phone("13812345678"), Masker(enabled=False).phone("13812345678")
    ('138****5678', '13812345678')
    """

    enabled: bool = True
    known: dict[str, str] = field(default_factory=dict)
    _order: list[str] = field(default_factory=list, init=False, repr=False)
    _stale: bool = field(default=True, init=False, repr=False)

    def phone(self, value: str | None) -> str | None:
        return mask_phone(value) if self.enabled else value

    def name(self, value: str | None) -> str | None:
        return mask_name(value) if self.enabled else value

    def address(self, value: str | None, key: str | None = None) -> str | None:
        return mask_address(value, key) if self.enabled else value

    def ip(self, value: str | None) -> str | None:
        return mask_ip(value) if self.enabled else value

    def waybill(self, value: str | None) -> str | None:
        return mask_waybill(value) if self.enabled else value

    def identifier(self, kind: str, value: str | None, key: str | None = None) -> str | None:
        return mask_identifier(kind, value, key) if self.enabled else value

    def text(self, value: str | None) -> str | None:
        """Free text with known identifiers, phone numbers and IPv4 addresses masked."""
        if not self.enabled or not value:
            return value
        if self._stale:
            self._order, self._stale = _longest_first(self.known), False
        return _scrub(value, self.known, self._order)

    def learn(self, kind: str, value: str | None, key: str | None = None) -> str | None:
        """Mask an identifier and remember its raw forms for :meth:`text`; returns the masked value."""
        if self.enabled and value in self.known and (key is None or key in self.known):
            return self.known[value]  # seen before (the same value recurs on many orders)
        masked = self.identifier(kind, value, key)
        if self.enabled and masked is not None and masked != value:
            for raw in (value, key):
                if raw and raw not in self.known:
                    self.known[raw] = masked
                    self._stale = True
        return masked
