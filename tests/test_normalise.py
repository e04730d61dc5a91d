"""Normalisers and value parsers: properties that must hold for any input."""

from __future__ import annotations

import ipaddress
import zoneinfo
from datetime import UTC, datetime, timedelta, timezone

import pyarrow as pa
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from ingest.checks import parse_booleans, parse_numbers, parse_timestamps
from ingest.normalise import (
    MASKED_PREFIX,
    KeyMemo,
    address_keys,
    device_keys,
    identifier_keys,
    ip_keys,
    ipnet_keys,
    phone_keys,
    waybill_keys,
)

TEXT = st.text(st.characters(codec="utf-8"), max_size=40)
KEY_FUNCTIONS = [address_keys, phone_keys, ip_keys, device_keys, waybill_keys]


def keys(fn, values: list[str | None]) -> list[str | None]:
    return fn(pa.array(values, pa.string())).to_pylist()


# -- idempotence -----------------------------------------------------------------


@pytest.mark.parametrize("fn", KEY_FUNCTIONS, ids=lambda f: f.__name__)
@given(values=st.lists(TEXT, min_size=1, max_size=30))
@settings(deadline=None)  # a shared 2-core machine makes timings noisy
def test_normalising_a_key_again_changes_nothing(fn, values):
    once = keys(fn, values)
    assert keys(fn, once) == once


@pytest.mark.parametrize("fn", KEY_FUNCTIONS, ids=lambda f: f.__name__)
def test_empty_and_blank_values_are_unknown(fn):
    assert keys(fn, ["", "   ", None]) == [None, None, None]


# -- addresses -----------------------------------------------------------------------

CN_NUMERALS = {1: "一", 2: "二", 3: "三", 4: "四", 5: "五", 6: "六", 7: "七", 8: "八", 9: "九", 10: "十",
               11: "十一", 12: "十二", 15: "十五", 20: "二十", 23: "二十三"}  # fmt: skip
PLACES = [
    ("广东", "省", "深圳市", "南山区", "科技园路"),
    ("浙江", "省", "杭州市", "西湖区", "文三路"),
    ("北京", "市", "", "朝阳区", "建国路"),
    ("上海", "市", "", "浦东新区", "世纪大道"),
    ("吉林", "省", "吉林市", "船营区", "解放路"),
    ("广西", "壮族自治区", "南宁市", "青秀区", "民族大道"),
]


def fullwidth(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


@st.composite
def address(draw, place=None, building=None, room=None):
    """One way of typing an address: the same place, building and room always meet."""
    province, suffix, city, district, road = place or draw(st.sampled_from(PLACES))
    building = building or draw(st.integers(1, 23))
    room = room or draw(st.integers(101, 2504))
    number = draw(st.integers(1, 999)) if place is None else 88
    prefix = draw(st.sampled_from([province + suffix, province, ""]))
    if city == "" and prefix == province:  # "北京朝阳区" is fine, a bare "北京" before a road is not
        prefix = province + suffix
    numeral = draw(st.sampled_from(["digits", "chinese", "fullwidth"])) if building in CN_NUMERALS else "digits"
    b = {"digits": str(building), "chinese": CN_NUMERALS.get(building, ""), "fullwidth": fullwidth(str(building))}[
        numeral
    ]
    word = draw(st.sampled_from(["号楼", "栋", "幢", "座"]))
    room_text = str(room) + draw(st.sampled_from(["室", "", "号", "房"]))
    sep = st.sampled_from(["", " ", "  ", ",", "，", "　"])
    parts = [prefix, city, district, f"{road}{number}号", f"{b}{word}", room_text]
    note = draw(st.sampled_from(["", "（放门口）", "(工作日送)", "【放快递柜】 "]))  # for the courier
    return "".join(p + draw(sep) for p in parts if p) + note


@given(place=st.sampled_from(PLACES), building=st.integers(1, 23), room=st.integers(101, 2504), data=st.data())
@settings(max_examples=60, deadline=None)
def test_typing_variants_of_one_address_meet(place, building, room, data):
    variants = [data.draw(address(place, building, room)) for _ in range(4)]
    assert len(set(keys(address_keys, variants))) == 1, variants


@given(place=st.sampled_from(PLACES), building=st.integers(1, 23), room=st.integers(101, 2504), data=st.data())
@settings(max_examples=60, deadline=None)
def test_a_different_building_room_or_district_does_not_meet(place, building, room, data):
    same = data.draw(address(place, building, room))
    other_building = data.draw(address(place, building + 1, room))
    other_room = data.draw(address(place, building, room + 1))
    province, suffix, city, district, road = place
    other_district = data.draw(address((province, suffix, city, "龙华区", road), building, room))
    key, *others = keys(address_keys, [same, other_building, other_room, other_district])
    assert key not in others


def test_address_examples():
    got = keys(
        address_keys,
        ["广东省深圳市南山区科技园路8号3号楼201室", "深圳市南山区 科技园路８号三栋201", "广东深圳市南山区科技园路8号3幢201号",
         "北京路1号", "上海路1号", "吉林市船营区1号", "吉林省吉林市船营区1号", "3栋1-23", "3栋12-3",
         "深圳市南山区科技园路8号3栋201室（放门口）", "幸福小区(东区)3栋201", "幸福小区(西区)3栋201"],
    )  # fmt: skip
    assert got[0] == got[1] == got[2] == "深圳市南山区科技园路8号3栋201"
    assert got[3] != got[4]  # a street named after a province keeps its name
    assert got[5] == got[6] == "吉林市船营区1"
    assert got[7] != got[8]  # separators between digits are kept
    assert got[9] == got[0]  # a delivery note is not part of the place
    assert got[10] != got[11]  # a bracket inside the address is


# -- phones ----------------------------------------------------------------------------

MOBILE = st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True)


