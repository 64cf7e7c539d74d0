//! Market data at rest: daily archives of bars and trades in a directory or a Blob
//! Storage container ([`archive`]), and the market-data documents in Cosmos DB — latest
//! tickers, closed bars, order-book snapshots — that the feed writes and a worker warms
//! up from ([`market`]).

pub mod archive;
pub mod market;
