-- The ledger's first schema. Portable SQL that SQLite (3.35+) and PostgreSQL (12+) both
-- run as written: TEXT, BIGINT, PRIMARY KEY, UNIQUE, REFERENCES, CHECK, ON CONFLICT.
--
-- Money and quantities are exact decimal TEXT in the trading core's canonical form
-- (at most 9 decimals, e.g. `12.50`, `0.000000001`), never a float and never an
-- integer column: the core's money is i128 nano-units, wider than BIGINT. Arithmetic is
-- done in Rust on the core's fixed-point types. Instants are BIGINT UNIX nanoseconds
-- (UTC). Flags are BIGINT 0/1 (SQLite has no BOOLEAN).

CREATE TABLE accounts (
    id TEXT PRIMARY KEY,
    display_name TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- A user's subject (the identity provider's `sub`) and their role in an account.
CREATE TABLE members (
    subject TEXT NOT NULL,
    account TEXT NOT NULL REFERENCES accounts (id),
    role TEXT NOT NULL CHECK (role IN ('owner', 'trader', 'viewer')),
    PRIMARY KEY (subject, account)
);

CREATE TABLE platform_admins (
    subject TEXT PRIMARY KEY,
    created_at BIGINT NOT NULL
);

-- Who referred an account, from `start_at` until `end_at` (exclusive; NULL: open).
-- One referrer at a time and no cycles are checked by the ledger before insert.
CREATE TABLE referrals (
    account TEXT NOT NULL REFERENCES accounts (id),
    referrer TEXT NOT NULL REFERENCES accounts (id),
    start_at BIGINT NOT NULL,
    end_at BIGINT,
    PRIMARY KEY (account, start_at),
    CHECK (account <> referrer),
    CHECK (end_at IS NULL OR end_at > start_at)
);

-- A Strategy (`namespace/name`) and the account that wrote it.
CREATE TABLE strategy_authors (
    strategy TEXT PRIMARY KEY,
    author TEXT NOT NULL REFERENCES accounts (id)
);

