#!/usr/bin/env python3
"""A receiver of the Contact Center AI Platform's chat webhooks, for endpoints of format `ccai`.

It verifies each delivery the way the platform's published sample does ("Chat platform API
Guide", cloud.google.com/contact-center/ccai-platform/docs/chat-platform-api-guide, the Ruby
`authorize_webhook`), not with this project's code:

  - the headers `X-Signature` and `X-Signature-Timestamp` must both be present;
  - `X-Signature` is `primary=<sig>`, or `primary=<sig> secondary=<sig>` when the tenant has two
    secrets (the sample's `scan(/primary=(.*)\\ssecondary=(.*)/)`);
  - each <sig> is the Base64 of the SHA-256 HMAC, keyed with a webhook secret, of the
    `X-Signature-Timestamp` value concatenated with the request's JSON body;
  - the request is authorized when the primary signature matches under the primary secret or the
    secondary signature under the secondary secret.

Verified deliveries are answered 204 and printed one a line; others 401 and printed as REJECTED.

    python3 scripts/ccai_receiver.py --port 9001 --primary whsec_... [--secondary whsec_...]

--secrets-file names a file whose first line is the primary secret and second (optional) the
secondary, read again for every delivery. --log appends each delivery as a JSON line.
"""

import argparse
import base64
import hashlib
import hmac
import json
import re
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SIGNATURES = re.compile(r"primary=(.*)\ssecondary=(.*)")


def signature(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode("utf-8"), timestamp.encode("utf-8") + body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def authorize(headers: dict, body: bytes, primary_secret: str, secondary_secret: str | None) -> list[str]:
    """The secrets ("primary", "secondary") whose signature the request carries; empty: refused."""
    signature_header = headers.get("x-signature")
    timestamp_header = headers.get("x-signature-timestamp")
    if not signature_header or not timestamp_header:
        return []
    both = SIGNATURES.findall(signature_header)
    if both:
        primary_signature, secondary_signature = both[0]
    else:
        # A tenant with one secret: the header is just "primary=...".
        primary_signature, secondary_signature = signature_header.removeprefix("primary="), None
    passed = []
    if primary_secret and hmac.compare_digest(primary_signature, signature(primary_secret, timestamp_header, body)):
        passed.append("primary")
    if secondary_secret and secondary_signature is not None and hmac.compare_digest(
        secondary_signature, signature(secondary_secret, timestamp_header, body)
    ):
        passed.append("secondary")
    return passed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=9001)
    parser.add_argument("--primary", help="the primary webhook secret")
    parser.add_argument("--secondary", help="the secondary webhook secret")
    parser.add_argument("--secrets-file", help="primary secret on the first line, secondary on the second")
    parser.add_argument("--log", help="append each delivery here as a JSON line")
    args = parser.parse_args()

    def secrets() -> tuple[str, str | None]:
        found = [args.primary or "", args.secondary]
        if args.secrets_file:
            try:
                with open(args.secrets_file, encoding="utf-8") as f:
                    lines = [line.strip() for line in f if line.strip()]
                found = [lines[0] if lines else "", lines[1] if len(lines) > 1 else None]
            except FileNotFoundError:
                pass
        return found[0], found[1]

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (the standard library's name)
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            headers = {k.lower(): v for k, v in self.headers.items()}
            passed = authorize(headers, body, *secrets())
            try:
                event = json.loads(body)
            except ValueError:
                event = None
            record = {
                "received_at": time.time(),
                "event_id": headers.get("x-event-id"),
                "timestamp": headers.get("x-signature-timestamp"),
                "signature": headers.get("x-signature"),
                "verified_by": passed,
                "event": event,
            }
            if args.log:
                with open(args.log, "a", encoding="utf-8") as f:
                    f.write(json.dumps(record) + "\n")
            if not passed:
                print(f"REJECTED {headers.get('x-event-id')}: the signature does not verify", flush=True)
                self.send_response(401)
                self.end_headers()
                return
            kind = event.get("event_type") if isinstance(event, dict) else None
            chat = event.get("chat_id") if isinstance(event, dict) else None
            print(f"{kind:<24} chat {chat}  id {headers.get('x-event-id')}  verified ({', '.join(passed)})", flush=True)
            self.send_response(204)
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
