"""A real SMTP server (aiosmtpd) for the notification tests.

Usage: smtp_server.py CERT KEY LOGIN PASSWORD
STARTTLS is required (with CERT/KEY), AUTH PLAIN/LOGIN only after it, checked against
LOGIN/PASSWORD. Prints `READY <port>` once it accepts connections, then one JSON line per
message received: {"from", "to", "login", "data"}. Ends when stdin closes.
"""

import json
import socket
import ssl
import sys

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

cert, key, login, password = sys.argv[1:5]


class Handler:
    async def handle_DATA(self, server, session, envelope):
        user = session.auth_data.login.decode() if isinstance(session.auth_data, LoginPassword) else None
        print(
            json.dumps(
                {
                    "from": envelope.mail_from,
                    "to": envelope.rcpt_tos,
                    "login": user,
                    "data": envelope.content.decode("utf-8", "replace"),
                }
            ),
            flush=True,
        )
        return "250 OK"


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login.decode() == login
        and auth_data.password.decode() == password
    )
    return AuthResult(success=ok, auth_data=auth_data if ok else None)


ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
ctx.load_cert_chain(cert, key)
with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
controller = Controller(
    Handler(),
    hostname="127.0.0.1",
    port=port,
    server_hostname="localhost",
    tls_context=ctx,
    require_starttls=True,
    authenticator=authenticator,
    auth_require_tls=True,
    auth_required=True,
)
controller.start()
print(f"READY {port}", flush=True)
sys.stdin.read()
controller.stop()
