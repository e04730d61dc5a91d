"""Normalised identifier keys: the values links are made on.

Platforms and people type the same address, phone or IP in many ways. Each
function here maps an Arrow string array of raw values to an array of keys
(null = unknown) so that variants of one identifier meet and different
identifiers stay apart. The raw value is kept elsewhere for display.

Everything is vectorised with :mod:`pyarrow.compute`. Where Python is needed
(Chinese numerals, IPv6) it runs over the distinct values only.

Addresses
    NFKC (full-width to half-width), case-folded, spaces and punctuation
    removed (a separator between two digits becomes ``-`` so ``1-23`` and
    ``12-3`` stay apart), Chinese numerals before a unit word turned into
    digits (``三号楼`` → ``3号楼``), building words unified (``号楼 栋 幢 座`` →
    ``栋``), floors (``楼 层`` → ``层``), a trailing room word dropped (``301室`` →
    ``301``), a delivery note in brackets after the house or room number dropped
    (``201（放门口）`` → ``201``), and a leading province or municipality dropped, with or without
    its ``省 / 市 / 自治区`` suffix. Nothing else is guessed: a different
    building, room or district gives a different key.
Phones
    Digits only, a ``+86`` / ``0086`` country prefix dropped. A masked phone
    (``138****5678``) keeps its mask and gets its own namespace
    (``masked:138****5678``), so it never equals a full number's key.
IPs
    The canonical text of :mod:`ipaddress` (IPv4-mapped IPv6 read as IPv4);
    the network key is the ``/24`` (IPv4) or ``/64`` (IPv6). Invalid → null.
Devices, payment accounts
    Trimmed.
Waybills
    Carrier-independent: spaces and dashes removed, upper-cased.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = [
    "address_keys",
    "phone_keys",
    "ip_keys",
    "ipnet_keys",
    "device_keys",
    "payment_keys",
    "waybill_keys",
    "address_key",
    "phone_key",
    "ip_key",
    "ipnet_key",
    "MASKED_PREFIX",
    "KeyMemo",
    "identifier_keys",
]

MASKED_PREFIX = "masked:"

# -- shared helpers ------------------------------------------------------------


def _strings(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(values, pa.ChunkedArray):
        values = values.chunk(0) if values.num_chunks == 1 else values.combine_chunks()
    if not pa.types.is_string(values.type):
        values = values.cast(pa.string())
    return values


_NULL = pa.scalar(None, pa.string())


def _empty_to_null(values: pa.Array) -> pa.Array:
    return pc.if_else(pc.equal(values, ""), _NULL, values)


def _per_distinct(values: pa.Array, fn: Callable[[pa.Array], pa.Array]) -> pa.Array:
    """Apply ``fn`` to the distinct values only and map the results back."""
    encoded = values.dictionary_encode()
    return fn(encoded.dictionary).take(encoded.indices)


def _python_map(values: pa.Array, mask: pa.Array, fn: Callable[[str], str | None]) -> pa.Array:
    """Replace the values where ``mask`` holds by ``fn(value)``: Python for the few that need it."""
    mask = pc.fill_null(mask, False)
    if not pc.any(mask).as_py():
        return values
    mapped = pa.array([fn(v) for v in values.filter(mask).to_pylist()], pa.string())
    return pc.replace_with_mask(values, mask, mapped)


# -- addresses -----------------------------------------------------------------

# Whitespace, punctuation and symbols: typed differently, meaning nothing.
_SEP = r"[\s\p{P}\p{S}]"

_MUNICIPALITIES = ("北京", "天津", "上海", "重庆")
_PROVINCES = (
    "河北", "山西", "辽宁", "吉林", "黑龙江", "江苏", "浙江", "安徽", "福建", "江西", "山东",
    "河南", "湖北", "湖南", "广东", "海南", "四川", "贵州", "云南", "陕西", "甘肃", "青海", "台湾",
)  # fmt: skip
_REGIONS = {
    "内蒙古": "自治区",
    "广西": "壮族自治区",
    "西藏": "自治区",
    "宁夏": "回族自治区",
    "新疆": "维吾尔自治区",
    "香港": "特别行政区",
    "澳门": "特别行政区",
}
# A province written with its suffix is always dropped (repeats too: "北京市北京市").
_PROVINCE_WITH_SUFFIX = (
    "^(?:"
    + "|".join(
        [f"{m}市" for m in _MUNICIPALITIES]
        + [f"{p}省" for p in _PROVINCES]
        + [f"{r}{suffix}" for r, suffix in _REGIONS.items()]
    )
    + ")+"
)
# Without its suffix only when a city, prefecture or district follows, so that
# "北京路" (a street in many cities) and "吉林市" (a city) keep their names.
_BARE_PROVINCE = (
    "^(?:" + "|".join((*_MUNICIPALITIES, *_PROVINCES, *_REGIONS)) + r")([^市省自路街道大巷弄]\p{Han}{0,7}?(?:市|州|盟|地区|区|县))"
)

_ANY_PROVINCE = "^(?:" + "|".join((*_MUNICIPALITIES, *_PROVINCES, *_REGIONS)) + ")"

_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000}
_UNIT_WORDS = "号楼|号院|号|栋|幢|座|单元|室|层|楼|弄|巷|期|区|排|户|组"
# Chinese numerals are converted only right before a unit word: "三号楼", not "三里屯".
_CN_NUMBER_RE = re.compile(f"([零〇一二两三四五六七八九十百千]+)(?={_UNIT_WORDS})")
_HAS_CN_NUMBER = f"[零〇一二两三四五六七八九十百千](?:{_UNIT_WORDS})"


def _cn_to_digits(numeral: str) -> str:
    if not any(c in _CN_UNITS for c in numeral):  # read digit by digit: 三零二 -> 302
        return "".join(str(_CN_DIGITS[c]) for c in numeral)
    total, current = 0, 0
    for c in numeral:
        if c in _CN_DIGITS:
            current = _CN_DIGITS[c]
        else:
            total += (current or 1) * _CN_UNITS[c]
            current = 0
    return str(total + current)


def _convert_cn_numbers(text: str) -> str:
    return _CN_NUMBER_RE.sub(lambda m: _cn_to_digits(m.group(1)), text)


def _where(values: pa.Array, pattern: str, fn: Callable[[pa.Array], pa.Array]) -> pa.Array:
    """Apply ``fn`` only to the values that contain ``pattern`` (a cheap scan first saves slow passes)."""
    return _where_mask(values, pc.fill_null(pc.match_substring_regex(values, pattern), False), fn)


def _where_mask(values: pa.Array, mask: pa.Array, fn: Callable[[pa.Array], pa.Array]) -> pa.Array:
    """Apply ``fn`` only to the values where ``mask`` holds."""
    hits = pc.sum(mask).as_py() or 0
    if hits == 0:
        return values
    if hits == len(values):
        return fn(values)
    return pc.replace_with_mask(values, mask, fn(values.filter(mask)))


def _without_separators(s: pa.Array) -> pa.Array:
    # Only values with a separator between two digits need the slow, careful passes.
    def careful(v: pa.Array) -> pa.Array:
        v = pc.replace_substring_regex(v, rf"(\D){_SEP}+", r"\1")
        v = pc.replace_substring_regex(v, rf"{_SEP}+(\D)", r"\1")
        v = pc.replace_substring_regex(v, rf"^{_SEP}+|{_SEP}+$", "")
        return pc.replace_substring_regex(v, rf"{_SEP}+", "-")

    between_digits = pc.fill_null(pc.match_substring_regex(s, rf"[0-9]{_SEP}+[0-9]"), False)
    plain = pc.replace_substring_regex(s, rf"{_SEP}+", "")
    if not pc.any(between_digits).as_py():
        return plain
    return pc.replace_with_mask(plain, between_digits, careful(s.filter(between_digits)))


def _without_room_word(s: pa.Array) -> pa.Array:
    """``301室`` / ``301房`` / ``301号`` / ``301号房`` at the end -> ``301`` (string ops, no regex)."""
    for word in ("号房", "室", "房", "号"):
        n = len(word)
        before = pc.utf8_slice_codeunits(s, -n - 1, -n)
        hit = pc.and_(pc.ends_with(s, word), pc.fill_null(pc.utf8_is_decimal(before), False))
        s = pc.if_else(hit, pc.utf8_slice_codeunits(s, 0, -n), s)
    return s


def _without_province(s: pa.Array) -> pa.Array:
    """Drop a leading province; prefixes may stack ("广东省广东省..."), so repeat while one changes."""
    for _ in range(4):
        mask = pc.fill_null(pc.match_substring_regex(s, _ANY_PROVINCE), False)
        if not pc.any(mask).as_py():
            break
        named = s.filter(mask)
        stripped = pc.replace_substring_regex(named, _PROVINCE_WITH_SUFFIX, "")
        stripped = pc.replace_substring_regex(stripped, _BARE_PROVINCE, r"\1")
        if named.equals(stripped):
            break
        s = pc.replace_with_mask(s, mask, stripped)
    return s


_EXOTIC = r"[^\x00-\x7f\x{4e00}-\x{9fff}]"  # ASCII and CJK ideographs are NFKC already


# A bracketed remark after the last number is for the courier ("放门口", "工作日送"), not the place.
_DELIVERY_NOTE = r"([0-9](?:号房|室|房|号)?)[\s\p{P}]*(?:(?:\([^()]*\)|\[[^\[\]]*\]|【[^【】]*】)[\s\p{P}]*)+$"


def _address_pass(values: pa.Array) -> pa.Array:
    s = _where(values, _EXOTIC, lambda v: pc.utf8_normalize(v, "NFKC"))
    s = pc.utf8_lower(s)
    s = _where(s, r"[)\]】][\s\p{P}]*$", lambda v: pc.replace_substring_regex(v, _DELIVERY_NOTE, r"\1"))
    # Separators go, except between two digits where they become one "-".
    s = _where(s, _SEP, _without_separators)
    s = _python_map(s, pc.match_substring_regex(s, _HAS_CN_NUMBER), _convert_cn_numbers)
    s = _where(s, "号楼|幢|座|号栋", lambda v: pc.replace_substring_regex(v, r"([0-9a-z])(?:号楼|幢|座|号栋)", r"\1栋"))
    s = _where(s, "[0-9]楼", lambda v: pc.replace_substring_regex(v, r"([0-9])楼", r"\1层"))
    s = _without_room_word(s)
    return _without_province(s)


def _normalise_distinct_addresses(values: pa.Array) -> pa.Array:
    s = _address_pass(values)
    # Removing a separator can leave characters that NFKC composes anew (a stray combining
    # mark): run such rare values again until they settle, so a key normalises to itself.
    for _ in range(3):
        again = _where(s, _EXOTIC, _address_pass)
        if again.equals(s):
            break
        s = again
    return _empty_to_null(s)


def address_keys(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Address keys for raw shipping addresses (see the module notes).

    Parameters
    ----------
    values : pyarrow.Array
        Raw addresses as typed; nulls stay null.

    Returns
    -------
    pyarrow.Array
        String keys, null where the address is empty.

    Examples
    --------
    >>> import pyarrow as pa
    >>> address_keys(pa.array(["广东省深圳市南山区 3号楼201室", "深圳市南山区三栋201"])).to_pylist()
    ['深圳市南山区3栋201', '深圳市南山区3栋201']
    """
    return _per_distinct(_strings(values), _normalise_distinct_addresses)


