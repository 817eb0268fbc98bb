#!/usr/bin/python3
"""A real SMTP server for Cairn's tests and demo (Debian's python3-aiosmtpd).

STARTTLS required (or implicit TLS with --implicit-tls) with a certificate from a test CA,
AUTH LOGIN/PLAIN required after TLS, and every accepted message stored as one JSON file
in --dir: {"mail_from", "rcpt_tos", "tls", "login", "data"} (the raw message). Files are
written whole (a temporary name, then a rename), so a reader never sees half a message.

Run by scripts/services (the demo's server) and by the tests (each its own port and
folder). Stops on SIGTERM or SIGINT.
"""
import argparse
import asyncio
import json
import os
import signal
import ssl
import threading
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Store:
    def __init__(self, folder, refuse):
        self.folder = folder
        self.refuse = {a.lower() for a in refuse}

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() in self.refuse:
            return "550 5.1.1 <%s>: mailbox unavailable" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "tls": session.ssl is not None or server.transport.get_extra_info("ssl_object") is not None,
            "login": (session.auth_data.login.decode() if isinstance(session.auth_data, LoginPassword) else None),
            "data": envelope.content.decode("utf-8", "replace"),
        }
        name = "%d-%d" % (time.time_ns(), os.getpid())
        tmp = os.path.join(self.folder, "." + name + ".tmp")
        with open(tmp, "w") as f:
            json.dump(record, f)
        os.rename(tmp, os.path.join(self.folder, name + ".json"))
        return "250 2.0.0 Message accepted for delivery"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--dir", required=True)
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--user", required=True)
    p.add_argument("--password-file", required=True)
    p.add_argument("--implicit-tls", action="store_true")
    p.add_argument("--refuse", action="append", default=[], help="refuse this recipient (550)")
    a = p.parse_args()
    os.makedirs(a.dir, exist_ok=True)
    with open(a.password_file) as f:
        password = f.read().strip()

    def authenticate(server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == a.user.encode()
            and auth_data.password == password.encode()
        )
        # handled=False: aiosmtpd then answers 535 itself (its default, True, answers nothing).
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(a.cert, a.key)
    common = dict(authenticator=authenticate, auth_required=True)
    if a.implicit_tls:
        # TLS from the first byte: aiosmtpd does not count it as TLS for AUTH (only
        # STARTTLS), so AUTH is offered without that check.
        controller = Controller(Store(a.dir, a.refuse), hostname="127.0.0.1", port=a.port,
                                ssl_context=tls, server_hostname="localhost",
                                auth_require_tls=False, **common)
    else:
        controller = Controller(Store(a.dir, a.refuse), hostname="127.0.0.1", port=a.port,
                                tls_context=tls, require_starttls=True, server_hostname="localhost",
                                auth_require_tls=True, **common)
    controller.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    print("smtp_server: listening on 127.0.0.1:%d (%s), storing in %s"
          % (a.port, "implicit TLS" if a.implicit_tls else "STARTTLS", a.dir), flush=True)
    stop.wait()
    controller.stop()


if __name__ == "__main__":
    main()
