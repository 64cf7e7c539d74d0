#!/usr/bin/env python3
"""Tradewind vs backtesting.py: SmaCross(10, 20) on GOOG daily.

Runs the same strategy on the same data (GOOG.csv shipped inside the PyPI package
`backtesting`) in both engines with next-bar-open fills, 0.2 % commission and all-in
sizing, then requires every trade's entry and exit dates and prices to be identical and
the final equity to agree within 1e-6 relative. Exits non-zero on any difference.

backtesting.py's own SmaCross example also goes short on the down-cross; Tradewind's
SmaCross is spot (long-only), so the reference strategy here is the long-only variant:
buy on the up-cross when flat, close on the down-cross.

Usage: backtesting_goog.py TRADEWIND_BOT_BINARY
"""
import json
import os
import subprocess
import sys
import tempfile

import backtesting
import pandas as pd
from backtesting import Backtest, Strategy
from backtesting.lib import crossover

CASH = 10_000
COMMISSION = 0.002
FAST, SLOW = 10, 20

BUNDLE = f"""
apiVersion: tradewind.dev/v1alpha1
kind: Strategy
metadata:
  name: sma-10-20-daily
spec:
  type: SmaCross
  timeframe: 1d
  smaCross:
    fastPeriod: {FAST}
    slowPeriod: {SLOW}
  sizing:
    type: AllIn
---
apiVersion: tradewind.dev/v1alpha1
kind: TradingBot
metadata:
  name: goog-sma-comparison
spec:
  mode: Backtest
  strategyRef:
    name: sma-10-20-daily
  accountRef:
    name: comparison
  venue:
    exchange: Binance
  symbols: [GOOG]
  capital:
    amount: "{CASH}"
    currency: USD
  backtest:
    fillModel: NextBarOpen
    slippageBps: "0"
    # The venue's fee the simulation charges (the commission the other engine models).
    venueFees:
      tiers:
        - minVolume30d: "0"
          makerBps: "20"
          takerBps: "20"
"""


class LongOnlySmaCross(Strategy):
    def init(self):
        close = pd.Series(self.data.Close)
        self.fast = self.I(lambda: close.rolling(FAST).mean())
        self.slow = self.I(lambda: close.rolling(SLOW).mean())

    def next(self):
        if crossover(self.fast, self.slow):
            if not self.position:
                self.buy()
        elif crossover(self.slow, self.fast):
            self.position.close()


def reference(csv_path):
    data = pd.read_csv(csv_path, index_col=0, parse_dates=True)
    bt = Backtest(data, LongOnlySmaCross, cash=CASH, commission=COMMISSION,
                  trade_on_close=False, exclusive_orders=False, finalize_trades=False)
    stats = bt.run()
    trades = [
        {
            "entry": t.EntryTime.strftime("%Y-%m-%d"),
            "entry_price": float(t.EntryPrice),
            "exit": t.ExitTime.strftime("%Y-%m-%d"),
            "exit_price": float(t.ExitPrice),
            "size": int(t.Size),
        }
        for t in stats._trades.itertuples()
    ]
    return trades, float(stats["Equity Final [$]"]), stats


def tradewind(binary, csv_path, workdir):
    bundle = os.path.join(workdir, "goog-bot.yaml")
    with open(bundle, "w") as f:
        f.write(BUNDLE)
    out = os.path.join(workdir, "report")
    run = subprocess.run(
        [binary, "backtest", "-f", bundle, "--data", csv_path, "--out", out],
        capture_output=True, text=True)
    if run.returncode != 0:
        sys.exit(f"tradewind-bot backtest failed ({run.returncode}):\n{run.stdout}\n{run.stderr}")
    with open(os.path.join(out, "report.json")) as f:
        report = json.load(f)
    trades = [
        {
            "entry": t["entryTime"][:10],
            "entry_price": float(t["entryPrice"]),
            "exit": t["exitTime"][:10],
            "exit_price": float(t["exitPrice"]),
            "size": float(t["quantity"]),
        }
        for t in report["trades"]
    ]
    return trades, float(report["finalEquity"]), run.stdout


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    binary = sys.argv[1]
    csv_path = os.path.join(os.path.dirname(backtesting.__file__), "test", "GOOG.csv")
    ref_trades, ref_equity, _ = reference(csv_path)
    # backtesting.py leaves a trade open at the end open (finalize_trades=False); its
    # closed trades are what both engines must agree on.
    with tempfile.TemporaryDirectory() as tmp:
        tw_trades, tw_equity, summary = tradewind(binary, csv_path, tmp)
    print(summary)
    failures = []
    if len(ref_trades) != len(tw_trades):
        failures.append(f"trade count: backtesting.py {len(ref_trades)}, tradewind {len(tw_trades)}")
    for i, (r, t) in enumerate(zip(ref_trades, tw_trades)):
        for key in ("entry", "entry_price", "exit", "exit_price", "size"):
            if r[key] != t[key]:
                failures.append(f"trade {i + 1} {key}: backtesting.py {r[key]!r}, tradewind {t[key]!r}")
    rel = abs(tw_equity - ref_equity) / abs(ref_equity)
    print(f"{'':>4} {'entry':>10} {'entry px':>10} {'exit':>10} {'exit px':>10} {'size':>6}")
    for i, r in enumerate(ref_trades):
        print(f"{i + 1:>4} {r['entry']:>10} {r['entry_price']:>10.2f} {r['exit']:>10} {r['exit_price']:>10.2f} {r['size']:>6}")
    print(f"trades: {len(ref_trades)} (backtesting.py) vs {len(tw_trades)} (tradewind)")
    print(f"final equity: backtesting.py {ref_equity:.6f}, tradewind {tw_equity:.6f}, relative difference {rel:.3e}")
    if rel > 1e-6:
        failures.append(f"final equity differs by {rel:.3e} relative (limit 1e-6)")
    if failures:
        print("MISMATCH:\n  " + "\n  ".join(failures))
        sys.exit(1)
    print("OK: every trade identical, final equity within 1e-6")


if __name__ == "__main__":
    main()
