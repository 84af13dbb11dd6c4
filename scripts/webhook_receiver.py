#!/usr/bin/env python3
"""A tiny receiver of the service's event webhooks, for trying them out and for CI.

Every delivery is checked with the published `standardwebhooks` library (pip install
standardwebhooks), the Standard Webhooks reference implementation, not with this project's
code: a delivery it cannot verify is answered 401 and printed as REJECTED. Verified events are
printed one a line as they arrive, and answered 204.

    python3 scripts/webhook_receiver.py --port 9000 --secret whsec_...

--secret may be given more than once (say, the old and the new secret during a rotation); a
delivery passes when any of them verifies it, and the log says which did. --secrets-file names a
file of secrets, one a line, read again for every delivery (a script can write it after it has
registered the endpoint). --log appends each delivery as a JSON line. --answer makes the
receiver answer a status of your choosing instead (try 500 to watch the retries, 410 to see the
endpoint disabled).
"""

import argparse
import json
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

try:
    from standardwebhooks.webhooks import Webhook, WebhookVerificationError
except ImportError:
    sys.exit("webhook_receiver.py needs the standardwebhooks library: pip install standardwebhooks")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=9000)
    parser.add_argument("--secret", action="append", default=[], help="a whsec_ secret; repeatable")
    parser.add_argument("--secrets-file", help="a file of secrets, one a line, read for every delivery")
    parser.add_argument("--log", help="append each delivery here as a JSON line")
    parser.add_argument("--answer", type=int, default=204, help="the status verified deliveries get")
    args = parser.parse_args()

    def secrets() -> list[str]:
        found = list(args.secret)
        if args.secrets_file:
            try:
                with open(args.secrets_file, encoding="utf-8") as f:
                    found += [line.strip() for line in f if line.strip()]
            except FileNotFoundError:
                pass
        return found

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (the standard library's name)
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            headers = {k.lower(): v for k, v in self.headers.items()}
            verified_by = []
            for index, secret in enumerate(secrets()):
                try:
                    Webhook(secret).verify(body, headers)
                    verified_by.append(index)
                except WebhookVerificationError:
                    pass
            try:
                event = json.loads(body)
            except ValueError:
                event = None
            record = {
                "received_at": time.time(),
                "webhook_id": headers.get("webhook-id"),
                "webhook_timestamp": headers.get("webhook-timestamp"),
                "signatures": len((headers.get("webhook-signature") or "").split()),
                "verified_by": verified_by,
                "event": event,
            }
            if args.log:
                with open(args.log, "a", encoding="utf-8") as f:
                    f.write(json.dumps(record) + "\n")
            if not verified_by:
                print(f"REJECTED {headers.get('webhook-id')}: no secret verifies its signature", flush=True)
                self.send_response(401)
                self.end_headers()
                return
            kind = event.get("type") if isinstance(event, dict) else None
            data = event.get("data", {}) if isinstance(event, dict) else {}
            about = data.get("chat", {}).get("id") if "chat" in data else data.get("chat_id")
            print(f"{kind:<24} chat {about}  id {headers.get('webhook-id')}  verified", flush=True)
            self.send_response(args.answer)
            self.end_headers()

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    print(f"listening on http://127.0.0.1:{args.port}/", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