@given(number=MOBILE, style=st.sampled_from(["{n}", "+86 {a}-{b}-{c}", "0086{n}", "86{n}", "+86{n}", "({a}) {b} {c}"]))
@settings(deadline=None)  # a shared 2-core machine makes timings noisy
def test_phone_spellings_meet(number, style):
    text = style.format(n=number, a=number[:3], b=number[3:7], c=number[7:])
    assert keys(phone_keys, [text]) == [number]


@given(number=MOBILE, other=MOBILE, stars=st.integers(3, 5))
@settings(deadline=None)  # a shared 2-core machine makes timings noisy
def test_masked_phones_never_equal_full_ones(number, other, stars):
    masked = number[:3] + "*" * stars + number[-4:]
    full_keys = keys(phone_keys, [number, other])
    masked_key = keys(phone_keys, [masked])[0]
    assert masked_key == MASKED_PREFIX + masked
    assert masked_key not in full_keys


# -- IPs ----------------------------------------------------------------------------------


@given(address=st.ip_addresses())
@settings(deadline=None)  # a shared 2-core machine makes timings noisy
def test_ip_keys_match_ipaddress(address):
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    spelled = address.exploded.upper() if address.version == 6 else str(address)
    prefix = 24 if address.version == 4 else 64
    assert keys(ip_keys, [f" {spelled} "]) == [str(address)]
    assert keys(ipnet_keys, [spelled]) == [str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))]


def test_invalid_ips_give_no_key():
    assert keys(ip_keys, ["999.1.1.1", "01.2.3.4", "not an ip", "1.2.3"]) == [None] * 4


def test_identifier_keys_builds_ip_and_network_together():
    out = identifier_keys(
        {"ip_key": ("ip", "ip"), "ipnet_key": ("ipnet", "ip"), "waybill_key": ("waybill", "tracking_no")},
        {"ip": pa.array(["10.1.2.3", "::ffff:10.1.2.4"]), "tracking_no": pa.array([" sf 1234-5678 ", None])},
    )
    assert out["ip_key"].to_pylist() == ["10.1.2.3", "10.1.2.4"]
    assert out["ipnet_key"].to_pylist() == ["10.1.2.0/24", "10.1.2.0/24"]
    assert out["waybill_key"].to_pylist() == ["SF12345678", None]


REPEATED = st.sampled_from(
    ["北京市朝阳区建国路1号", "朝阳区建国路1号", "+86 138 1234 5678", "13812345678", "10.0.0.1", "::ffff:10.0.0.1"]
)


