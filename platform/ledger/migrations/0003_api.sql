-- The user API: API keys for programs, the nonces of their signed requests, and the
-- indexes its history and commission reads page through.

-- An API key: its secret is never stored; `signing_key` is SHA-256 of it (what requests
-- are signed with, see the API's README). `account` NULL with scope `admin`: a platform
-- admin's key (the one printed at first start). `revoked_at` NULL: in force.
CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    account TEXT REFERENCES accounts (id),
    scope TEXT NOT NULL CHECK (scope IN ('read', 'trade', 'admin')),
    name TEXT NOT NULL,
    signing_key TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX api_keys_by_account ON api_keys (account);

-- Nonces of signed requests inside the replay window: a second use is a replay.
CREATE TABLE api_nonces (
    key_id TEXT NOT NULL REFERENCES api_keys (id),
    nonce TEXT NOT NULL,
    ts BIGINT NOT NULL,
    PRIMARY KEY (key_id, nonce)
);
CREATE INDEX api_nonces_by_ts ON api_nonces (ts);

-- History and commissions, paged per bot and per account in time order.
CREATE INDEX fills_by_bot_ts ON fills (bot, ts, event_id);
CREATE INDEX orders_by_bot_submitted ON orders (bot, submitted_at);
CREATE INDEX charges_by_account_ts ON charges (account, ts, id);
