#!/usr/bin/env python3
"""Copies the bars of one calendar month (UTC) of an OHLCV CSV whose first column is
UNIX seconds: the out-of-sample slice `make model-demo` backtests.

    python3 tools/ml/month.py IN.csv YYYY-MM OUT.csv
"""
import sys
from datetime import datetime, timezone

src, month, dst = sys.argv[1:4]
with open(src) as f, open(dst, "w") as out:
    out.write(f.readline())
    n = 0
    for line in f:
        ts = int(line.split(",", 1)[0])
        if datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m") == month:
            out.write(line)
            n += 1
if n == 0:
    sys.exit(f"no bars of {month} in {src}")
print(f"{n} bars of {month} written to {dst}")
