"""A small real SMTP server for tests (aiosmtpd is not among the dependencies): a thread
serving the protocol's few commands smtplib uses, keeping every message it accepted. Addresses
at REFUSED_DOMAIN are refused for good (550), as a mail server refuses an address that does
not exist."""

import socketserver
import threading
from contextlib import contextmanager
from email import message_from_bytes, policy

REFUSED_DOMAIN = "refused.example"


class _Handler(socketserver.StreamRequestHandler):
    def _reply(self, line: str):
        self.wfile.write(f"{line}\r\n".encode())

    def handle(self):
        self._reply("220 test SMTP ready")
        sender, recipients = None, []
        while True:
            line = self.rfile.readline()
            if not line:
                return
            command = line.decode(errors="replace").strip()
            verb = command.split(" ", 1)[0].upper()
            if verb in ("EHLO", "HELO"):
                self._reply("250 test")
            elif verb == "MAIL":
                sender, recipients = command[10:].strip(), []
                self._reply("250 OK")
            elif verb == "RCPT":
                address = command.split(":", 1)[1].strip().strip("<>")
                if address.lower().endswith("@" + REFUSED_DOMAIN):
                    self._reply("550 5.1.1 No such user here")
                else:
                    recipients.append(address)
                    self._reply("250 OK")
            elif verb == "DATA":
                self._reply("354 End data with <CR><LF>.<CR><LF>")
                data = []
                while True:
                    chunk = self.rfile.readline()
                    if chunk in (b".\r\n", b".\n", b""):
                        break
                    data.append(chunk[1:] if chunk.startswith(b"..") else chunk)
                self.server.messages.append(
                    (sender, list(recipients), message_from_bytes(b"".join(data), policy=policy.default))
                )
                self._reply("250 OK queued")
            elif verb == "QUIT":
                self._reply("221 Bye")
                return
            elif verb in ("RSET", "NOOP"):
                self._reply("250 OK")
            else:
                self._reply("502 Command not implemented")


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


@contextmanager
def smtp_server():
    """A running server on a free local port: yields it (`.port`, `.messages`: (sender,
    recipients, email.message.EmailMessage) for each accepted message)."""
    server = _Server(("127.0.0.1", 0), _Handler)
    server.messages = []
    server.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
