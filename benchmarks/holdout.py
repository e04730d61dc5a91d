"""Holdout check: detection quality on data RingWatch's own generator never made.

An independent synthetic marketplace, written only from docs DOMAIN.md and the
input contract (CONTRACT.md section 1), with its own distributions, its own
variants of every tactic and its own honest look-alikes (docs/holdout.md).
For each seed it writes ``orders.csv``, ``buyers.csv``, ``sellers.csv``,
``items.csv`` and the truth (``truth.json``, ``truth_buyers.csv`` in the
format :func:`graph.evaluate.load_truth` reads), ingests into a fresh DuckDB
store, runs :func:`graph.detect.pipeline.run_detection` and prints the figures
of :func:`graph.evaluate.evaluate_run`, per tactic and per look-alike kind,
plus each missed ring and each wrongly flagged group.

Run: ``.venv/bin/python benchmarks/holdout.py --orders 100000 --seeds 0,1,2 [--thin]``
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DAY, HOUR = 86_400, 3_600
T0 = int(np.datetime64("2026-02-02T00:00:00", "s").astype(np.int64)) - 8 * HOUR  # local midnight, UTC+8
SPAN = 150  # days of orders
END = T0 + (SPAN + 2) * DAY  # export cut-off: later logistics events are not known yet
SALE_DAYS = {46: 2.5, 105: 4.0, 133: 1.8}  # day -> volume multiplier (spring sale, mid-year sale, ...)
HOUR_W = np.array([3, 2, 1, 1, 1, 1, 2, 4, 6, 7, 8, 8, 9, 8, 7, 7, 7, 8, 9, 11, 13, 14, 12, 7], float)
CATS = ["apparel", "beauty", "electronics", "home", "food", "baby", "sports", "books", "pets", "virtual"]
CAT_PRICE = dict(apparel=90, beauty=120, electronics=260, home=70, food=45, baby=110, sports=150, books=40,
                 pets=80, virtual=30)
CAT_WEIGHT = dict(apparel=400, beauty=250, electronics=900, home=1500, food=1200, baby=700, sports=1100,
                  books=600, pets=2500, virtual=0)
CARRIERS = [("顺丰", "SF"), ("圆通", "YT"), ("中通", "7"), ("申通", "77"), ("韵达", "43"), ("京东", "JDV"), ("邮政", "98")]
SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹")
GIVEN = list("伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂华玉萍红鹏飞婷雪慧")
PLACES = ["杭州市西湖区", "上海市闵行区", "广州市天河区", "成都市武侯区", "武汉市洪山区", "南京市鼓楼区", "深圳市南山区", "西安市雁塔区"]
ROADS = list("文学人民建设解放中山和平新华长江黄河青年胜利光明东风")
MOBILE = ["130", "131", "132", "135", "136", "137", "138", "139", "150", "151", "152", "155", "156", "158", "159",
          "176", "177", "186", "187", "189"]
FRAGS = [a + b for a in ["质量", "物流", "包装", "客服", "做工", "颜色", "尺码", "味道", "面料", "性价比", "发货", "手感", "外观",
                          "效果", "做工细节", "快递小哥", "价格", "款式", "分量", "气味"]
         for b in ["很好", "不错", "挺好", "很快", "超赞", "满意", "很棒", "没问题", "可以", "一流", "比想象的好", "很赞"]]
SHORT = ["好评", "不错", "挺好的", "满意", "还可以", "好", "good", "一如既往的好", "五星", "默认好评"]
BAD = ["质量一般", "有色差", "物流太慢了", "不值这个价", "做工粗糙", "用了两天就坏了", "和图片不一样", "有异味"]
HONEST_REFUND = ["不想要了", "拍错了", "尺码不合适", "质量问题", "七天无理由退货", "商品破损", "少件/漏发"]
ABUSE_REFUND = ["收到空包", "empty package", "少件", "missing item", "包裹是空的，要求退款"]
CLAIM_REFUND = ["发货超时", "延迟发货赔付", "late shipment compensation", "未按约定时间发货"]
NEG_TPL = ["质量太差了，和图片完全不一样，大家千万别买", "垃圾商家，假货，收到就坏了，差评", "客服态度恶劣，东西有问题不给退，避雷",
           "用了一次就过敏了，三无产品，强烈不推荐"]
EXTORT_TPL = ["不给个说法就天天投诉", "赔钱这事就算了，不然差评到底", "已经截图，不赔偿就找平台和媒体"]
DECOR = ["", "！", "!!", "👍", "~", "。", " ", "❤", "2", "!!!"]
ORDER_COLS = ["order_id", "buyer_id", "seller_id", "created_at", "amount", "item_id", "quantity", "item_price",
              "ship_address", "receiver_name", "receiver_phone", "device_id", "ip", "payment_account", "tracking_no",
              "carrier", "parcel_weight_g", "shipped_at", "delivered_at", "confirmed_at", "status", "refund_reason",
              "rating", "review_text", "reviewed_at", "chat_messages"]
THIN_COLS = ["order_id", "buyer_id", "seller_id", "created_at"]
ID_KINDS = ("dev", "ip", "addr", "phone", "pay", "name")


class World:
    """Shops, items and buyer profiles; identifiers are integers per kind until written."""

    def __init__(self, orders: int, seed: int):
        self.rng = r = np.random.default_rng([seed, 0x401D])
        self.n = orders
        self.f = orders / 100_000
        self.count = dict.fromkeys(ID_KINDS, 0)
        self.addr_style: list[np.ndarray] = []  # 0 home, 1 parcel station, 2 office/campus, 3 pickup point
        # Shops: a lognormal (not Zipf) size skew; 1 shop per ~55 orders.
        S = self.S = max(40, orders // 55)
        self.shop_w = r.lognormal(0, 1.9, S)
        self.cat = r.choice(len(CATS), S, p=[.2, .13, .11, .12, .13, .06, .07, .05, .06, .07])
        self.shop_reg = T0 - r.uniform(60, 2500, S) * DAY
        self.ship_h = r.lognormal(np.log(22), 0.7, S)  # typical handling time
        self.carrier = r.integers(0, len(CARRIERS), S)
        self.n_items = np.minimum(1 + r.geometric(0.18, S), 60)
        self.item_start = np.r_[0, np.cumsum(self.n_items)[:-1]]
        self.item_shop = np.repeat(np.arange(S), self.n_items)
        ic = self.cat[self.item_shop]
        self.price = np.floor(np.array([CAT_PRICE[CATS[c]] for c in ic]) * r.lognormal(0, 0.75, len(ic))) + 0.9
        self.weight = np.array([CAT_WEIGHT[CATS[c]] for c in ic]) * r.lognormal(0, 0.6, len(ic))
        self.used_shops: set[int] = set()
        # Honest population, one profile each.
        P = self.P = int(orders / 3.6)
        self.cap = P + 4000 + int(1500 * self.f)
        self.nb = P
        self.prof = {k: np.full(self.cap, -1, np.int64) for k in ID_KINDS}
        for k in ID_KINDS:
            self.prof[k][:P] = self.new(k, P)
        self.reg = np.zeros(self.cap)
        self.reg[:P] = T0 - r.lognormal(np.log(700), 0.9, P) * DAY
        self.credit = np.zeros(self.cap, int)
        self.credit[:P] = np.clip(np.round(r.normal(6.5, 1.7, P)), 1, 10)
        self.verified = np.zeros(self.cap, bool)
        self.verified[:P] = r.random(P) < 0.94
        self.act = np.zeros(self.cap)
        self.act[:P] = r.gamma(0.5, 1.0, P)
        pop = self.shop_w ** 0.8 / (self.shop_w ** 0.8).sum()
        self.fav = r.choice(S, (self.cap, 3), p=pop)
        self.nfav = r.integers(1, 4, self.cap)
        self.loyal = r.beta(1.3, 2.6, self.cap)

    # -- identifiers, buyers, shops --------------------------------------------------
    def new(self, kind: str, k: int, style: int = 0) -> np.ndarray:
        out = np.arange(self.count[kind], self.count[kind] + k)
        self.count[kind] += k
        if kind == "addr":
            self.addr_style.append(np.full(k, style))
        return out

    def new_buyers(self, k: int, age=(5, 90), credit=(1, 4), verified=0.6) -> np.ndarray:
        r, b = self.rng, np.arange(self.nb, self.nb + k)
        self.nb += k
        for kind in ID_KINDS:
            self.prof[kind][b] = self.new(kind, k)
        self.reg[b] = T0 + r.uniform(-age[1], -age[0], k) * DAY
        self.credit[b] = r.integers(credit[0], credit[1] + 1, k)
        self.verified[b] = r.random(k) < verified
        return b

    def shop(self, size: str, cat: int | None = None) -> int:
        """An unused shop by size rank: small (bottom 65%), mid (10-45%), slow (slowest quarter)."""
        rank = np.argsort(np.argsort(-self.shop_w)) / self.S
        real = self.cat != CATS.index("virtual")
        fits = {"small": rank > .35, "mid": (rank > .1) & (rank < .45),
                "slow": self.ship_h > np.quantile(self.ship_h, .75)}[size]
        free = np.ones(self.S, bool)
        free[list(self.used_shops)] = False
        in_cat = self.cat == cat if cat is not None else True
        # Small data sets run out of shops: relax the category, then the size.
        for ok in (real & fits & in_cat & free, real & fits & free, real & free, free):
            if ok.any():
                break
        s = int(self.rng.choice(np.flatnonzero(ok)))
        self.used_shops.add(s)
        return s

    def items(self, s: int | np.ndarray, k: int, top: int | None = None) -> np.ndarray:
        s = np.broadcast_to(s, (k,))
        n = self.n_items[s] if top is None else np.minimum(self.n_items[s], top)
        return self.item_start[s] + (self.rng.random(k) ** 2 * n).astype(int)

    def times(self, k: int, lo: float = 0, hi: float = SPAN, hours=HOUR_W) -> np.ndarray:
        r = self.rng
        days = np.arange(int(lo), int(np.ceil(hi)))
        w = np.array([(1.15 if (d % 7) >= 5 else 1) * (0.8 + 0.4 * d / SPAN) * SALE_DAYS.get(d, 1) for d in days])
        d = r.choice(days, k, p=w / w.sum())
        h = r.choice(24, k, p=hours / hours.sum())
        return T0 + d * DAY + h * HOUR + r.integers(0, HOUR, k)

    def honest(self, b: np.ndarray) -> dict:
        """Ordinary orders of buyers ``b`` (one per element): favourite shops or popular ones."""
        r, m = self.rng, len(b)
        fav = self.fav[b, (r.random(m) * self.nfav[b]).astype(int)]
        s = np.where(r.random(m) < self.loyal[b], fav, r.choice(self.S, m, p=self.shop_w / self.shop_w.sum()))
        return dict(b=b, s=s, it=self.items(s, m), t=self.times(m), src="honest")


def _rep(x, m):
    return np.broadcast_to(np.asarray(x), (m,)).copy()


def pick(r, pool, m, p=None):
    return np.asarray(pool)[r.choice(len(pool), m, p=p)]


def templated(r, m, tpls, frac=1.0, pool_fn=None):
    """Review texts: one of a group's templates with decoration (normalises to the same text)."""
    txt = np.char.add(np.char.add(pick(r, tpls, m).astype(str), pick(r, DECOR, m).astype(str)),
                      pick(r, DECOR, m).astype(str)).astype(object)
    if frac < 1:
        keep = r.random(m) < frac
        txt[~keep] = pool_fn(m)[~keep] if pool_fn else None
    return txt


