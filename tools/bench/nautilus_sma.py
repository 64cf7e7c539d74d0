#!/usr/bin/env python3
"""NautilusTrader leg of compare_engines.py: long-only SmaCross(10, 20) on an OHLCV CSV.

Runs under the Python 3.12 venv that holds NautilusTrader (it does not import anything
from the 3.11 benchmark venv). Reads the CSV written by compare_engines.py (header
timestamp,open,high,low,close,volume; timestamp = bar open, Unix seconds), builds a
BacktestEngine with one cash-account venue and one Equity (price precision 2, size
precision 0, 0.2 % maker and taker fee), runs the strategy below and prints ONE JSON
line on stdout:

  {"bars": ..., "seconds": ..., "trades": ..., "final_equity": ..., "sizing": ..., ...}

"seconds" is the wall time of engine.run() only (CSV parsing, bar wrangling and engine
setup are excluded, as for the other engines).

Strategy, identical in intent to Tradewind's SmaCross and the backtesting.py reference:
two SimpleMovingAverage indicators on closes; a cross is strict on both bars
(fast[-2] < slow[-2] and fast[-1] > slow[-1], like backtesting.py's crossover()); on an
up-cross when flat buy all-in with a market order, on a down-cross when long sell the
whole position with a market order. All-in = floor(free cash / (price * (1 + fee))),
whole units, priced at the signal bar's close (see the README for why that equals the
next bar's open on the benchmark series).

Usage: nautilus_sma.py BARS.csv [--fast 10] [--slow 20] [--cash 10000] [--fee 0.002]
                                [--fixed-quantity Q]
"""
import argparse
import json
import math
import sys
import time
from decimal import Decimal

import pandas as pd

from nautilus_trader.backtest.engine import BacktestEngine
from nautilus_trader.backtest.config import BacktestEngineConfig
from nautilus_trader.backtest.models import BestPriceFillModel
from nautilus_trader.config import LoggingConfig, RiskEngineConfig, StrategyConfig
from nautilus_trader.indicators import SimpleMovingAverage
from nautilus_trader.model.currencies import USD
from nautilus_trader.model.data import Bar, BarType
from nautilus_trader.model.enums import AccountType, OmsType, OrderSide, TimeInForce, order_side_to_str
from nautilus_trader.model.identifiers import InstrumentId, Symbol, TraderId, Venue
from nautilus_trader.model.instruments import Equity
from nautilus_trader.model.objects import Money, Price, Quantity
from nautilus_trader.persistence.wranglers import BarDataWrangler
from nautilus_trader.trading.strategy import Strategy

VENUE = Venue("SIM")
SYMBOL = "SYNTH"


class SmaCrossConfig(StrategyConfig, frozen=True):
    instrument_id: InstrumentId
    bar_type: BarType
    fast: int = 10
    slow: int = 20
    fee: float = 0.002
    fixed_quantity: int = 0  # 0 = all-in


