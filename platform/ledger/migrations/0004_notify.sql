-- Version 4: notifications. An account's channels with their routing rules, the notices
-- of the events that notify, and the outbox: one row per (event, channel), written in
-- the transaction that records the event, worked through by the dispatcher.

-- A channel: `settings` is its JSON without the secret; `secret` is the secret (webhook
-- signing secret, Telegram bot token, SMTP password) sealed with AES-256-GCM under the
-- platform's notification key — never returned by the API. `rules`: JSON, the mode
-- (on, silent, off) of each event kind; a kind not named is on. `deleted_at` NULL: live.
CREATE TABLE notify_channels (
    id TEXT PRIMARY KEY,
    account TEXT NOT NULL REFERENCES accounts (id),
    kind TEXT NOT NULL CHECK (kind IN ('webhook', 'telegram', 'email')),
    name TEXT NOT NULL,
    settings TEXT NOT NULL,
    secret TEXT NOT NULL,
    rules TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    deleted_at BIGINT
);
CREATE INDEX notify_channels_by_account ON notify_channels (account);

-- What a notification says: the event's id (a bot's event, or a settlement's statement)
-- and the notice as JSON. The key makes a re-recorded event notify nothing twice.
CREATE TABLE notify_notices (
    event_id TEXT PRIMARY KEY,
    account TEXT NOT NULL REFERENCES accounts (id),
    kind TEXT NOT NULL,
    ts BIGINT NOT NULL,
    body TEXT NOT NULL
);

-- One delivery of a notice to a channel. `id`: hex SHA-256 of the pair, also the
-- receiver's idempotency key. `status`: pending (due at `next_attempt_at`), sending
-- (claimed until `next_attempt_at`: a dispatcher that died lets it come due again),
-- delivered, dead (dead-lettered after the last attempt), canceled (its channel deleted).
CREATE TABLE notify_outbox (
    id TEXT PRIMARY KEY,
    event_id TEXT NOT NULL REFERENCES notify_notices (event_id),
    channel_id TEXT NOT NULL REFERENCES notify_channels (id),
    account TEXT NOT NULL REFERENCES accounts (id),
    kind TEXT NOT NULL,
    silent BIGINT NOT NULL CHECK (silent IN (0, 1)),
    status TEXT NOT NULL CHECK (status IN ('pending', 'sending', 'delivered', 'dead', 'canceled')),
    attempts BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    delivered_at BIGINT,
    UNIQUE (event_id, channel_id)
);
CREATE INDEX notify_outbox_due ON notify_outbox (status, next_attempt_at);
CREATE INDEX notify_outbox_by_account ON notify_outbox (account, created_at, id);
