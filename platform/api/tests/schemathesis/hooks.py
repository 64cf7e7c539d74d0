"""Schemathesis hooks for Tradewind's API: requests signed with an API key.

Schemathesis sends the key's id in the `tw-key` header (the document's `apiKey`
security scheme, set by the auth provider below); the signer then adds `tw-timestamp`,
`tw-nonce` and `tw-signature` over the request exactly as it leaves (method, path, raw
query, body bytes). A request whose `tw-key` a check removed or replaced goes unsigned,
so the server's refusal of it is what the check sees.

Environment: TW_KEY_ID, TW_KEY_SECRET (the key and the secret the API handed out once).
"""

import hashlib
import hmac
import os
import secrets
import time

import requests
import schemathesis

KEY_ID = os.environ["TW_KEY_ID"]
# What the server stores and signs with: the secret's SHA-256 (see the README).
SIGNING_KEY = hashlib.sha256(os.environ["TW_KEY_SECRET"].encode()).digest()


class Sign(requests.auth.AuthBase):
    """Signs a prepared request as the README's "Signed requests" says."""

    def __call__(self, r):
        if r.headers.get("tw-key") != KEY_ID:
            return r
        body = r.body or b""
        if isinstance(body, str):
            body = body.encode()
        path, _, query = r.path_url.partition("?")
        ts = str(int(time.time()))
        nonce = secrets.token_hex(16)
        message = "\n".join(
            [ts, nonce, r.method, path, query, hashlib.sha256(body).hexdigest()]
        )
        r.headers["tw-timestamp"] = ts
        r.headers["tw-nonce"] = nonce
        r.headers["tw-signature"] = hmac.new(
            SIGNING_KEY, message.encode(), hashlib.sha256
        ).hexdigest()
        return r


@schemathesis.auth()
class TradewindKey:
    """The key's id in `tw-key`, the header the document's `apiKey` scheme names."""

    def get(self, case, ctx):
        return KEY_ID

    def set(self, case, data, ctx):
        case.headers = case.headers or {}
        case.headers["tw-key"] = data


@schemathesis.hook
def before_call(context, case, kwargs):
    kwargs["auth"] = Sign()
