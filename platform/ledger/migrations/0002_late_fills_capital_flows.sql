-- Version 2: fills recorded after their period was settled (charged in the next
-- settlement), and capital added to or withdrawn from a running bot.

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
