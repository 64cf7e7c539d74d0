#!/usr/bin/env python3
"""Convert the Binance spot sample shipped in the `barter` crate into Tradewind's formats.

Input: examples/data/binance_spot_trades_l1_btcusdt_ethusdt_solusdt.json inside the
crates.io package barter 0.14.0 (MIT). Get it with a throwaway cargo project:

    cargo new /tmp/bf && cd /tmp/bf && cargo add barter@0.14.0 && cargo fetch
    python3 tools/talib/convert_barter.py ~/.cargo/registry/src/*/barter-0.14.0/examples/data/binance_spot_trades_l1_btcusdt_ethusdt_solusdt.json

Output, per symbol (into examples/data/):
  binance_spot_<sym>_l1_trades.jsonl  Tradewind L1/trade JSONL (schema in examples/data/README.md),
                                      sorted by exchange time (stable), decimals as strings
  binance_spot_<sym>_1s_klines.csv    1-second bars derived from the trades, Binance kline
                                      layout (12 columns, no header, open time in ms); seconds
                                      without trades have no bar
  binance_spot_btcusdt_1s_ohlcv.csv   the BTC bars again as generic OHLCV CSV with a header and
                                      ISO-8601 timestamps (exercises the generic loader)

Standard library only; deterministic output.
"""
import datetime as dt
import json
import sys
from collections import OrderedDict
from decimal import Decimal
from pathlib import Path

# barter's instrument index -> (symbol, price decimals, size decimals); Binance spot filters
# for these pairs: tick 0.01 and lot 0.00001 BTC / 0.0001 ETH / 0.001 SOL.
INSTRUMENTS = {
    0: ("btcusdt", 2, 5),
    1: ("ethusdt", 2, 4),
    2: ("solusdt", 2, 3),
}
OUT = Path(__file__).resolve().parents[2] / "examples" / "data"
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


def parse_ns(text: str) -> int:
    """RFC 3339 UTC timestamp with up to 9 fractional digits -> ns since the epoch."""
    assert text.endswith("Z"), text
    body = text[:-1]
    if "." in body:
        whole, frac = body.split(".")
    else:
        whole, frac = body, ""
    assert len(frac) <= 9, text
    secs = dt.datetime.fromisoformat(whole).replace(tzinfo=dt.timezone.utc)
    delta = secs - EPOCH
    return (delta.days * 86400 + delta.seconds) * 1_000_000_000 + int(frac.ljust(9, "0") or 0)


def fmt(value, decimals: int) -> str:
    """Format exactly with `decimals` places; refuse to round (the data must fit)."""
    d = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    q = d.quantize(Decimal(1).scaleb(-decimals))
    assert q == d, f"{value} does not fit {decimals} decimals"
    return f"{q:.{decimals}f}"


def iso(ns: int) -> str:
    secs, rem = divmod(ns, 1_000_000_000)
    base = dt.datetime.fromtimestamp(secs, tz=dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{base}.{rem // 1_000_000:03d}Z"


def main() -> None:
    src = Path(sys.argv[1])
    events = {k: [] for k in INSTRUMENTS}
    for line in src.read_text().splitlines():
        item = json.loads(line)["Item"]
        sym, pd, sd = INSTRUMENTS[item["instrument"]]
        ts = parse_ns(item["time_exchange"])
        kind = item["kind"]
        if "Trade" in kind:
            t = kind["Trade"]
            rec = OrderedDict(type="trade", ts=ts, price=fmt(t["price"], pd),
                              size=fmt(t["amount"], sd), side=t["side"].lower())
        else:
            q = kind["OrderBookL1"]
            rec = OrderedDict(type="quote", ts=ts,
                              bid=fmt(q["best_bid"]["price"], pd), bid_size=fmt(q["best_bid"]["amount"], sd),
                              ask=fmt(q["best_ask"]["price"], pd), ask_size=fmt(q["best_ask"]["amount"], sd))
        events[item["instrument"]].append(rec)

    for idx, (sym, pd, sd) in INSTRUMENTS.items():
        evs = sorted(events[idx], key=lambda r: r["ts"])  # stable: ties keep arrival order
        with open(OUT / f"binance_spot_{sym}_l1_trades.jsonl", "w") as f:
            for r in evs:
                f.write(json.dumps(r, separators=(",", ":")) + "\n")

        # 1-second bars from trades; open time = start of the second.
        bars = OrderedDict()
        for r in evs:
            if r["type"] != "trade":
                continue
            sec = r["ts"] // 1_000_000_000
            p, s = Decimal(r["price"]), Decimal(r["size"])
            b = bars.get(sec)
            if b is None:
                bars[sec] = b = dict(o=p, h=p, l=p, c=p, v=Decimal(0), qv=Decimal(0), n=0, tbv=Decimal(0), tqv=Decimal(0))
            b["h"] = max(b["h"], p)
            b["l"] = min(b["l"], p)
            b["c"] = p
            b["v"] += s
            b["qv"] += p * s
            b["n"] += 1
            if r["side"] == "buy":
                b["tbv"] += s
                b["tqv"] += p * s
        with open(OUT / f"binance_spot_{sym}_1s_klines.csv", "w") as f:
            for sec, b in bars.items():
                ms = sec * 1000
                row = [ms, fmt(b["o"], pd), fmt(b["h"], pd), fmt(b["l"], pd), fmt(b["c"], pd),
                       fmt(b["v"], sd), ms + 999, fmt(b["qv"], pd + sd), b["n"],
                       fmt(b["tbv"], sd), fmt(b["tqv"], pd + sd), 0]
                f.write(",".join(str(x) for x in row) + "\n")
        if sym == "btcusdt":
            with open(OUT / f"binance_spot_{sym}_1s_ohlcv.csv", "w") as f:
                f.write("timestamp,open,high,low,close,volume\n")
                for sec, b in bars.items():
                    f.write(f"{iso(sec * 1_000_000_000)},{fmt(b['o'], pd)},{fmt(b['h'], pd)},"
                            f"{fmt(b['l'], pd)},{fmt(b['c'], pd)},{fmt(b['v'], sd)}\n")


if __name__ == "__main__":
    main()
