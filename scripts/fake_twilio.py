#!/usr/bin/env python3
"""A stand-in for Twilio's Messages API, for trying the service locally.

Answers POST /2010-04-01/Accounts/{sid}/Messages.json with 201 and a message sid in Twilio's own
form, `SM` and 32 lowercase hexadecimal digits, counting from 1 (SM000...001, SM000...002, ...:
`f"SM{n:032x}"`), as the service's strict callbacks require of every MessageSid, and appends each
request's form, as JSON, to the file given with --log. It checks the Basic credentials against
--sid and --token (401 otherwise). It sends nothing itself: no status callback and no inbound
message; whoever plays Twilio's callbacks (scripts/twilio-walkthrough.sh, the README) signs them
with the --token, names these sids as MessageSid and the --sid as AccountSid. Nothing leaves the
machine.

    python3 scripts/fake_twilio.py --port 8099 --sid AC123 --token secret --log /tmp/twilio.jsonl
"""

import argparse
import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8099)
    parser.add_argument("--sid", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--log", required=True)
    args = parser.parse_args()
    expected = "Basic " + base64.b64encode(f"{args.sid}:{args.token}".encode()).decode()
    lock = threading.Lock()
    count = [0]

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (the standard library's name)
            length = int(self.headers.get("Content-Length", "0"))
            pairs = parse_qsl(self.rfile.read(length).decode())
            form = dict(pairs)
            media = [value for name, value in pairs if name == "MediaUrl"]
            if self.path != f"/2010-04-01/Accounts/{args.sid}/Messages.json":
                return self.answer(404, {"code": 20404, "message": "The requested resource was not found"})
            if self.headers.get("Authorization") != expected:
                return self.answer(401, {"code": 20003, "message": "Authenticate"})
            with lock:
                count[0] += 1
                sid = f"SM{count[0]:032x}"
                with open(args.log, "a", encoding="utf-8") as log:
                    log.write(json.dumps({"sid": sid, "form": form, "media": media}) + "\n")
            self.answer(201, {"sid": sid, "status": "queued", "to": form.get("To"), "from": form.get("From")})

        def answer(self, status: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    print(f"fake Twilio on http://127.0.0.1:{server.server_port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
