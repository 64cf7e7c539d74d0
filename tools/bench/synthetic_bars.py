#!/usr/bin/env python3
"""Writes one deterministic synthetic series of one-minute OHLCV bars: a geometric random
walk with a fixed seed (numpy PCG64), prices to the cent, volumes in whole units.

Usage: synthetic_bars.py OUT.csv [N_BARS]   (default 1,000,000 bars)
"""
import sys

import numpy as np

SEED = 20261125
START = 1_700_000_000  # 2023-11-14T22:13:20Z, aligned down to the minute below


def generate(n):
    rng = np.random.Generator(np.random.PCG64(SEED))
    # Per-minute log returns: ~0.1 % volatility, no drift.
    rets = rng.normal(0.0, 0.001, size=n)
    close = 100.0 * np.exp(np.cumsum(rets))
    open_ = np.empty(n)
    open_[0] = 100.0
    open_[1:] = close[:-1]
    wiggle = np.abs(rng.normal(0.0, 0.0005, size=(2, n)))
    high = np.maximum(open_, close) * (1.0 + wiggle[0])
    low = np.minimum(open_, close) * (1.0 - wiggle[1])
    o, h, l, c = (np.round(x, 2) for x in (open_, high, low, close))
    # Rounding can break OHLC order by a cent; restore it.
    h = np.maximum.reduce([h, o, c])
    l = np.minimum.reduce([l, o, c])
    vol = rng.integers(1, 1000, size=n)
    ts = (START // 60 * 60 + 60 * np.arange(n, dtype=np.int64))
    return ts, o, h, l, c, vol


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    n = int(sys.argv[2]) if len(sys.argv) == 3 else 1_000_000
    ts, o, h, l, c, v = generate(n)
    with open(sys.argv[1], "w") as f:
        f.write("timestamp,open,high,low,close,volume\n")
        for row in zip(ts, o, h, l, c, v):
            f.write(f"{row[0]},{row[1]:.2f},{row[2]:.2f},{row[3]:.2f},{row[4]:.2f},{row[5]}\n")


if __name__ == "__main__":
    main()
