#!/usr/bin/env python3
"""Throughput of one backtest in four engines: Tradewind, backtesting.py, vectorbt and
NautilusTrader, on the same synthetic series, in the same run.

The backtest: SmaCross(10, 20) on closes, long-only (buy all-in on the strict
fast-over-slow crossover when flat, close the whole position on the opposite crossover),
market orders filled at the next bar's open, 0.2 % commission per side, 10,000 cash,
whole units. The series: tools/bench/synthetic_bars.py (1,000,000 one-minute bars by
default), written once to a CSV that every engine reads.

What is timed, per engine (data loading and report writing are never timed):
  tradewind       engine_seconds from the binary's `backtest finished` log line
  backtesting.py  Backtest.run() (indicators, the bar loop and its statistics)
  vectorbt        the two SMAs, the crossover signals and Portfolio.from_signals, after
                  a numba warm-up run on a small slice
  nautilus        BacktestEngine.run() (in its own Python 3.12 venv, nautilus_sma.py)

Next to each timing it prints the number of closed trades and the final equity (cash plus
the open position at the last close), and replays the same rules in plain Python with
exact decimal cash once per SMA arithmetic the engines use, so a difference in the work
done is visible and explained (see README.md).

Usage (the 3.11 venv with backtesting.py and vectorbt; re-executes itself there if run
with another Python):
  /root/.cache/tradewind-venv/bin/python tools/bench/compare_engines.py \
      [--bars N] [--skip ENGINE]... [--tradewind-bin PATH] [--nautilus-python PATH]

ENGINE is one of: tradewind, backtesting, vectorbt, nautilus. Exits non-zero if an
engine fails.
"""
import argparse
import datetime
import json
import math
import os
import platform
import re
import shlex
import subprocess
import sys
import tempfile
import time
from fractions import Fraction

HERE = os.path.dirname(os.path.abspath(__file__))
BENCH_VENV_PYTHON = "/root/.cache/tradewind-venv/bin/python"
NAUTILUS_PYTHON = "/root/.cache/tradewind-bench312/bin/python"
TRADEWIND_BIN = "/root/.cache/tradewind-target/release/tradewind-bot"
ENGINES = ("tradewind", "backtesting", "vectorbt", "nautilus")
LABELS = {
    "tradewind": "Tradewind",
    "backtesting": "backtesting.py",
    "vectorbt": "vectorbt",
    "nautilus": "NautilusTrader",
}

CASH = 10_000
COMMISSION = 0.002
COMMISSION_BPS = 20
FAST, SLOW = 10, 20
SYMBOL = "SYNTH"

try:
    import numpy as np
    import pandas as pd
except ImportError:  # wrong interpreter: hop into the benchmark venv once
    if os.path.exists(BENCH_VENV_PYTHON) and not os.environ.get("TW_BENCH_REEXEC"):
        os.environ["TW_BENCH_REEXEC"] = "1"
        os.execv(BENCH_VENV_PYTHON, [BENCH_VENV_PYTHON, os.path.abspath(__file__)] + sys.argv[1:])
    raise

sys.path.insert(0, HERE)
import synthetic_bars  # noqa: E402

BUNDLE = f"""\
apiVersion: tradewind.dev/v1alpha1
kind: Strategy
metadata:
  name: sma-10-20-1m
spec:
  type: SmaCross
  timeframe: 1m
  smaCross:
    fastPeriod: {FAST}
    slowPeriod: {SLOW}
  sizing:
    type: AllIn
---
apiVersion: tradewind.dev/v1alpha1
kind: TradingBot
metadata:
  name: bench-sma-cross
spec:
  mode: Backtest
  strategyRef:
    name: sma-10-20-1m
  accountRef:
    name: bench
  venue:
    exchange: Binance
  symbols: [{SYMBOL}]
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
          makerBps: "{COMMISSION_BPS}"
          takerBps: "{COMMISSION_BPS}"
"""


class EngineError(Exception):
    pass


# --------------------------------------------------------------------------- data


def write_csv(path, n):
    """The synthetic series, in synthetic_bars.py's CSV format (same formatting)."""
    ts, o, h, l, c, v = synthetic_bars.generate(n)
    with open(path, "w") as f:
        f.write("timestamp,open,high,low,close,volume\n")
        f.writelines(
            f"{t},{a:.2f},{b:.2f},{x:.2f},{y:.2f},{z}\n"
            for t, a, b, x, y, z in zip(ts.tolist(), o.tolist(), h.tolist(), l.tolist(), c.tolist(), v.tolist())
        )