@given(
    chunks=st.lists(st.lists(st.one_of(st.none(), REPEATED, TEXT), max_size=8), min_size=1, max_size=4),
    limit=st.integers(1, 10),
)
@settings(deadline=None)
def test_keys_made_with_the_runs_memo_are_the_keys_made_without(chunks, limit):
    mapping = {"address_key": ("address", "raw"), "phone_key": ("phone", "raw"), "ip_key": ("ip", "raw"),
               "ipnet_key": ("ipnet", "raw")}  # fmt: skip
    memo = KeyMemo(limit=limit)
    for chunk in chunks:
        values = {"raw": pa.array(chunk, pa.string())}
        with_memo = identifier_keys(mapping, values, memo)
        without = identifier_keys(mapping, values)
        assert {k: v.to_pylist() for k, v in with_memo.items()} == {k: v.to_pylist() for k, v in without.items()}


# -- value parsing ---------------------------------------------------------------------------

MOMENTS = st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2090, 1, 1)).map(
    lambda d: d.replace(microsecond=d.microsecond // 1000 * 1000)
)
ZONES = st.sampled_from(["UTC", "Asia/Shanghai", "America/New_York", "Europe/Berlin", "Asia/Kolkata"])


@given(moment=MOMENTS, offset_minutes=st.integers(-14 * 4, 14 * 4).map(lambda q: q * 15))
@settings(deadline=None)  # a shared 2-core machine makes timings noisy
def test_iso_timestamps_with_offsets_round_trip(moment, offset_minutes):
    aware = moment.replace(tzinfo=UTC)
    local = aware.astimezone(timezone(timedelta(minutes=offset_minutes)))
    texts = [local.isoformat(), local.isoformat(sep=" "), local.isoformat().replace("+00:00", "Z")]
    assert parse_timestamps(pa.array(texts)).to_pylist() == [aware] * 3


@given(moment=MOMENTS, zone=ZONES)
@settings(deadline=None)  # a shared 2-core machine makes timings noisy
def test_naive_timestamps_are_read_in_the_given_zone(moment, zone):
    tz = zoneinfo.ZoneInfo(zone)
    first, second = (moment.replace(tzinfo=tz, fold=fold).astimezone(UTC) for fold in (0, 1))
    assume(first == second and first.astimezone(tz).replace(tzinfo=None) == moment)  # no DST gap or overlap
    got = parse_timestamps(pa.array([moment.isoformat(sep=" "), moment.strftime("%Y/%m/%d %H:%M:%S.%f")]), zone)
    assert got.to_pylist() == [first, first]


def test_an_ambiguous_wall_time_is_its_first_occurrence():
    got = parse_timestamps(pa.array(["2026-11-01 01:30:00"]), "America/New_York").to_pylist()
    assert got == [datetime(2026, 11, 1, 5, 30, tzinfo=UTC)]  # 01:30 EDT, before the clocks go back


@given(moment=MOMENTS)
@settings(deadline=None)  # a shared 2-core machine makes timings noisy
def test_epoch_seconds_and_milliseconds_round_trip(moment):
    aware = moment.replace(tzinfo=UTC)
    seconds = aware.replace(microsecond=0).timestamp()
    millis = int(aware.timestamp() * 1000)
    got = parse_timestamps(pa.array([str(int(seconds)), str(millis)])).to_pylist()
    assert got == [aware.replace(microsecond=0), datetime.fromtimestamp(millis / 1000, UTC)]


def test_mixed_timestamp_forms_in_one_column():
    got = parse_timestamps(
        pa.array(["2026-03-01T20:15:00+08:00", "1772367300000", "1772367300", " 2026-03-01 12:15 ", "2026-02-30",
                  "yesterday", "", None]),
    ).to_pylist()  # fmt: skip
    moment = datetime(2026, 3, 1, 12, 15, tzinfo=UTC)
    assert got == [moment] * 4 + [None] * 4


def test_numbers_and_booleans():
    assert parse_numbers(pa.array(["12.5", " 7 ", "¥1,234.50", "1,5", "abc", "nan", ""])).to_pylist() == [
        12.5, 7.0, 1234.5, None, None, None, None,
    ]  # fmt: skip
    assert parse_booleans(pa.array(["TRUE", "no", "1", "Yes", "0", "maybe", None])).to_pylist() == [
        True, False, True, True, False, None, None,
    ]  # fmt: skip
