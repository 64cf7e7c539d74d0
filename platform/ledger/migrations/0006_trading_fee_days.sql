-- Version 6: a settlement's trading fees kept per bot, UTC day, liquidity and tier, not
-- per fill. A settlement of a month wrote one `trading_fee_lines` row per fill (3,000,000
-- rows for 10,000 accounts); it now writes one row per group of fills that share a rate.
-- Each row holds the fills' count, their notional sum and the exact sum of their fees,
-- each fee still computed per fill and rounded up to 10⁻⁹ by the commission engine, so
-- Σ fee over a charge's rows is the charge. A fill's own fee is
-- `rate × notional` rounded up, from the fill and its row's rate (the README says how).
--
-- The rows written by versions 2 to 4 are folded into this table by the migration (exact
-- sums computed in Rust, not in SQL: money is decimal TEXT), then `trading_fee_lines`
-- is dropped; see `schema.rs`.

CREATE TABLE trading_fee_days (
    charge TEXT NOT NULL REFERENCES charges (id),
    bot TEXT NOT NULL,
    -- The UTC day of the fills (its 00:00, UNIX nanoseconds): the tier is read per day.
    day BIGINT NOT NULL,
    liquidity TEXT NOT NULL CHECK (liquidity IN ('maker', 'taker')),
    -- 1: fills of an earlier, already settled period, delivered after it (late fills).
    late BIGINT NOT NULL CHECK (late IN (0, 1)),
    tier BIGINT NOT NULL,
    rate TEXT NOT NULL,
    volume_30d TEXT NOT NULL,
    fills BIGINT NOT NULL CHECK (fills > 0),
    notional TEXT NOT NULL,
    fee TEXT NOT NULL,
    PRIMARY KEY (charge, day, liquidity, late, tier)
);
-- A bot's on-time fills of a day are charged once, by one settlement (as the per-fill
-- key did): a second plan settling the same day for the same bot is refused.
CREATE UNIQUE INDEX trading_fee_days_once ON trading_fee_days (bot, day, liquidity) WHERE late = 0;