def read_frame(path):
    """The CSV as backtesting.py wants it: DatetimeIndex (bar open) and capitalised columns."""
    df = pd.read_csv(path)
    df.index = pd.to_datetime(df.pop("timestamp"), unit="s")
    df.index.name = None
    df.columns = ["Open", "High", "Low", "Close", "Volume"]
    return df


# --------------------------------------------------------------------------- engines


def run_tradewind(binary, csv_path, workdir):
    if not (os.path.isfile(binary) and os.access(binary, os.X_OK)):
        raise EngineError(f"no executable at {binary}")
    bundle = os.path.join(workdir, "bench-bot.yaml")
    with open(bundle, "w") as f:
        f.write(BUNDLE)
    out = os.path.join(workdir, "tradewind-report")
    env = dict(os.environ, RUST_LOG="info", NO_COLOR="1")
    started = time.perf_counter()
    run = subprocess.run([binary, "backtest", "-f", bundle, "--data", csv_path, "--out", out],
                         capture_output=True, text=True, env=env)
    wall = time.perf_counter() - started
    if run.returncode != 0:
        raise EngineError(f"tradewind-bot exited {run.returncode}:\n{run.stdout[-2000:]}\n{run.stderr[-4000:]}")
    log = re.sub(r"\x1b\[[0-9;]*m", "", run.stderr)
    line = next((l for l in log.splitlines() if "backtest finished" in l), None)
    if line is None:
        raise EngineError(f"no 'backtest finished' line in tradewind-bot's stderr:\n{log[-4000:]}")
    fields = dict(re.findall(r"(\w+)=([^\s]+)", line))
    try:
        seconds = float(fields["engine_seconds"])
        bars = int(fields["bars"])
    except (KeyError, ValueError) as e:
        raise EngineError(f"cannot parse {e} from: {line}") from None
    with open(os.path.join(out, "report.json")) as f:
        report = json.load(f)
    return {
        "bars": bars,
        "seconds": seconds,
        "trades": len(report["trades"]),
        "final_equity": float(report["finalEquity"]),
        "note": f"process wall time {wall:.2f} s incl. CSV parsing and report writing",
    }


