//! The bot worker (`tradewind-bot run`) and its `backtest` command. Not built yet: see
//! issues 3 and 7.
