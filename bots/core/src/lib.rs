//! Tradewind's trading core: pure, deterministic, no I/O. The same code runs in
//! backtests, paper trading and live trading; time comes from a clock the caller owns.