-- CommissionPlans as the ledger settles them: the resource's spec as JSON.
CREATE TABLE plans (
    name TEXT PRIMARY KEY,
    spec TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- A TradingBot (`namespace/name`), the account it trades for, its plan (a name in
-- `plans`, or none) and the currency its fills and equity are in.
CREATE TABLE bots (
    bot TEXT PRIMARY KEY,
    account TEXT NOT NULL REFERENCES accounts (id),
    plan TEXT,
    quote_currency TEXT NOT NULL,
    strategy TEXT,
    updated_at BIGINT NOT NULL
);
CREATE INDEX bots_by_account ON bots (account);

-- Every event the ledger stored, as received: the id deduplicates, the body tells a
-- retry (same body) from corruption (another body under a known id).
CREATE TABLE events (
    id TEXT PRIMARY KEY,
    bot TEXT NOT NULL REFERENCES bots (bot),
    kind TEXT NOT NULL,
    ts BIGINT NOT NULL,
    body TEXT NOT NULL
);

-- Orders and their last known state (submitted, accepted, rejected, canceled).
CREATE TABLE orders (
    bot TEXT NOT NULL REFERENCES bots (bot),
    session TEXT NOT NULL,
    order_id BIGINT NOT NULL,
    side TEXT NOT NULL,
    order_type TEXT NOT NULL,
    quantity TEXT NOT NULL,
    limit_price TEXT,
    trigger_price TEXT,
    time_in_force TEXT NOT NULL,
    status TEXT NOT NULL,
    submitted_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (bot, session, order_id)
);

CREATE TABLE fills (
    event_id TEXT PRIMARY KEY REFERENCES events (id),
    bot TEXT NOT NULL REFERENCES bots (bot),
    account TEXT NOT NULL REFERENCES accounts (id),
    session TEXT NOT NULL,
    order_id BIGINT NOT NULL,
    ts BIGINT NOT NULL,
    side TEXT NOT NULL,
    price TEXT NOT NULL,
    quantity TEXT NOT NULL,
    notional TEXT NOT NULL,
    currency TEXT NOT NULL,
    venue_fee TEXT NOT NULL,
    liquidity TEXT NOT NULL CHECK (liquidity IN ('maker', 'taker'))
);
CREATE INDEX fills_by_account_ts ON fills (account, ts);

CREATE TABLE equity_snapshots (
    event_id TEXT PRIMARY KEY REFERENCES events (id),
    bot TEXT NOT NULL REFERENCES bots (bot),
    ts BIGINT NOT NULL,
    equity TEXT NOT NULL,
    realized_pnl TEXT NOT NULL,
    unrealized_pnl TEXT NOT NULL,
    venue_fees TEXT NOT NULL
);
CREATE INDEX equity_by_bot_ts ON equity_snapshots (bot, ts);

-- One settlement per plan and period: the UNIQUE constraint is what makes a second or a
-- concurrent run of the same period book nothing.
CREATE TABLE settlements (
    id TEXT PRIMARY KEY,
    plan TEXT NOT NULL,
    period_kind TEXT NOT NULL,
    period_start BIGINT NOT NULL,
    period_end BIGINT NOT NULL,
    currency TEXT NOT NULL,
    settled_at BIGINT NOT NULL,
    summary TEXT NOT NULL,
    UNIQUE (plan, period_start)
);

-- What an account's next settlement under a plan starts from: the end of the last
-- settled period and each bot's high-water mark (JSON, money as decimal text).
CREATE TABLE plan_account_state (
    plan TEXT NOT NULL,
    account TEXT NOT NULL REFERENCES accounts (id),
    settled_through BIGINT NOT NULL,
    marks TEXT NOT NULL,
    PRIMARY KEY (plan, account)
);

CREATE TABLE charges (
    id TEXT PRIMARY KEY,
    settlement TEXT NOT NULL REFERENCES settlements (id),
    account TEXT NOT NULL REFERENCES accounts (id),
    bot TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('trading', 'performance')),
    ts BIGINT NOT NULL,
    amount TEXT NOT NULL,
    currency TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX charges_by_settlement ON charges (settlement);

-- A charge's distribution: payee is `platform` or an account id; an unclaimed share
-- (nobody at that role) is paid to the platform and flagged.
CREATE TABLE charge_parts (
    charge TEXT NOT NULL REFERENCES charges (id),
    idx BIGINT NOT NULL,
    role TEXT NOT NULL,
    share_bps BIGINT NOT NULL,
    payee TEXT NOT NULL,
    unclaimed BIGINT NOT NULL CHECK (unclaimed IN (0, 1)),
    amount TEXT NOT NULL,
    PRIMARY KEY (charge, idx)
);

-- The double-entry journal: every charge and every distribution is one transfer with
-- a unique id; in each ledger (a currency) its debits equal its credits.
CREATE TABLE journal_transfers (
    id TEXT PRIMARY KEY,
    ledger TEXT NOT NULL,
    ts BIGINT NOT NULL,
    settlement TEXT NOT NULL REFERENCES settlements (id),
    charge TEXT NOT NULL REFERENCES charges (id),
    memo TEXT NOT NULL
);

CREATE TABLE journal_entries (
    transfer TEXT NOT NULL REFERENCES journal_transfers (id),
    line BIGINT NOT NULL,
    ledger TEXT NOT NULL,
    book_account TEXT NOT NULL,
    debit TEXT NOT NULL,
    credit TEXT NOT NULL,
    PRIMARY KEY (transfer, line)
);

-- Statements of one settlement: per charged account (`account`) and per recipient
-- (`payout`; subject `platform` or an account id), rendered once, as booked.
CREATE TABLE statements (
    settlement TEXT NOT NULL REFERENCES settlements (id),
    kind TEXT NOT NULL CHECK (kind IN ('account', 'payout')),
    subject TEXT NOT NULL,
    body_json TEXT NOT NULL,
    body_csv TEXT NOT NULL,
    PRIMARY KEY (settlement, kind, subject)
);