def run_backtesting(df):
    os.environ.setdefault("TQDM_DISABLE", "1")  # no progress bar inside the timed run
    import warnings

    from backtesting import Backtest, Strategy
    from backtesting.lib import crossover

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

    bt = Backtest(df, LongOnlySmaCross, cash=CASH, commission=COMMISSION,
                  trade_on_close=False, exclusive_orders=False, finalize_trades=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "some trades remain open" etc.
        started = time.perf_counter()
        stats = bt.run()
        seconds = time.perf_counter() - started
    return {
        "bars": len(df),
        "seconds": seconds,
        "trades": len(stats._trades),  # closed trades only (finalize_trades=False)
        "final_equity": float(stats["Equity Final [$]"]),
    }


def vectorbt_portfolio(vbt, open_, close):
    """SMAs, strict crossovers, signals shifted one bar, filled at that bar's open."""
    fast = close.rolling(FAST).mean()
    slow = close.rolling(SLOW).mean()
    f_prev, s_prev = fast.shift(1), slow.shift(1)
    up = (f_prev < s_prev) & (fast > slow)  # NaN compares False, as in crossover()
    down = (f_prev > s_prev) & (fast < slow)
    entries = up.shift(1, fill_value=False)
    exits = down.shift(1, fill_value=False)
    return vbt.Portfolio.from_signals(
        close, entries, exits,
        price=open_, direction="longonly", accumulate=False,
        size=np.inf, size_type="amount", size_granularity=1,
        fees=COMMISSION, init_cash=CASH, freq="1min",
    )


def run_vectorbt(df):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import vectorbt as vbt
    open_, close = df["Open"], df["Close"]
    vectorbt_portfolio(vbt, open_.iloc[:2000], close.iloc[:2000])  # numba JIT warm-up
    started = time.perf_counter()
    pf = vectorbt_portfolio(vbt, open_, close)
    seconds = time.perf_counter() - started
    return {
        "bars": len(df),
        "seconds": seconds,
        "trades": int(pf.trades.closed.count()),
        "final_equity": float(pf.final_value()),
        "note": "vectorbt simulates whole arrays (no per-bar strategy callback)",
    }


def run_nautilus(python, csv_path):
    if not os.path.exists(python):
        raise EngineError(f"no Python at {python} (NautilusTrader needs its 3.12 venv)")
    script = os.path.join(HERE, "nautilus_sma.py")
    run = subprocess.run([python, script, csv_path, "--fast", str(FAST), "--slow", str(SLOW),
                          "--cash", str(CASH), "--fee", str(COMMISSION)],
                         capture_output=True, text=True)
    if run.returncode != 0:
        raise EngineError(f"nautilus_sma.py exited {run.returncode}:\n{run.stdout[-2000:]}\n{run.stderr[-4000:]}")
    try:
        res = json.loads(run.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        raise EngineError(f"no JSON result from nautilus_sma.py:\n{run.stdout[-2000:]}\n{run.stderr[-2000:]}") from None
    first = res.get("first_fills") or []
    res["note"] = f"sizing {res['sizing']}; {res['fills']} fills"
    if first:
        bar, side, px, qty = first[0]
        res["note"] += f"; first fill {side} {qty} @ {px} on bar {bar:,} (the signal bar's close)"
    return res


# --------------------------------------------------------------------------- replay


def sma_pandas(c, p):
    return pd.Series(c).rolling(p).mean().to_numpy()


def sma_running_total(c, p):
    """Tradewind's Sma (TA-Lib style): add, divide, then drop the oldest; one running total."""
    out = np.full(len(c), np.nan)
    total = 0.0
    xs = c.tolist()
    for i, x in enumerate(xs):
        total += x
        if i >= p - 1:
            out[i] = total / p
            total -= xs[i - p + 1]
    return out


def sma_window_sum(c, p):
    """Nautilus' SimpleMovingAverage: a fresh left-to-right sum of the window, / p."""
    out = np.full(len(c), np.nan)
    total = np.zeros(len(c) - p + 1)
    for k in range(p):  # elementwise, so the additions happen in the same order
        total = total + c[k:len(c) - p + 1 + k]
    out[p - 1:] = total / p
    return out


def exact_cmp(c):
    """Exact comparison of SMA10 and SMA20 on cent prices, as fast and slow stand-ins."""
    cents = np.rint(c * 100).astype(np.int64)
    cs = np.concatenate([[0], np.cumsum(cents)])
    n = len(c)
    fast = np.full(n, np.nan)
    slow = np.full(n, np.nan)
    i = np.arange(n)
    f_ok, s_ok = i >= FAST - 1, i >= SLOW - 1
    # fast > slow  <=>  2 * sum10 > sum20 ; encode as fast = 2*sum10, slow = sum20.
    fast[f_ok] = 2 * (cs[i[f_ok] + 1] - cs[i[f_ok] + 1 - FAST])
    slow[s_ok] = cs[i[s_ok] + 1] - cs[i[s_ok] + 1 - SLOW]
    return fast, slow


def replay(open_, close, fast, slow, fee_in_cents=False):
    """The strategy's rules with exact (rational) cash: closed trades and final equity.
    fee_in_cents: each commission rounded half-up to the cent (Nautilus' USD Money)."""
    fp, sp = fast[:-1], slow[:-1]
    fn, sn = fast[1:], slow[1:]
    with np.errstate(invalid="ignore"):
        up = np.nonzero((fp < sp) & (fn > sn))[0] + 1
        down = np.nonzero((fp > sp) & (fn < sn))[0] + 1
    events = sorted([(int(i), 1) for i in up] + [(int(i), -1) for i in down])
    n = len(close)
    fee = Fraction(COMMISSION_BPS, 10_000)
    cents = np.rint(open_ * 100).astype(np.int64)
    cash, pos, trades, last_trade_bar, first_fill = Fraction(CASH), 0, 0, -1, None

    def commission(notional):
        c = notional * fee
        return Fraction(math.floor(c * 100 + Fraction(1, 2)), 100) if fee_in_cents else c

    for i, kind in events:
        j = i + 1  # decided on bar i's close, filled at bar j's open
        if j >= n:
            break
        px = Fraction(int(cents[j]), 100)
        if kind == 1 and pos == 0:
            q = math.floor(cash / (px * (1 + fee)))
            if q > 0:
                cash -= q * px + commission(q * px)
                pos = q
                last_trade_bar = j
                if first_fill is None:
                    first_fill = (j, float(px), q)
        elif kind == -1 and pos > 0:
            cash += pos * px - commission(pos * px)
            pos = 0
            trades += 1
            last_trade_bar = j
    last = Fraction(int(round(close[-1] * 100)), 100)
    return {"trades": trades, "final_equity": float(cash + pos * last),
            "signals": len(up) + len(down), "last_trade_bar": last_trade_bar, "first_fill": first_fill}


def references(df):
    o = df["Open"].to_numpy()
    c = df["Close"].to_numpy()
    out = {}
    for key, fn in (("pandas", sma_pandas), ("running", sma_running_total), ("window", sma_window_sum)):
        out[key] = replay(o, c, fn(c, FAST), fn(c, SLOW), fee_in_cents=(key == "window"))
    out["exact"] = replay(o, c, *exact_cmp(c))
    f, s = exact_cmp(c)
    out["ties"] = int(np.sum(f[SLOW - 1:] == s[SLOW - 1:]))
    return out


REF_OF = {"tradewind": "exact", "backtesting": "pandas", "vectorbt": "pandas", "nautilus": "window"}
REF_LABEL = {
    "pandas": "pandas rolling mean (backtesting.py, vectorbt)",
    "running": "running total, TA-Lib style (no engine here)",
    "window": "fresh sum of each window, fees to the cent (NautilusTrader)",
    "exact": "exact, integer cents (Tradewind)",
}


# --------------------------------------------------------------------------- report


def machine():
    model, cores = "unknown CPU", os.cpu_count()
    try:
        with open("/proc/cpuinfo") as f:
            text = f.read()
        m = re.search(r"^model name\s*:\s*(.+)$", text, re.M)
        if m:
            model = m.group(1).strip()
        physical = {(p, c) for p, c in re.findall(r"physical id\s*:\s*(\d+).*?core id\s*:\s*(\d+)", text, re.S)}
        phys = f", {len(physical)} physical" if physical else ""
    except OSError:
        phys = ""
    return f"{model}; {cores} logical CPUs{phys}; {platform.system()} {platform.release()}; Python {platform.python_version()}"


def fmt_int(x):
    return f"{x:,}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bars", type=int, default=1_000_000, help="bars in the series (default 1,000,000)")
    ap.add_argument("--skip", action="append", default=[], choices=ENGINES, metavar="ENGINE",
                    help=f"skip an engine (repeatable): {', '.join(ENGINES)}")
    ap.add_argument("--tradewind-bin", default=TRADEWIND_BIN, help=f"tradewind-bot binary (default {TRADEWIND_BIN})")
    ap.add_argument("--wait-for-bin", type=float, default=30.0, metavar="MINUTES",
                    help="wait this long for the Tradewind binary to appear (default 30)")
    ap.add_argument("--nautilus-python", default=NAUTILUS_PYTHON,
                    help=f"Python 3.12 with NautilusTrader (default {NAUTILUS_PYTHON})")
    args = ap.parse_args()
    command = " ".join(shlex.quote(a) for a in [sys.executable] + sys.argv)
    engines = [e for e in ENGINES if e not in args.skip]

    if "tradewind" in engines and not os.path.exists(args.tradewind_bin):
        deadline = time.time() + args.wait_for_bin * 60
        print(f"waiting up to {args.wait_for_bin:g} min for {args.tradewind_bin} ...", flush=True)
        while not os.path.exists(args.tradewind_bin) and time.time() < deadline:
            time.sleep(10)
        time.sleep(2)  # let a just-linked binary settle

    results, failures = {}, {}
    with tempfile.TemporaryDirectory(prefix="tw-bench-") as tmp:
        csv_path = os.path.join(tmp, "synthetic_bars.csv")
        t0 = time.perf_counter()
        write_csv(csv_path, args.bars)
        df = read_frame(csv_path)
        print(f"series: {fmt_int(len(df))} bars, {df.index[0]} .. {df.index[-1]}, close "
              f"{df['Close'].min():.2f}..{df['Close'].max():.2f} (written in {time.perf_counter() - t0:.1f} s)",
              flush=True)
        for engine in engines:
            print(f"running {LABELS[engine]} ...", flush=True)
            try:
                if engine == "tradewind":
                    results[engine] = run_tradewind(args.tradewind_bin, csv_path, tmp)
                elif engine == "backtesting":
                    results[engine] = run_backtesting(df)
                elif engine == "vectorbt":
                    results[engine] = run_vectorbt(df)
                elif engine == "nautilus":
                    results[engine] = run_nautilus(args.nautilus_python, csv_path)
            except EngineError as e:
                failures[engine] = str(e)
            except Exception as e:  # an engine's own exception: report it, go on with the rest
                failures[engine] = f"{type(e).__name__}: {e}"
            if engine in failures:
                print(f"  FAILED: {failures[engine]}", flush=True)
            else:
                r = results[engine]
                print(f"  {r['seconds']:.3f} s, {r['trades']} trades, final equity {r['final_equity']:.2f}", flush=True)
        print("replaying the rules in plain Python for each SMA arithmetic ...", flush=True)
        refs = references(df)

    tw = results.get("tradewind")
    tw_bps = tw["bars"] / tw["seconds"] if tw else None
    rows = []
    for engine in engines:
        if engine in failures:
            rows.append([LABELS[engine], "-", "-", "-", "-", "-", "FAILED"])
            continue
        r = results[engine]
        bps = r["bars"] / r["seconds"]
        if tw_bps is None:
            vs = "n/a"
        elif engine == "tradewind":
            vs = "1.00x"
        else:
            ratio = bps / tw_bps
            vs = f"{ratio:.4f}x (TW {1 / ratio:,.1f}x faster)" if ratio < 1 else f"{ratio:,.2f}x (TW {1 / ratio:.2f}x)"
        rows.append([LABELS[engine], fmt_int(r["bars"]), f"{r['seconds']:.3f}", f"{bps:,.0f}", vs,
                     str(r["trades"]), f"{r['final_equity']:,.2f}"])
    header = ["engine", "bars", "seconds", "bars/s", "vs Tradewind", "trades", "final equity"]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]

    def line(cells):
        return "| " + " | ".join(c.ljust(w) if i in (0, 4) else c.rjust(w)
                                 for i, (c, w) in enumerate(zip(cells, widths))) + " |"

    print()
    print("SmaCross(10, 20) long-only, all-in, next-bar-open market fills, 0.2 % commission, 10,000 cash")
    print(f"date:    {datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M:%S UTC')}")
    print(f"machine: {machine()}")
    print(f"command: {command}")
    print()
    print(line(header))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        print(line(r))
    print()
    for engine in engines:
        if engine in results and results[engine].get("note"):
            print(f"  {LABELS[engine]}: {results[engine]['note']}")
    print()
    print(f"Replay of the same rules with exact decimal cash, per SMA arithmetic "
          f"({refs['ties']:,} bars where SMA10 == SMA20 exactly):")
    for key in ("running", "pandas", "window", "exact"):
        ref = refs[key]
        ff = ref["first_fill"]
        print(f"  {REF_LABEL[key]:<60} {ref['trades']:>6} trades, final equity {ref['final_equity']:>10,.2f}, "
              f"{ref['signals']:,} crossovers, first fill {ff[2] if ff else 0} @ {ff[1] if ff else 0:.2f} "
              f"on bar {ff[0] if ff else -1:,} (open), last fill on bar {ref['last_trade_bar']:,}")
    mismatches = []
    for engine in engines:
        if engine not in results:
            continue
        r, ref = results[engine], refs[REF_OF[engine]]
        same = r["trades"] == ref["trades"] and math.isclose(r["final_equity"], ref["final_equity"], rel_tol=1e-6, abs_tol=1e-6)
        verdict = "matches" if same else "DIFFERS from"
        print(f"  {LABELS[engine]:<15} {verdict} the replay with its own SMA arithmetic"
              + ("" if same else f" (engine {r['trades']} trades / {r['final_equity']:.6f}, "
                                 f"replay {ref['trades']} / {ref['final_equity']:.6f})"))
        if not same:
            mismatches.append(engine)
    if failures:
        print()
        for engine, why in failures.items():
            print(f"FAILED {LABELS[engine]}: {why}")
        sys.exit(1)
    if mismatches:
        print("\nnote: an engine differs from the replay of its own rules; see README.md (Semantic differences)")


if __name__ == "__main__":
    main()