# -- phones --------------------------------------------------------------------

_MASK_CHARS = r"[*•●]"
_X_MASK = r"[0-9][xX]{2,}[0-9]"  # 138xxxx5678; a lone x may be an extension
_COUNTRY_PREFIX = r"^[\s(]*(?:\+|00)\s*86[\s)\-]*"
_MIN_FULL_DIGITS = 7  # shorter than any real phone number: placeholders such as "0" or "-"
_MIN_MASKED_DIGITS = 4


def phone_keys(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Phone keys: digits only; masked phones as ``masked:<digits and *>``.

    Examples
    --------
    >>> import pyarrow as pa
    >>> phone_keys(pa.array(["+86 138-1234-5678", "138****5678", "n/a"])).to_pylist()
    ['13812345678', 'masked:138****5678', None]
    """
    return _per_distinct(_strings(values), _distinct_phone_keys)


def _clean_phones(s: pa.Array) -> pa.Array:
    s = pc.utf8_normalize(s, "NFKC")
    s = pc.replace_substring_regex(s, _COUNTRY_PREFIX, "")
    s = pc.if_else(pc.match_substring_regex(s, _X_MASK), pc.replace_substring_regex(s, "[xX]", "*"), s)
    s = pc.replace_substring_regex(s, _MASK_CHARS, "*")
    return pc.replace_substring_regex(s, r"[^0-9*]", "")


def _distinct_phone_keys(values: pa.Array) -> pa.Array:
    # Most exports write bare digits (or digits and *): only the others need cleaning.
    plain = pc.and_(pc.match_substring_regex(values, r"^[0-9*]+$"), pc.invert(pc.starts_with(values, "0086")))
    messy = pc.invert(pc.fill_null(plain, True))
    s = _where_mask(values, messy, _clean_phones)
    masked = pc.match_substring(s, "*")
    digits = pc.utf8_length(pc.replace_substring(s, "*", ""))
    # A 13-digit number starting 86 1.. is a mobile number written with its country code.
    with_code = pc.and_(pc.equal(pc.utf8_length(s), 13), pc.starts_with(s, "861"))
    s = pc.if_else(with_code, pc.utf8_slice_codeunits(s, 2), s)
    full_ok = pc.and_(pc.invert(masked), pc.greater_equal(digits, _MIN_FULL_DIGITS))
    masked_ok = pc.and_(masked, pc.greater_equal(digits, _MIN_MASKED_DIGITS))
    keyed = pc.if_else(masked, pc.binary_join_element_wise(MASKED_PREFIX, s, ""), s)
    return pc.if_else(pc.or_(full_ok, masked_ok), keyed, pa.scalar(None, pa.string()))


# -- IPs -----------------------------------------------------------------------

_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4 = rf"^{_OCTET}(?:\.{_OCTET}){{3}}$"
_PLAIN_IPV6 = r"^[1-9a-f][0-9a-f]{0,3}(?::[1-9a-f][0-9a-f]{0,3}){7}$"


def _other_ip(text: str) -> tuple[str | None, str | None]:
    """Key and network key of a value that is not plain dotted IPv4 (IPv6 mostly)."""
    try:  # the C parser first: it prints the same canonical text as ipaddress, much faster
        packed = socket.inet_pton(socket.AF_INET6, text)
        canonical = socket.inet_ntop(socket.AF_INET6, packed)
        if "." not in canonical:  # glibc prints IPv4-mapped and some other forms dotted
            return canonical, socket.inet_ntop(socket.AF_INET6, packed[:8] + bytes(8)) + "/64"
    except (OSError, ValueError):  # not IPv6 text, or a NUL inside
        pass
    try:
        address = ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return None, None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    prefix = 24 if address.version == 4 else 64
    return str(address), str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


def _ip_pair(values: pa.Array) -> tuple[pa.Array, pa.Array]:
    s = _empty_to_null(pc.utf8_trim_whitespace(_strings(values)))
    is_v4 = pc.fill_null(pc.match_substring_regex(s, _IPV4), False)
    ips = pc.if_else(is_v4, s, _NULL)
    nets = pc.if_else(is_v4, pc.replace_substring_regex(s, r"\.[0-9]+$", ".0/24"), _NULL)
    # Full IPv6 without zero groups or leading zeros is canonical already (nothing to compress).
    v6 = pc.fill_null(pc.match_substring_regex(s, _PLAIN_IPV6), False)
    if pc.any(v6).as_py():
        ips = pc.if_else(v6, s, ips)
        head = pc.extract_regex(s, r"^(?P<net>(?:[0-9a-f]{1,4}:){4})")
        nets = pc.if_else(v6, pc.binary_join_element_wise(pc.struct_field(head, "net"), ":/64", ""), nets)
    other = pc.and_(pc.invert(pc.or_(is_v4, v6)), pc.is_valid(s))
    if pc.any(other).as_py():
        pairs = [_other_ip(v) for v in s.filter(other).to_pylist()]
        ips = pc.replace_with_mask(ips, other, pa.array([p[0] for p in pairs], pa.string()))
        nets = pc.replace_with_mask(nets, other, pa.array([p[1] for p in pairs], pa.string()))
    return ips, nets


def ip_keys(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Canonical IP text (as :func:`ipaddress.ip_address` prints it); invalid → null.

    Examples
    --------
    >>> import pyarrow as pa
    >>> ip_keys(pa.array(["10.0.0.1 ", "2001:DB8::0:1", "999.1.1.1"])).to_pylist()
    ['10.0.0.1', '2001:db8::1', None]
    """
    return _per_distinct(_strings(values), lambda d: _ip_pair(d)[0])


def ipnet_keys(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """The IP's ``/24`` (IPv4) or ``/64`` (IPv6) network, a weaker identifier; invalid → null.

    Examples
    --------
    >>> import pyarrow as pa
    >>> ipnet_keys(pa.array(["10.0.0.1", "2001:db8::1"])).to_pylist()
    ['10.0.0.0/24', '2001:db8::/64']
    """
    return _per_distinct(_strings(values), lambda d: _ip_pair(d)[1])


# -- devices, payment accounts, waybills ----------------------------------------


def device_keys(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Device fingerprints, trimmed; empty → null."""
    return _empty_to_null(pc.utf8_trim_whitespace(_strings(values)))


def payment_keys(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Hashed payment instruments, trimmed; empty → null."""
    return _empty_to_null(pc.utf8_trim_whitespace(_strings(values)))


def waybill_keys(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Tracking numbers without spaces or dashes, upper-case; the carrier is not part of the key."""
    s = pc.replace_substring_regex(pc.utf8_normalize(_strings(values), "NFKC"), r"[\s\-]+", "")
    # NFKC again: a removed space may have separated a letter from a combining mark.
    return _empty_to_null(pc.utf8_upper(pc.utf8_normalize(s, "NFKC")))


# -- one value at a time (tests, notebooks) ---------------------------------------


def _one(fn: Callable[[pa.Array], pa.Array], value: str | None) -> str | None:
    return fn(pa.array([value], pa.string()))[0].as_py()


def address_key(value: str | None) -> str | None:
    """:func:`address_keys` for one value."""
    return _one(address_keys, value)


def phone_key(value: str | None) -> str | None:
    """:func:`phone_keys` for one value."""
    return _one(phone_keys, value)


def ip_key(value: str | None) -> str | None:
    """:func:`ip_keys` for one value."""
    return _one(ip_keys, value)


def ipnet_key(value: str | None) -> str | None:
    """:func:`ipnet_keys` for one value."""
    return _one(ipnet_keys, value)


# -- a chunk's key columns -------------------------------------------------------------

# Per identifier kind: the function over distinct raw values, giving one or more key arrays.
_DISTINCT: dict[str, Callable[[pa.Array], tuple[pa.Array, ...]]] = {
    "address": lambda d: (_normalise_distinct_addresses(d),),
    "phone": lambda d: (_distinct_phone_keys(d),),
    "ip": _ip_pair,  # the address and its network come from one parse
}
# Kinds whose keys are memoised over a run: only addresses are dear enough to pay for the look-up.
_MEMOISED = frozenset({"address"})
_PLAIN: dict[str, Callable[[pa.Array | pa.ChunkedArray], pa.Array]] = {
    "device": device_keys,
    "payment": payment_keys,
    "waybill": waybill_keys,
}


class KeyMemo:
    """Keys already made in a run, so that each distinct raw value is normalised once per run.

    Addresses repeat across chunks and files (at 1M generated orders,
    per-chunk distinct addresses add up to 2.2 times the run's distinct
    ones). The memo keeps the distinct raw values seen and their keys, and
    normalises only values it has not seen; it starts over beyond ``limit``
    values per kind, so memory stays bounded. Keys are the same with or
    without it: every rule looks at one value at a time. :func:`identifier_keys`
    uses it for addresses only: phone and IP keys cost about as much to make
    as to look up.

    Parameters
    ----------
    limit : int
        Distinct raw values kept per identifier kind.
    """

    def __init__(self, limit: int = 1_000_000):
        self.limit = limit
        self._known: dict[str, tuple[pa.Array, tuple[pa.Array, ...]]] = {}

    def keys(self, kind: str, distinct: pa.Array) -> tuple[pa.Array, ...]:
        """The keys of ``distinct`` (unique, non-null raw values) for an identifier kind of ``_DISTINCT``."""
        fn = _DISTINCT[kind]
        known = self._known.get(kind)
        if known is None or len(known[0]) + len(distinct) > self.limit:
            made = fn(distinct)
            self._known[kind] = (distinct, made)
            return made
        raw, keys = known
        where = pc.fill_null(pc.index_in(distinct, value_set=raw), -1).to_numpy().astype(np.int64)
        new = where < 0
        if not new.any():
            return tuple(k.take(pa.array(where)) for k in keys)
        fresh = distinct.filter(pa.array(new))
        made = fn(fresh)
        raw = pa.concat_arrays([raw, fresh])
        keys = tuple(pa.concat_arrays([k, m]) for k, m in zip(keys, made, strict=True))
        self._known[kind] = (raw, keys)
        where[new] = np.arange(len(raw) - len(fresh), len(raw))
        positions = pa.array(where)
        return tuple(k.take(positions) for k in keys)


def identifier_keys(
    mapping: dict[str, tuple[str, str]], columns: dict[str, pa.Array], memo: KeyMemo | None = None
) -> dict[str, pa.Array]:
    """Key columns for a chunk's raw columns.

    Parameters
    ----------
    mapping : dict
        Key column -> (identifier kind, raw column), e.g.
        ``{"address_key": ("address", "ship_address")}``
        (:attr:`ingest.schema.FileKind.keys`).
    columns : dict
        Raw column name -> values. Key columns whose raw column is missing are left out.
    memo : KeyMemo, optional
        Keys made for earlier chunks of the run, reused (the same keys, less work).

    Returns
    -------
    dict
        Key column -> keys.

    Examples
    --------
    >>> import pyarrow as pa
    >>> out = identifier_keys({"ip_key": ("ip", "ip"), "ipnet_key": ("ipnet", "ip")}, {"ip": pa.array(["10.0.0.1"])})
    >>> out["ipnet_key"].to_pylist()
    ['10.0.0.0/24']
    """
    memo = memo if memo is not None else KeyMemo()
    out: dict[str, pa.Array] = {}
    made: dict[tuple[str, str], tuple[pa.Array, ...]] = {}  # (kind, raw column) -> keys per row
    for key_column, (kind, raw) in mapping.items():
        values = columns.get(raw)
        if values is None:
            continue
        if kind in _PLAIN:
            out[key_column] = _PLAIN[kind](values)
            continue
        family = "ip" if kind == "ipnet" else kind
        if (family, raw) not in made:
            encoded = _strings(values).dictionary_encode()
            distinct = encoded.dictionary
            keys = memo.keys(family, distinct) if family in _MEMOISED else _DISTINCT[family](distinct)
            made[family, raw] = tuple(k.take(encoded.indices) for k in keys)
        out[key_column] = made[family, raw][1 if kind == "ipnet" else 0]
    return out