class LongOnlySmaCross(Strategy):
    def __init__(self, config: SmaCrossConfig) -> None:
        super().__init__(config)
        self.fast = SimpleMovingAverage(config.fast)
        self.slow = SimpleMovingAverage(config.slow)
        self.prev = None  # (fast, slow) on the previous bar, once both are ready
        self.instrument = None
        self.account = None
        self.entries = 0
        self.exits = 0
        self.skipped_entries = 0  # up-crosses with not even one affordable unit
        self.fills = []  # (bar index, side, price, qty) of the first few fills
        self.fill_count = 0
        self.last_close = None
        self.bar_index = -1  # index of the bar being handled

    def on_start(self) -> None:
        self.instrument = self.cache.instrument(self.config.instrument_id)
        self.register_indicator_for_bars(self.config.bar_type, self.fast)
        self.register_indicator_for_bars(self.config.bar_type, self.slow)
        self.subscribe_bars(self.config.bar_type)

    def on_bar(self, bar: Bar) -> None:
        self.last_close = bar.close
        self.bar_index += 1
        if not self.slow.initialized:
            return
        fast, slow = self.fast.value, self.slow.value
        prev = self.prev
        self.prev = (fast, slow)
        if prev is None:
            return
        pf, ps = prev
        iid = self.config.instrument_id
        if pf < ps and fast > slow:
            if self.portfolio.is_flat(iid):
                self._enter(bar)
        elif pf > ps and fast < slow:
            if self.portfolio.is_net_long(iid):
                self.close_all_positions(iid)
                self.exits += 1

    def _enter(self, bar: Bar) -> None:
        if self.config.fixed_quantity:
            qty = self.config.fixed_quantity
        else:
            if self.account is None:
                self.account = self.portfolio.account(VENUE)
            cash = self.account.balance_free(USD).as_double()
            qty = math.floor(cash / (bar.close.as_double() * (1.0 + self.config.fee)))
        if qty <= 0:
            self.skipped_entries += 1
            return
        order = self.order_factory.market(
            instrument_id=self.config.instrument_id,
            order_side=OrderSide.BUY,
            quantity=Quantity.from_int(qty),
            time_in_force=TimeInForce.GTC,
        )
        self.submit_order(order)
        self.entries += 1

    def on_order_filled(self, event) -> None:
        self.fill_count += 1
        if len(self.fills) < 4:
            self.fills.append((self.bar_index, order_side_to_str(event.order_side), str(event.last_px),
                               str(event.last_qty)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("csv")
    ap.add_argument("--fast", type=int, default=10)
    ap.add_argument("--slow", type=int, default=20)
    ap.add_argument("--cash", type=float, default=10_000)
    ap.add_argument("--fee", type=str, default="0.002")
    ap.add_argument("--fixed-quantity", type=int, default=0,
                    help="trade this many units per entry instead of all-in")
    args = ap.parse_args()

    df = pd.read_csv(args.csv)
    # Nautilus stamps a bar at its close; the CSV stamps it at its open.
    df.index = pd.to_datetime(df.pop("timestamp") + 60, unit="s", utc=True)

    instrument_id = InstrumentId(Symbol(SYMBOL), VENUE)
    instrument = Equity(
        instrument_id=instrument_id,
        raw_symbol=Symbol(SYMBOL),
        currency=USD,
        price_precision=2,
        price_increment=Price.from_str("0.01"),
        lot_size=Quantity.from_int(1),
        maker_fee=Decimal(args.fee),
        taker_fee=Decimal(args.fee),
        ts_event=0,
        ts_init=0,
    )
    bar_type = BarType.from_str(f"{instrument_id}-1-MINUTE-LAST-EXTERNAL")
    bars = BarDataWrangler(bar_type, instrument).process(df)

    engine = BacktestEngine(config=BacktestEngineConfig(
        trader_id=TraderId("BENCH-001"),
        logging=LoggingConfig(log_level="ERROR"),
        risk_engine=RiskEngineConfig(bypass=False),
        run_analysis=False,
    ))
    engine.add_venue(
        venue=VENUE,
        oms_type=OmsType.NETTING,
        account_type=AccountType.CASH,
        base_currency=USD,
        starting_balances=[Money(args.cash, USD)],
        # The default fill model fills market orders against an L1 book built from the
        # bar, whose size is about a quarter of the bar's volume; the rest of a larger
        # order fills one tick worse. The other engines ignore volume, so give the book
        # unlimited size at the best price.
        fill_model=BestPriceFillModel(),
    )
    engine.add_instrument(instrument)
    engine.add_data(bars)
    strategy = LongOnlySmaCross(SmaCrossConfig(
        instrument_id=instrument_id, bar_type=bar_type, fast=args.fast, slow=args.slow,
        fee=float(args.fee), fixed_quantity=args.fixed_quantity,
    ))
    engine.add_strategy(strategy)

    started = time.perf_counter()
    engine.run()
    seconds = time.perf_counter() - started

    # Equity = cash + open position marked at the last close (what backtesting.py's
    # "Equity Final" and Tradewind's finalEquity report).
    account = engine.portfolio.account(VENUE)
    cash = account.balance_total(USD).as_double()
    net = float(engine.portfolio.net_position(instrument_id))
    last_close = strategy.last_close.as_double() if strategy.last_close is not None else 0.0
    closed = strategy.exits  # round trips whose closing order was sent
    # A close sent on the very last bar never fills (no later bar); do not count it.
    if strategy.fill_count < strategy.entries + strategy.exits:
        closed = strategy.fill_count - strategy.entries
    print(json.dumps({
        "bars": len(bars),
        "seconds": seconds,
        "trades": closed,
        "final_equity": cash + net * last_close,
        "cash": cash,
        "open_quantity": net,
        "entries": strategy.entries,
        "exits": strategy.exits,
        "fills": strategy.fill_count,
        "skipped_entries": strategy.skipped_entries,
        "first_fills": strategy.fills,
        "sizing": f"fixed {args.fixed_quantity} units" if args.fixed_quantity else "all-in",
    }))
    engine.dispose()


if __name__ == "__main__":
    main()
