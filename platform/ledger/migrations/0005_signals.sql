-- Signals from outside: a secret per bot for its webhook, and the signals received.

-- A bot's signal secret: never the secret itself; `secret_hash` is the hex SHA-256 of
-- it (compared with the secret a body carries, and the HMAC key of a signed request).
-- `bot` is `namespace/name`; a new secret for a bot replaces its old one (rotation).
CREATE TABLE signal_secrets (
    bot TEXT PRIMARY KEY,
    account TEXT NOT NULL REFERENCES accounts (id),
    secret_hash TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- Every signal accepted for a bot, by the sender's id (a repeat is the same signal; the
-- body hash tells a repeat from another signal under a used id). `seq` orders a bot's
-- signals as received, from 1: the worker fetches after the last it acknowledged.
-- `status` is `pending` until the worker acknowledges it, then `delivered`.
CREATE TABLE signals (
    bot TEXT NOT NULL,
    id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    account TEXT NOT NULL REFERENCES accounts (id),
    action TEXT NOT NULL CHECK (action IN ('enter', 'exit', 'flatten')),
    ts BIGINT NOT NULL,
    received_at BIGINT NOT NULL,
    body_hash TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'delivered')),
    delivered_at BIGINT,
    PRIMARY KEY (bot, id)
);
CREATE UNIQUE INDEX signals_by_bot_seq ON signals (bot, seq);