def positive_reviews(r, m):
    a, b, c = (pick(r, FRAGS, m).astype(str) for _ in range(3))
    long = np.char.add(np.char.add(np.char.add(a, "，"), b), np.where(r.random(m) < .5, np.char.add("，", c), ""))
    return np.where(r.random(m) < .45, pick(r, SHORT, m).astype(str), long).astype(object)


def ring_templates(r, k=3):
    return ["，".join(r.choice(FRAGS, 4, replace=False)) + "，五星好评" for _ in range(k)]


# ---------------------------------------------------------------------------
# Planted rings. Each returns (order blocks, buyer ids, target shops); camouflage orders go to ``cam``.


def sock_puppet(W, cam):
    r = W.rng
    s, k = W.shop("small"), int(r.integers(5, 15))
    B = W.new_buyers(k, age=(3, 60), credit=(1, 3), verified=.5)
    devs, addrs = W.new("dev", max(1, k // 4)), W.new("addr", int(r.integers(1, 3)))
    pays, names = W.new("pay", int(r.integers(1, 4))), W.new("name", 2)
    W.prof["phone"][B] = W.prof["phone"][B[0]]  # the seller's own phone receives every parcel
    per = r.integers(3, 10, k)
    b = np.repeat(B, per)
    m, t0 = len(b), r.uniform(0, SPAN - 25)
    empty = r.random() < .5
    cam.append(np.repeat(B, r.integers(0, 4, k)))
    return [dict(b=b, s=s, it=W.items(s, m, top=2), t=W.times(m, t0, t0 + r.uniform(10, 25)), src="ring",
                 dev=pick(r, devs, m), addr=pick(r, addrs, m), addr_var=r.integers(0, 4, m), pay=pick(r, pays, m),
                 name=pick(r, names, m), chat=0, rating=np.where(r.random(m) < .85, 5, 0),
                 review=templated(r, m, ring_templates(r)), confirm_h=r.lognormal(np.log(1.5), .8, m),
                 weight_g=r.uniform(8, 45, m) if empty else np.nan)], B, [s]


def click_farm(W, cam):
    r = W.rng
    k = int(r.integers(30, 71))
    B = W.new_buyers(k, age=(10, 120), credit=(1, 4), verified=.6)
    W.prof["dev"][B] = pick(r, W.new("dev", k // 5), k)  # emulators, 5 accounts each
    proxies, tpls = W.new("ip", 15), ring_templates(r, 4)
    blocks, targets = [], []
    for _ in range(int(r.integers(3, 7))):
        s = W.shop("small" if r.random() < .6 else "mid")
        targets.append(s)
        empty, drop = r.random() < .4, W.new("addr", 2) if r.random() < .5 else None
        wb = f"K{r.integers(10**9, 10**10)}"
        for _ in range(int(r.integers(1, 4))):
            who = r.choice(B, int(r.integers(8, min(k, 26))), replace=False)
            b = np.repeat(who, r.integers(1, 3, len(who)))
            m, day = len(b), int(r.integers(0, SPAN))
            t = T0 + day * DAY + r.integers(9, 20) * HOUR + r.integers(0, int(r.uniform(1, 4) * HOUR), m)
            blk = dict(b=b, s=s, it=W.items(s, m, top=2), t=t, src="ring", ip=pick(r, proxies, m), chat=0,
                       rating=np.where(r.random(m) < .9, 5, 0), review=templated(r, m, tpls),
                       confirm_h=r.uniform(.3, 3, m))
            if drop is not None:
                blk.update(addr=pick(r, drop, m), addr_var=r.integers(0, 4, m))
            if empty:  # sequential waybills bought from an empty-parcel vendor
                blk.update(weight_g=r.uniform(5, 40, m), tracking=[f"{wb}{i:03d}" for i in r.permutation(m)])
                wb = f"K{r.integers(10**9, 10**10)}"
            blocks.append(blk)
    cam.append(np.repeat(B, r.integers(2, 9, k)))
    return blocks, B, targets


def low_and_slow(W, cam):
    r = W.rng
    s, k = W.shop("small"), int(r.integers(15, 36))
    B = W.new_buyers(k, age=(200, 1500), credit=(4, 7), verified=.9)  # bought aged accounts
    b = np.repeat(B, r.integers(1, 4, k))
    m, t0 = len(b), r.uniform(0, SPAN - 100)
    blk = dict(b=b, s=s, it=W.items(s, m, top=3), t=W.times(m, t0, t0 + r.uniform(70, 100)), src="ring",
               rating=np.where(r.random(m) < .7, 5, 0), review=templated(r, m, ring_templates(r, 2), .3,
                                                                     lambda q: positive_reviews(r, q)),
               confirm_h=r.lognormal(np.log(20), .8, m))
    variant = r.integers(0, 3)  # 0: the brusher's payment cards, 1: a few receiving addresses, 2: nothing shared
    if variant == 0:
        pays = W.new("pay", int(r.integers(2, 4)))
        blk["pay"] = np.where(r.random(m) < .7, pick(r, pays, m), W.prof["pay"][b])
    elif variant == 1:
        blk.update(addr=pick(r, W.new("addr", int(r.integers(3, 6))), m), addr_var=r.integers(0, 4, m))
    cam.append(np.repeat(B, r.integers(2, 7, k)))
    return [blk], B, [s]


def seller_swap(W, cam):
    r = W.rng
    c = int(r.choice(np.argsort(-np.bincount(W.cat, minlength=len(CATS))[:-1])[:4]))
    shops = [W.shop("small", c) for _ in range(int(r.integers(3, 7)))]
    tpls, blocks, Bs = ring_templates(r, 2), [], []
    for own in shops:  # each owner's 2-4 accounts share the owner's phone and address, buy from the others
        B = W.new_buyers(int(r.integers(2, 5)), age=(30, 400), credit=(3, 6), verified=.9)
        for kind in ("dev", "addr"):
            W.prof[kind][B] = W.prof[kind][B[0]]
        Bs.append(B)
        for other in shops:
            if other == own:
                continue
            b = np.repeat(B, r.integers(1, 3, len(B)))
            m = len(b)
            blocks.append(dict(b=b, s=other, it=W.items(other, m, top=2), t=W.times(m), src="ring",
                               chat=np.where(r.random(m) < .7, 0, 1), rating=np.where(r.random(m) < .8, 5, 0),
                               review=templated(r, m, tpls, .5, lambda q: positive_reviews(r, q)),
                               confirm_h=r.lognormal(np.log(4), 1, m)))
    B = np.concatenate(Bs)
    cam.append(np.repeat(B, r.integers(1, 5, len(B))))
    return blocks, B, shops


def empty_parcel(W, cam):
    r = W.rng
    s, k = W.shop("small" if r.random() < .6 else "mid"), int(r.integers(6, 16))
    B = W.new_buyers(k, age=(5, 150), credit=(1, 5), verified=.7)
    W.prof["dev"][B] = pick(r, W.new("dev", 2), k)
    b = np.repeat(B, r.integers(2, 7, k))
    m, t0 = len(b), r.uniform(0, SPAN - 30)
    if r.random() < .5:  # a block of sequential waybills from another carrier
        base = r.integers(10**9, 10**10)
        tracking = [f"{CARRIERS[(W.carrier[s] + 1) % 7][1]}{base + i}" for i in range(m)]
    else:  # each waybill reused on 2-3 orders of different days
        u = r.integers(10**11, 10**12, m // 2 + 1)
        tracking = [f"YT{x}" for x in u[r.integers(0, len(u), m)]]
    cam.append(np.repeat(B, r.integers(0, 5, k)))
    return [dict(b=b, s=s, it=W.items(s, m, top=2), t=W.times(m, t0, t0 + r.uniform(7, 30)), src="ring",
                 addr=W.new("addr", m), weight_g=r.uniform(5, 40, m), tracking=tracking, chat=0,
                 rating=np.where(r.random(m) < .8, 5, 0), review=templated(r, m, ring_templates(r), .5),
                 ship_h=r.uniform(1, 6, m), deliver_h=r.uniform(10, 30, m), confirm_h=r.uniform(.2, 2, m))], B, [s]


def tier_sprint(W, cam):
    """A new shop gains a reputation tier in ten days from recruited real accounts paying token amounts."""
    r = W.rng
    s = W.shop("small")
    d0 = r.uniform(10, SPAN - 12)
    W.shop_reg[s], W.shop_w[s] = T0 + (d0 - 3) * DAY, W.shop_w[s] * .2
    B = r.choice(W.P, int(r.integers(25, 51)), replace=False)
    b = np.repeat(B, r.integers(1, 3, len(B)))
    m = len(b)
    token = r.random(m) < .6
    return [dict(b=b, s=s, it=W.items(s, m, top=1), t=W.times(m, d0, d0 + 10), src="ring",
                 afactor=np.where(token, np.nan, 1.0), amount=np.where(token, r.integers(1, 6, m), np.nan),
                 chat=np.where(r.random(m) < .9, 0, 1), rating=np.where(r.random(m) < .85, 5, 0),
                 review=templated(r, m, ring_templates(r, 2)), confirm_h=r.uniform(2, 10, m))], B, [s]


def negative_review(W, cam):
    r = W.rng
    s, k = W.shop("mid"), int(r.integers(4, 13))
    B = W.new_buyers(k, age=(30, 300), credit=(3, 6), verified=.9)
    W.prof["dev"][B] = pick(r, W.new("dev", int(r.integers(2, 4))), k)
    office = W.new("ip", 1)[0]
    b = np.repeat(B, r.integers(1, 3, k))
    m, t0 = len(b), r.uniform(0, SPAN - 10)
    refund = r.random(m) < .25
    cam.append(np.repeat(B, r.integers(1, 5, k)))
    return [dict(b=b, s=s, it=W.items(s, m), t=W.times(m, t0, t0 + r.uniform(1, 3)), src="ring",
                 ip=np.where(r.random(m) < .7, office, W.prof["ip"][b]), chat=0,
                 rating=np.where(r.random(m) < .9, r.integers(1, 3, m), 0), review=templated(r, m, NEG_TPL),
                 status=np.where(refund, "refunded", None), refund_reason=np.where(refund, "质量问题", None))], B, [s]


def refund_abuse(W, cam):
    r = W.rng
    c = CATS.index(r.choice(["apparel", "beauty", "electronics"]))
    shops, k = [W.shop("mid", c) for _ in range(int(r.integers(3, 9)))], int(r.integers(6, 19))
    B = W.new_buyers(k, age=(60, 600), credit=(4, 7), verified=.95)
    drops, pays = W.new("addr", int(r.integers(2, 4))), W.new("pay", int(r.integers(1, 4)))
    b = np.repeat(B, r.integers(2, 6, k))
    m, t0 = len(b), r.uniform(0, SPAN - 60)
    ref = r.random(m) < .8
    cam.append(np.repeat(B, r.integers(1, 5, k)))
    s = pick(r, shops, m)
    return [dict(b=b, s=s, it=W.items(s, m), t=W.times(m, t0, t0 + r.uniform(20, 60)), src="ring",
                 addr=pick(r, drops, m), addr_var=r.integers(0, 4, m), pay=pick(r, pays, m), chat=0,
                 rating=np.where(ref, 0, np.nan), status=np.where(ref, "refunded", None),
                 refund_reason=np.where(ref, pick(r, ABUSE_REFUND, m), None))], B, shops


def extortion(W, cam):
    r = W.rng
    s, k = W.shop("small" if r.random() < .5 else "mid"), int(r.integers(3, 6))
    B = W.new_buyers(k, age=(40, 500), credit=(3, 6), verified=.9)
    dev, ip = W.new("dev", 1)[0], W.new("ip", 1)[0]
    b = np.repeat(B, r.integers(2, 5, k))
    m, t0 = len(b), r.uniform(0, SPAN - 6)
    ref = r.random(m) < .5
    cam.append(np.repeat(B, r.integers(1, 4, k)))
    return [dict(b=b, s=s, it=W.items(s, m), t=W.times(m, t0, t0 + 5), src="ring",
                 dev=np.where(r.random(m) < .7, dev, W.prof["dev"][b]),
                 ip=np.where(r.random(m) < .7, ip, W.prof["ip"][b]),
                 chat=r.integers(6, 31, m), rating=np.where(r.random(m) < .8, 1, 0), review=templated(r, m, EXTORT_TPL),
                 status=np.where(ref, "refunded", None), refund_reason=np.where(ref, "质量问题，要求赔偿", None))], B, [s]


def pro_claimant(W, cam):
    r = W.rng
    shops, k = [W.shop("slow") for _ in range(int(r.integers(8, 16)))], int(r.integers(4, 9))
    B = W.new_buyers(k, age=(100, 900), credit=(5, 7), verified=1.0)
    pays, addr = W.new("pay", int(r.integers(1, 3))), W.new("addr", 1)[0]
    bs, ss = [], []
    for x in B:
        mine = r.choice(shops, int(r.integers(5, min(len(shops), 11) + 1)), replace=False)
        bs.append(np.full(len(mine), x))
        ss.append(mine)
    b, s = np.concatenate(bs), np.concatenate(ss)
    m = len(b)
    ref = r.random(m) < .7
    cam.append(np.repeat(B, r.integers(1, 5, k)))
    return [dict(b=b, s=s, it=W.items(s, m), t=W.times(m), src="ring", chat=0,
                 pay=np.where(r.random(m) < .7, pick(r, pays, m), W.prof["pay"][b]),
                 addr=np.where(r.random(m) < .6, addr, W.prof["addr"][b]), addr_var=r.integers(0, 4, m),
                 ship_h=r.uniform(80, 200, m), status=np.where(ref, "refunded", None),
                 refund_reason=np.where(ref, pick(r, CLAIM_REFUND, m), None),
                 rating=np.where(ref, 0, np.nan))], B, shops


TACTICS = {  # tactic -> (ring type, planter, rings per 100k orders)
    "sock_puppet": ("brushing", sock_puppet, 4), "click_farm": ("brushing", click_farm, 2),
    "low_and_slow": ("brushing", low_and_slow, 4), "seller_swap": ("brushing", seller_swap, 2),
    "empty_parcel": ("brushing", empty_parcel, 3), "tier_sprint": ("brushing", tier_sprint, 2),
    "negative_review": ("malicious_buyers", negative_review, 3), "refund_abuse": ("malicious_buyers", refund_abuse, 3),
    "extortion": ("malicious_buyers", extortion, 3), "pro_claimant": ("malicious_buyers", pro_claimant, 2),
}


# ---------------------------------------------------------------------------
# Honest look-alikes: dense or shared, but innocent. Each returns (blocks, groups of (buyers, [(kind, id)])).


def lookalikes(W, base: dict) -> tuple[list[dict], list[dict]]:
    r, f, P = W.rng, W.f, W.P
    b, t = base["b"], base["t"]
    blocks, groups = [], []
    n = lambda x: max(1, int(round(x * f)))  # noqa: E731
    # Households: 2-5 members share a laptop, the home address and Wi-Fi, 40% a card; half share favourite shops.
    perm, i = r.permutation(P), 0
    for _ in range(n(330)):
        h = perm[i:i + int(r.integers(2, 6))]
        i += len(h)
        ids = [("addr", W.prof["addr"][h[0]]), ("ip", W.prof["ip"][h[0]])]
        for kind in ("addr", "ip") + (("dev",) if r.random() < .7 else ()) + (("pay",) if r.random() < .4 else ()):
            W.prof[kind][h] = W.prof[kind][h[0]]
        if r.random() < .5:
            W.fav[h, 0], W.nfav[h] = W.fav[h[0], 0], 1
        groups.append(dict(kind="household", buyers=h, identifiers=ids))
    # Parcel stations / campus lockers: 80-300 buyers ship 85% of their orders to one address.
    for _ in range(n(6)):
        g, a = r.choice(P, int(r.integers(80, 301)), replace=False), W.new("addr", 1, style=1)[0]
        sel = np.isin(b, g) & (r.random(len(b)) < .85)
        base["addr"][sel] = a
        groups.append(dict(kind="parcel_station", buyers=g, identifiers=[("addr", a)]))
    # Offices: 30-150 buyers behind one NAT IP in working hours; 40% of their parcels to the office.
    local_h = ((t + 8 * HOUR) % DAY) // HOUR
    workday = (((t + 8 * HOUR) // DAY) + 3) % 7 < 5  # T0 is a Monday
    for _ in range(n(5)):
        g, ip, a = r.choice(P, int(r.integers(30, 151)), replace=False), W.new("ip", 1)[0], W.new("addr", 1, 2)[0]
        mine = np.isin(b, g)
        base["ip"][mine & workday & (local_h >= 9) & (local_h < 18)] = ip
        base["addr"][mine & (r.random(len(b)) < .4)] = a
        groups.append(dict(kind="office_nat", buyers=g, identifiers=[("ip", ip), ("addr", a)]))
    # Campus: 150-400 students, 3 NAT IPs, one locker bank, 40% of orders at 4 campus shops (a dense honest block).
    for _ in range(n(1.5)):
        g, ips, a = r.choice(P, int(r.integers(150, 401)), replace=False), W.new("ip", 3), W.new("addr", 1, 2)[0]
        shops = np.array([W.shop("mid") for _ in range(4)])
        mine = np.flatnonzero(np.isin(b, g))
        sel = mine[r.random(len(mine)) < .7]
        base["ip"][sel] = pick(r, ips, len(sel))
        base["addr"][mine[r.random(len(mine)) < .9]] = a
        moved = mine[r.random(len(mine)) < .4]
        base["s"][moved] = pick(r, shops, len(moved))
        base["it"][moved] = W.items(base["s"][moved], len(moved))
        groups.append(dict(kind="campus", buyers=g, identifiers=[("ip", x) for x in ips] + [("addr", a)]))
    # Flash sales: 150-500 buyers buy one item within minutes at a third of its price, silently, often on mobile.
    for _ in range(n(3)):
        s, g = W.shop("mid"), r.choice(P, int(r.integers(150, 501)), replace=False)
        day = int(r.choice(list(SALE_DAYS)))
        m = len(g)
        blocks.append(dict(b=g, s=s, it=_rep(W.items(s, 1)[0], m), src="lookalike",
                           t=T0 + day * DAY + 20 * HOUR + r.exponential(60, m).astype(int),
                           afactor=r.uniform(.3, .45, m), chat=0))
        groups.append(dict(kind="flash_sale", buyers=g, identifiers=[]))
    # Community group buys: a leader and 15-40 neighbours order the same produce weekly, shipped to the leader.
    for _ in range(n(3)):
        s = W.shop("small", CATS.index("food"))
        g = r.choice(P, int(r.integers(16, 42)), replace=False)
        a = W.prof["addr"][g[0]]
        W.addr_style[0][a] = 3  # the leader's home doubles as the pickup point
        d0, rounds = r.uniform(0, 40), int(r.integers(10, 17))
        bs, ts = [], []
        for w in range(rounds):
            who = g[(r.random(len(g)) < .6) | (np.arange(len(g)) == 0)]
            post = T0 + int((d0 + 7 * w) * DAY) + int(r.integers(8, 21)) * HOUR
            bs.append(who)
            ts.append(post + r.exponential(1800, len(who)).astype(int))
        gb = np.concatenate(bs)
        m = len(gb)
        blocks.append(dict(b=gb, s=s, it=W.items(s, m, top=3), t=np.concatenate(ts), src="lookalike", addr=_rep(a, m),
                           addr_var=r.integers(0, 4, m), chat=np.where(r.random(m) < .7, 0, 1)))
        groups.append(dict(kind="group_buy", buyers=g, identifiers=[("addr", a)]))
    # Loyal regulars: a small shop's 12-30 regulars re-buy the same item every few weeks, 5 stars.
    for _ in range(n(5)):
        s = W.shop("small")
        W.shop_w[s] *= .3
        g = r.choice(P, int(r.integers(12, 31)), replace=False)
        gb = np.repeat(g, r.integers(4, 10, len(g)))
        m = len(gb)
        blocks.append(dict(b=gb, s=s, it=W.items(s, m, top=2), t=W.times(m), src="lookalike",
                           rating=np.where(r.random(m) < .5, 5, 0), review=positive_reviews(r, m)))
        groups.append(dict(kind="loyal_regulars", buyers=g, identifiers=[]))
    # Resellers: a small store's 2-4 staff accounts (one device, the store address) restock in bulk at a discount.
    for _ in range(n(5)):
        s = W.shop("mid")
        g = r.choice(P, int(r.integers(2, 5)), replace=False)
        for kind in ("dev", "addr"):
            W.prof[kind][g] = W.prof[kind][g[0]]
        m = int(r.integers(10, 26))
        gb = pick(r, g, m)
        blocks.append(dict(b=gb, s=s, it=W.items(s, m, top=3), t=W.times(m), src="lookalike",
                           qty=r.integers(5, 51, m), afactor=r.uniform(.55, .75, m),
                           chat=np.where(r.random(m) < .5, 0, r.integers(1, 6, m)), confirm_h=r.uniform(1, 12, m)))
        groups.append(dict(kind="reseller", buyers=g, identifiers=[("dev", W.prof["dev"][g[0]])]))
    # Corporate gifts: 3-6 HR accounts (office IP, 1-2 devices) send 30-80 gifts from one shop in one afternoon.
    for _ in range(n(2)):
        s, g = W.shop("mid"), r.choice(P, int(r.integers(3, 7)), replace=False)
        devs, ip = W.new("dev", 2), W.new("ip", 1)[0]
        m, day = int(r.integers(30, 81)), int(r.integers(0, SPAN))
        blocks.append(dict(b=pick(r, g, m), s=s, it=_rep(W.items(s, 1)[0], m), src="lookalike",
                           t=T0 + day * DAY + 14 * HOUR + r.integers(0, 3 * HOUR, m),
                           dev=pick(r, devs, m), ip=_rep(ip, m),
                           addr=W.new("addr", m), qty=r.integers(1, 6, m), afactor=_rep(.85, m), chat=0))
        groups.append(dict(kind="corporate_gift", buyers=g, identifiers=[("ip", ip)]))
    return blocks, groups


# ---------------------------------------------------------------------------
# Assembly: fill every order's defaults at once, format, write.


def _frame(W, blocks: list[dict]) -> pd.DataFrame:
    frames = []
    for blk in blocks:
        m = len(blk["b"])
        frames.append(pd.DataFrame({k: v if isinstance(v, (np.ndarray, list)) else _rep(v, m)
                                    for k, v in blk.items()}))
    return pd.concat(frames, ignore_index=True)


def _fill(col: pd.Series, default: np.ndarray) -> np.ndarray:
    v = col.to_numpy()
    return np.where(pd.isna(col).to_numpy(), default, v)


def _ts(t: np.ndarray) -> pa.Array:
    """Epoch seconds (nan: unknown) -> ISO 8601 local time with the +08:00 offset."""
    t = np.asarray(t, float)
    loc = pa.array(np.where(np.isnan(t), 0, t + 8 * HOUR).astype(np.int64), pa.timestamp("s"), mask=np.isnan(t))
    return pc.binary_join_element_wise(pc.strftime(loc, "%Y-%m-%dT%H:%M:%S"), "+08:00", "")


def _write(cols: dict, path: Path) -> None:
    """Columns (numpy or Arrow; None/nan: unknown) -> a CSV file, nulls as empty fields."""
    pacsv.write_csv(pa.table({k: v if isinstance(v, pa.Array) else pa.array(np.asarray(v), from_pandas=True)
                              for k, v in cols.items()}), path)


def _id_strings(W, r) -> dict[str, np.ndarray]:
    """Integer identifiers -> the strings an export shows."""
    c = W.count
    hexs = lambda n, w: np.array([f"{x:0{w}x}" for x in r.integers(0, 16**w, n)], dtype=object)  # noqa: E731
    ips = r.integers(0x0B000000, 0xDF000000, c["ip"])
    style = np.concatenate(W.addr_style)
    a = r.integers(0, 10**9, c["addr"])
    addr = np.array([
        f"{PLACES[x % 8]}{ROADS[x // 8 % 20]}{['路', '街', '大道'][x // 160 % 3]}{x // 480 % 300 + 1}号"
        + ([f"{x // 144000 % 30 + 1}栋{x // 4320000 % 28 + 1}0{x % 4 + 1}室", " 菜鸟驿站", " 行政楼收发室", " 团长自提点"][st])
        for x, st in zip(a, style)], dtype=object)
    return {
        "dev": np.char.add("dv", hexs(c["dev"], 14).astype(str)).astype(object),
        "ip": np.array([f"{x >> 24}.{x >> 16 & 255}.{x >> 8 & 255}.{x & 255}" for x in ips], dtype=object),
        "addr": addr,
        "phone": np.array([f"{MOBILE[x % 20]}****{x // 20 % 10000:04d}"  # masked: strangers collide
                           for x in r.integers(0, 2**31, c["phone"])], dtype=object),
        "pay": np.char.add("pa_", hexs(c["pay"], 15).astype(str)).astype(object),
        "name": np.array([SURNAMES[x % len(SURNAMES)] + GIVEN[x // 97 % len(GIVEN)]
                          + ("" if x % 3 else GIVEN[x // 9973 % len(GIVEN)])
                          for x in r.integers(0, 2**31, c["name"])], dtype=object),
    }


ADDR_VARIANTS = [lambda a: a, lambda a: a.replace("栋", "号楼"), lambda a: a.replace("号", "号 "), lambda a: a + "（放门口）"]


def generate(out: str | Path, orders: int = 100_000, seed: int = 0) -> dict:
    """Write orders/buyers/sellers/items CSVs and the truth to ``out``; returns the truth."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    W = World(orders, seed)
    r = W.rng
    blocks, cam, rings = [], [], []
    for tactic, (rtype, plant, per) in TACTICS.items():
        for _ in range(max(1, int(round(per * W.f)))):
            blks, B, targets = plant(W, cam)
            blocks += blks
            rings.append(dict(ring_type=rtype, tactic=tactic, buyers=np.asarray(B), targets=list(targets)))
    # Honest population orders (+ ring accounts' camouflage), then the look-alikes over them.
    planted = sum(len(x["b"]) for x in blocks)
    camo = np.concatenate(cam)
    n_pop = max(orders // 2, orders - planted - len(camo) - int(.05 * orders))
    act = W.act[:W.P] / W.act[:W.P].sum()
    base = W.honest(np.concatenate([r.choice(W.P, n_pop, p=act), camo]))
    for kind in ("addr", "ip"):  # nan: the buyer's profile, read when the orders are written (households change it)
        base[kind] = np.full(len(base["b"]), np.nan)
    mobile = W.new("ip", max(20, orders // 2500))  # carrier NAT: thousands of buyers behind a few IPs
    nat = r.random(len(base["b"])) < .25
    base["ip"][nat] = pick(r, mobile, int(nat.sum()))
    look_blocks, groups = lookalikes(W, base)
    blocks += look_blocks + [base]
    # Top up with honest orders to the requested total.
    short = orders - sum(len(x["b"]) for x in blocks)
    if short > 0:
        blocks.append(W.honest(r.choice(W.P, short, p=act)))
    D = _frame(W, blocks)
    extra = len(D) - orders
    if extra > 0:  # too many planted and look-alike orders: drop random honest ones
        D = D.drop(index=r.choice(np.flatnonzero(D["src"].to_numpy() == "honest"), extra, replace=False))
    D = D.sort_values("t", kind="stable").reset_index(drop=True)
    m = len(D)
    b, s, it = D["b"].to_numpy(int), D["s"].to_numpy(int), D["it"].to_numpy(int)
    t = D["t"].to_numpy(float)
    get = lambda c: D[c] if c in D else pd.Series(np.nan, index=D.index, dtype=object)  # noqa: E731
    virtual = W.cat[s] == CATS.index("virtual")
    # Money.
    qty = _fill(get("qty"), np.where(r.random(m) < .85, 1, r.geometric(.5, m) + 1)).astype(int)
    coupon = np.select([r.random(m) < .7, r.random(m) < .8], [1.0, r.uniform(.85, .98, m)], r.uniform(.6, .85, m))
    afac = _fill(get("afactor"), coupon).astype(float)
    amount = np.round(_fill(get("amount"), W.price[it] * qty * afac).astype(float), 2)
    # Logistics and status.
    cancelled = (D["src"].to_numpy() == "honest") & (r.random(m) < .02)
    # Combined shipping: a buyer's same-day orders at one shop to one address leave, and arrive, as one parcel.
    to = _fill(get("addr"), W.prof["addr"][b]).astype(np.int64)
    grp = np.unique(np.stack([b, s, ((t + 8 * HOUR) // DAY).astype(int), to]), axis=1, return_inverse=True)[1].ravel()
    own = pd.isna(get("tracking")).to_numpy()
    ship = t + _fill(get("ship_h"), r.lognormal(np.log(W.ship_h[s]), .6)).astype(float) * HOUR
    last = np.full(grp.max() + 1, -np.inf)
    np.maximum.at(last, grp, ship)
    ship = np.where(own, last[grp], ship)
    deliv = ship + _fill(get("deliver_h"), r.lognormal(np.log(50), .5, grp.max() + 1)[grp]).astype(float) * HOUR
    conf = deliv + _fill(get("confirm_h"), np.where(r.random(m) < .35, 240 + r.uniform(0, 2, m),
                                                    r.lognormal(np.log(26), 1.0, m))).astype(float) * HOUR
    status = _fill(get("status"), np.where(r.random(m) < .035, "refunded", None)).astype(object)
    refunded = (status == "refunded") & ~cancelled
    st = np.select([cancelled, ship > END, deliv > END, refunded, conf > END],
                   ["cancelled", "paid", "shipped", "refunded", "delivered"], "completed").astype(object)
    shipped_ok = ~cancelled & (ship <= END)
    deliv_ok = shipped_ok & (deliv <= END)
    conf_ok = deliv_ok & (conf <= END) & (st == "completed")
    reason = np.where(st == "refunded", _fill(get("refund_reason"), pick(r, HONEST_REFUND, m)), None)
    packed = W.weight[it] * qty * r.lognormal(0, .1, m) + r.uniform(30, 120, m)
    wgt = np.where(virtual, 0.0, _fill(get("weight_g"), packed))
    # Waybills: one per parcel, unless the block brought its own.
    car = np.where(r.random(m) < .85, W.carrier[s], r.integers(0, 7, m))
    nums = r.choice(9 * 10**11, grp.max() + 1, replace=False) + 10**11
    prefix = np.array([c[1] for c in CARRIERS], dtype=object)[car]
    way = _fill(get("tracking"), prefix + nums[grp].astype(str).astype(object))
    has_way = shipped_ok & ~virtual & (r.random(m) > .005)
    # Reviews and chat.
    stars = r.choice(5, m, p=[.025, .02, .05, .16, .745]) + 1
    rating = _fill(get("rating"), np.where(r.random(m) < .45, stars, 0)).astype(float)
    rated = (rating > 0) & deliv_ok & ((st == "completed") | ~pd.isna(get("rating")).to_numpy())
    honest_txt = np.where(stars >= 4, positive_reviews(r, m), pick(r, BAD, m)).astype(object)
    text = _fill(get("review"), np.where(r.random(m) < .8, honest_txt, None))
    text = np.where(rated, text, None)
    chat = _fill(get("chat"), np.where(r.random(m) < .42, 0, r.geometric(.3, m))).astype(int)
    # Identifiers: the buyer's profile unless the block set them; 4% of honest orders from another device.
    ids = _id_strings(W, r)
    cols = {}
    for kind in ID_KINDS:
        v = _fill(get(kind), W.prof[kind][b]).astype(np.int64)
        if kind == "dev":
            spare = W.new("dev", m)
            v = np.where((D["src"].to_numpy() == "honest") & (r.random(m) < .04), spare, v)
            ids["dev"] = np.concatenate([ids["dev"], np.char.add("dv", np.array(
                [f"{x:014x}" for x in r.integers(0, 16**14, m)])).astype(object)])
        cols[kind] = ids[kind][v]
    var = _fill(get("addr_var"), 0).astype(int)
    addr = cols["addr"].copy()
    for k in range(1, 4):
        addr[var == k] = [ADDR_VARIANTS[k](a) for a in addr[var == k]]
    # Write.
    sid = np.array([f"S{x:05d}" for x in range(W.S)], dtype=object)
    iid = np.array([f"I{x:06d}" for x in range(len(W.item_shop))], dtype=object)
    bperm = r.permutation(W.nb)
    bid = np.array([f"U{x:07d}" for x in bperm], dtype=object)
    _write({
        "order_id": np.char.add(f"H{seed}-", np.char.zfill(np.arange(m).astype(str), 8)),
        "buyer_id": bid[b], "seller_id": sid[s],
        "created_at": _ts(t), "amount": amount, "item_id": iid[it], "quantity": qty,
        "item_price": np.round(W.price[it], 2),
        "ship_address": addr, "receiver_name": cols["name"], "receiver_phone": cols["phone"], "device_id": cols["dev"],
        "ip": cols["ip"], "payment_account": cols["pay"],
        "tracking_no": np.where(has_way, way, None),
        "carrier": np.where(shipped_ok & ~virtual, np.array([c[0] for c in CARRIERS], dtype=object)[car], None),
        "parcel_weight_g": np.where(shipped_ok, np.round(wgt.astype(float), 1), np.nan),
        "shipped_at": _ts(np.where(shipped_ok, ship, np.nan)), "delivered_at": _ts(np.where(deliv_ok, deliv, np.nan)),
        "confirmed_at": _ts(np.where(conf_ok, conf, np.nan)), "status": st, "refund_reason": reason,
        "rating": pa.array(np.where(rated, rating, np.nan), from_pandas=True).cast(pa.int64()), "review_text": text,
        "reviewed_at": _ts(np.where(rated, np.maximum(conf, deliv) + r.lognormal(np.log(5 * HOUR), 1, m), np.nan)),
        "chat_messages": chat,
    }, out / "orders.csv")
    seen = np.unique(b)
    _write({"buyer_id": bid[seen], "registered_at": _ts(W.reg[seen]),
            "real_name_verified": np.where(W.verified[seen], "true", "false"),
            "credit_level": W.credit[seen], "phone": ids["phone"][W.prof["phone"][seen]]}, out / "buyers.csv")
    _write({"seller_id": sid, "name": [f"店铺{x}" for x in range(W.S)], "category": np.array(CATS)[W.cat],
            "registered_at": _ts(W.shop_reg)}, out / "sellers.csv")
    _write({"item_id": iid, "seller_id": sid[W.item_shop],
            "title": [f"{CATS[W.cat[x]]} 商品{i}" for i, x in enumerate(W.item_shop)],
            "price": np.round(W.price, 2), "category": np.array(CATS)[W.cat[W.item_shop]]}, out / "items.csv")
    # Truth, in the format graph.evaluate.load_truth reads.
    active = set(seen.tolist())
    truth_rings = [dict(ring_id=f"HR{i:03d}", ring_type=x["ring_type"], tactic=x["tactic"],
                        buyers=sorted(bid[[y for y in x["buyers"] if y in active]].tolist()),
                        target_seller_ids=[sid[y] for y in x["targets"]]) for i, x in enumerate(rings)]
    truth_look = []
    for g in groups:
        mem = [y for y in np.unique(g["buyers"]) if y in active]
        if len(mem) >= 2:
            truth_look.append(dict(kind=g["kind"], buyers=sorted(bid[mem].tolist()),
                                   identifiers=[str(ids[k][v]) for k, v in g["identifiers"]]))
    look = {y: g["kind"] for g in truth_look for y in g["buyers"]}
    ring = {y: x for x in truth_rings for y in x["buyers"]}
    ids_seen = bid[seen]
    _write({"buyer_id": ids_seen, **{c: np.array([ring[y][c] if y in ring else "" for y in ids_seen], dtype=object)
                                     for c in ("ring_id", "ring_type", "tactic")},
            "lookalike": np.array([look.get(y, "") for y in ids_seen], dtype=object)}, out / "truth_buyers.csv")
    truth = {"generator": "benchmarks/holdout.py", "orders": m, "seed": seed,
             "rings": truth_rings, "lookalikes": truth_look}
    (out / "truth.json").write_text(json.dumps(truth, ensure_ascii=False, indent=1), encoding="utf-8")
    return truth


# ---------------------------------------------------------------------------
# Ingest, detect, evaluate.


def thin_copy(src: Path, dst: Path) -> None:
    dst.mkdir(parents=True, exist_ok=True)
    pacsv.write_csv(pacsv.read_csv(src / "orders.csv", convert_options=pacsv.ConvertOptions(
        include_columns=THIN_COLS, column_types={c: pa.string() for c in THIN_COLS})), dst / "orders.csv")


def ingest(folder: Path):
    """Ingest a folder's orders/buyers/sellers/items into a fresh DuckDB store; returns (store, IngestResult)."""
    from graph.store import open_store
    from ingest.pipeline import ingest_paths
    db = folder / "store.duckdb"
    db.unlink(missing_ok=True)
    store = open_store(f"duckdb://{db}")
    files = sorted(p for p in folder.iterdir() if p.name.startswith(("orders", "buyers", "sellers", "items")))
    return store, ingest_paths(files, store, rejects_path=folder / "rejects.csv")


def evaluate(folder: Path, truth_dir: Path) -> tuple[dict, object, object]:
    from graph.detect.pipeline import FLAG_SCORE, run_detection
    from graph.evaluate import evaluate_run, load_truth
    t = time.perf_counter()
    store, ing = ingest(folder)
    t_ing = time.perf_counter() - t
    t = time.perf_counter()
    result = run_detection(store, seed=0)
    t_det = time.perf_counter() - t
    truth = load_truth(truth_dir)
    q = evaluate_run(result, truth)
    m = {**q.to_dict(), "rejected": ing.rejected, "ingest_s": round(t_ing, 1), "detect_s": round(t_det, 1)}
    # What the flagged rings that are not planted rings hold.
    rings = result.rings.to_pandas()
    mem = result.ring_members.to_pandas()
    mem = mem[mem["entity_type"] == "buyer"]
    tb = truth.buyers.set_index("buyer_id")
    category = pd.read_csv(truth_dir / "sellers.csv", dtype=str).set_index("seller_id")["category"]
    false = []
    for _, ring in rings[rings["score"] >= FLAG_SCORE].iterrows():
        ids = mem.loc[mem["ring_id"] == ring["ring_id"], "entity_id"]
        lab = tb.reindex(ids)
        if (lab["ring_id"].fillna("") != "").sum() * 2 <= len(ids):
            kinds = Counter(lab["lookalike"].fillna("").replace("", "plain honest"))
            shops = [f"{x} ({category.get(x, '?')})" for x in (ring["target_seller_ids"] or "").split(";")[:3] if x]
            false.append(f"{ring['ring_type']} {len(ids)} buyers score {ring['score']:.2f} [{ring['top_signals']}] "
                         f"holds: {dict(kinds.most_common(3))} targets: {', '.join(shops) or 'none'}")
    m["false_rings"] = false
    return m, q, result


def fmt(x) -> str:
    return "  n/a" if x != x else f"{x:5.3f}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--orders", type=int, default=100_000)
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--workdir", type=Path, default=Path("/tmp/ringwatch-holdout"))
    p.add_argument("--thin", action="store_true", help="orders keep only order_id, buyer_id, seller_id, created_at")
    p.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    a = p.parse_args(argv)
    rows, tactic, looks = [], Counter(), Counter()
    for seed in [int(x) for x in a.seeds.split(",") if x.strip()]:
        full = a.workdir / f"h{a.orders}_s{seed}"
        t = time.perf_counter()
        generate(full, a.orders, seed)
        t_gen = time.perf_counter() - t
        folder = full
        if a.thin:
            folder = a.workdir / f"h{a.orders}_s{seed}_thin"
            thin_copy(full, folder)
        m, q, _ = evaluate(folder, full)
        m["generate_s"] = round(t_gen, 1)
        rows.append((seed, m))
        for k, (f_, n_) in m["per_tactic"].items():
            tactic[k, "f"] += f_
            tactic[k, "n"] += n_
        for k, (f_, n_) in m["lookalikes_flagged"].items():
            looks[k, "f"] += f_
            looks[k, "n"] += n_
        print(f"\n== seed {seed}{' thin' if a.thin else ''}: generate {t_gen:.1f}s, ingest {m['ingest_s']}s "
              f"(rejected {m['rejected']}), detect {m['detect_s']}s")
        miss = q.matches[~q.matches["found"]]
        for _, x in miss.iterrows():
            print(f"  missed {x['ring_id']} {x['tactic']:<16} {x['n_buyers']:>3} buyers  "
                  f"best flagged J={x['jaccard']:.2f}"
                  f"  best published J={x['best_any_jaccard']:.2f}")
        wrong = q.matches[q.matches["found"] & ~q.matches["type_correct"]]
        for _, x in wrong.iterrows():
            print(f"  wrong type {x['ring_id']} {x['tactic']}")
        for line in m["false_rings"]:
            print(f"  flagged non-ring: {line}")
    print(f"\nHoldout quality at {a.orders:,} orders{' (thin export)' if a.thin else ''}\n")
    print(f"{'seed':<6}{'AUC':>7}{'AP':>7}{'recall':>8}{'rec.any':>8}{'prec.':>7}{'type':>7}{'rings':>7}{'flag':>6}"
          f"{'looks':>7}{'det s':>7}")
    for seed, m in rows:
        print(f"{seed:<6}{fmt(m['auc']):>7}{fmt(m['ap']):>7}{fmt(m['recall']):>8}{fmt(m['recall_any']):>8}"
              f"{fmt(m['precision']):>7}{fmt(m['type_accuracy']):>7}{m['true_rings']:>7}{m['flagged']:>6}"
              f"{m['n_lookalikes_flagged']:>7}{m['detect_s']:>7.1f}")
    mean = lambda k: np.nanmean([m[k] for _, m in rows])  # noqa: E731
    print(f"{'mean':<6}{fmt(mean('auc')):>7}{fmt(mean('ap')):>7}{fmt(mean('recall')):>8}{fmt(mean('recall_any')):>8}"
          f"{fmt(mean('precision')):>7}{fmt(mean('type_accuracy')):>7}")
    print("\nper-tactic recall: " + ", ".join(f"{k} {tactic[k, 'f']}/{tactic[k, 'n']}" for k in TACTICS))
    kinds = sorted({k for k, _ in looks})
    print("look-alike groups flagged: " + ", ".join(f"{k} {looks[k, 'f']}/{looks[k, 'n']}" for k in kinds))
    if a.json:
        a.json.write_text(json.dumps({str(s): m for s, m in rows}, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
