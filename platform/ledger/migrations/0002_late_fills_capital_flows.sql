-- Version 2: fills recorded after their period was settled (charged in the next
-- settlement), capital added to or withdrawn from a running bot, and each charged
-- fill's trading fee as a line of its bot's trading charge.

-- A fill whose instant lies in a period its account's plan had already settled when it
-- was recorded (a worker's backlog delivered late). The next settlement of the plan
-- charges it, at the tier of its own day, and names itself in `charged_in`.
CREATE TABLE late_fills (
    event_id TEXT PRIMARY KEY REFERENCES fills (event_id),
    plan TEXT NOT NULL,
    account TEXT NOT NULL REFERENCES accounts (id),
    recorded_at BIGINT NOT NULL,
    charged_in TEXT REFERENCES settlements (id)
);
CREATE INDEX late_fills_by_plan_account ON late_fills (plan, account, charged_in);

-- Money added to (amount > 0) or withdrawn from (amount < 0) a bot while it runs, in the
-- bot's quote currency; the settlement moves the bot's high-water mark by it, so a
-- deposit is never charged as profit and a withdrawal never erases a loss carried forward.
CREATE TABLE capital_flows (
    id TEXT PRIMARY KEY,
    bot TEXT NOT NULL REFERENCES bots (bot),
    ts BIGINT NOT NULL,
    amount TEXT NOT NULL,
    currency TEXT NOT NULL,
    note TEXT NOT NULL,
    recorded_at BIGINT NOT NULL
);
CREATE INDEX capital_flows_by_bot_ts ON capital_flows (bot, ts);

-- The trading fee of every charged fill: a settlement books one trading charge per bot
-- (the sum of its fills' fees, distributed as the sum of their parts) and one line per
-- fill here. A fill is charged once: the key.
CREATE TABLE trading_fee_lines (
    fill TEXT PRIMARY KEY REFERENCES fills (event_id),
    charge TEXT NOT NULL REFERENCES charges (id),
    ts BIGINT NOT NULL,
    notional TEXT NOT NULL,
    liquidity TEXT NOT NULL CHECK (liquidity IN ('maker', 'taker')),
    volume_30d TEXT NOT NULL,
    tier BIGINT NOT NULL,
    rate TEXT NOT NULL,
    fee TEXT NOT NULL,
    late BIGINT NOT NULL CHECK (late IN (0, 1))
);
CREATE INDEX trading_fee_lines_by_charge ON trading_fee_lines (charge);
