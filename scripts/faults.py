#!/usr/bin/env python3
"""The helper of scripts/faults.sh (read that script's header first): a fake webhook provider,
and the fault-injection run itself (load, faults on a schedule, then the checks). Standard
library only; everything on 127.0.0.1.

    faults.py provider --port P          (SMS_WEBHOOK_SECRET in the environment)
        Receives the service's signed webhook POSTs, answers 200 {"provider_message_id": ...},
        and counts every POST per message id; GET /counts answers what it saw, as JSON.

    faults.py run --bin BIN --work DIR --ports P1,P2,P3 --redis-port P --redis-pid PID \\
                  --provider-port P --pg-url URL --db NAME [--clients 12] [--think-ms 100]
        FAULTS_BASIC in the environment: base64 of `subdomain:api-token`. The instances were
        started by faults.sh, their pids in DIR/sms-I.pid (I from 0); this process kills and
        restarts them (rewriting those files, so the script's clean-up finds the new ones),
        freezes Redis and cuts the database's connections, then checks. Prints every figure and
        `faults: N passed, M failed`; exits 1 when a check failed.
"""

import argparse
import base64
import hashlib
import hmac
import http.client
import itertools
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote

# --- what the run holds the service to -------------------------------------------------------

LOAD_SECS = 40.0  # how long new logical requests start
CLIENT_TIMEOUT = 5.0  # an attempt that takes longer is abandoned and retried elsewhere
CLIENT_BUDGET = 60.0  # a logical request is retried for at most this long
FROZEN_ANSWER_MAX = 2.5  # attempts started while Redis is stopped answer within this
RECOVERY_MAX = 5.0  # after a fault, every instance that was not killed answers a 200 within this
DELIVERY_LEASE = 60.0  # the delivery worker's claim on a message (not configurable): a message
# claimed by a killed instance, or whose outcome could not be recorded, is sent again after it
VICTIMS = 6  # requests sent to an instance just before it is killed, so some die mid-request
FRESH_LOCK_MS = 1000  # a pending lock younger than this may belong to a request under way
RUN_LIMIT = 240.0  # the whole run, load to last check; past it the run gives up

# The fault schedule, seconds from the start of the load. Faults do not overlap, so each one's
# recovery is measured on its own; each ends well before the load does.
SCHEDULE = (
    (4.0, "kill", 0),
    (8.0, "restart", 0),
    (12.0, "kill", 1),
    (16.0, "restart", 1),
    (20.0, "redis-stop", None),
    (24.0, "redis-cont", None),
    (27.0, "scan", "Redis freeze"),  # 3 s after Redis resumes: before a 5 s pending lock expires
    (28.0, "pg-terminate", None),
    (31.0, "scan", "PostgreSQL cut 1"),
    (34.0, "pg-terminate", None),
    (37.0, "scan", "PostgreSQL cut 2"),
)

SEND_PATH = "/apps/api/v1/sms"
OUTBOUND_NUMBER = "+1 628-555-0199"
ACTIVE = {"selecting", "queued", "assigned"}
# Valid US area codes (libphonenumber's US fixed-line pattern is these followed by [2-9]\d{6}).
AREA_CODES = ("415", "650", "510", "408", "707", "925", "209", "212", "312", "646", "718")


def consumer_number(index: int) -> tuple:
    """The index-th consumer of a run, as (E.164, the form the request spells it in): area
    codes in turn, then exchanges from 201 up and every line; never 555, never the outbound
    number's area code."""
    area = AREA_CODES[index % len(AREA_CODES)]
    rest = index // len(AREA_CODES)
    exchange, line = 201 + rest // 10000, rest % 10000
    return f"+1{area}{exchange:03d}{line:04d}", f"+1 {area}-{exchange:03d}-{line:04d}"


def signature(secret: bytes, body: bytes) -> str:
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


# --- the fake provider -----------------------------------------------------------------------


def serve_provider(port: int) -> None:
    key = os.environ["SMS_WEBHOOK_SECRET"].encode()
    lock = threading.Lock()
    seen = {"posts": 0, "bad_signatures": 0, "malformed": 0, "messages": {}}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:  # noqa: N802 (the standard library's name)
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            signed = hmac.compare_digest(self.headers.get("X-Signature-256", ""), signature(key, raw))
            try:
                payload = json.loads(raw)
                message_id = int(payload["message_id"])
                text, to = str(payload["body"]), str(payload["to"])
            except (ValueError, KeyError, TypeError):
                payload = None
            with lock:
                seen["posts"] += 1
                seen["bad_signatures"] += 0 if signed else 1
                if payload is None:
                    seen["malformed"] += 1
                    count = 0
                else:
                    entry = seen["messages"].setdefault(str(message_id), {"count": 0, "body": text, "to": to})
                    entry["count"] += 1
                    count = entry["count"]
            # Always 200: a refusal would only fail the message; the checks count what came.
            self.answer(200, {"provider_message_id": f"fake-{payload and message_id}-{count}"})

        def do_GET(self) -> None:  # noqa: N802
            if self.path != "/counts":
                return self.answer(404, {"message": "not found"})
            with lock:
                snapshot = json.loads(json.dumps(seen))
            self.answer(200, snapshot)

        def answer(self, status: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    print(f"fake provider on http://127.0.0.1:{server.server_port}", flush=True)
    server.serve_forever()


# --- HTTP ------------------------------------------------------------------------------------


class Http:
    """Keep-alive connections to the instances, one set per thread. A connection that the
    server closed while it sat idle is reopened once; any other fault is the caller's."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.local = threading.local()

    def request(self, port: int, method: str, path: str, body: bytes = None, headers: dict = None):
        conns = self.local.__dict__.setdefault("conns", {})
        for second in (False, True):
            conn = conns.pop(port, None)
            reused = conn is not None
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=self.timeout)
            try:
                conn.request(method, path, body=body, headers=headers or {})
                response = conn.getresponse()
                data = response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                conn.close()
                if reused and not second:
                    continue
                raise
            except BaseException:
                conn.close()
                raise
            if response.will_close:
                conn.close()
            else:
                conns[port] = conn
            return response.status, {k.lower(): v for k, v in response.getheaders()}, data
        raise AssertionError("unreachable")


def parse_json(data: bytes):
    try:
        return json.loads(data) if data else None
    except ValueError:
        return None


# --- the run's records -----------------------------------------------------------------------


@dataclass
class Attempt:
    port: int
    start: float
    end: float
    outcome: object  # the HTTP status, or the name of the connection fault
    replayed: bool = False

    @property
    def latency(self) -> float:
        return self.end - self.start


@dataclass
class Request:
    """One logical request: one Idempotency-Key, one body, retried until it is answered."""

    index: int
    number: str  # E.164
    key: str
    text: str
    body: bytes
    start: float
    attempts: list = field(default_factory=list)
    status: object = None  # the last attempt's outcome
    answer: str = ""
    replayed: bool = False
    gave_up: bool = False
    first_message_id: int = None

    @property
    def chat_id(self):
        body = parse_json(self.answer.encode()) if self.status == 200 else None
        return body.get("id") if isinstance(body, dict) else None

    def final(self) -> str:
        """The final answer in a few words: `200`, `409 key in progress (gave up)`, ..."""
        words = str(self.status)
        message = (parse_json(self.answer.encode()) or {}) if isinstance(self.status, int) else {}
        text = message.get("message", "") if isinstance(message, dict) else ""
        if self.status == 409:
            words += " key in progress" if "Idempotency-Key" in text else " consumer busy"
        elif self.status == 400:
            words += f" ({text[:60]})"
        return words + (" (gave up)" if self.gave_up else "")


@dataclass
class Fault:
    name: str
    kind: str  # kill, redis, pg
    start: float
    end: float
    port: int = None  # the instance killed
    detail: str = ""


def retryable(outcome) -> bool:
    return not isinstance(outcome, int) or outcome >= 500 or outcome == 409


def pick(values: list, q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] if values else 0.0


class Run:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.ports = [int(p) for p in args.ports.split(",")]
        self.http = Http(CLIENT_TIMEOUT)
        self.auth = {"Authorization": "Basic " + os.environ["FAULTS_BASIC"]}
        self.pids = [int(open(self.pid_file(i)).read()) for i in range(len(self.ports))]
        self.lock = threading.Lock()
        self.counter = itertools.count()
        self.turn = itertools.count()
        self.requests = []
        self.unavailable = []  # (time, E.164) of every 503 answered
        self.faults = []
        self.scans = []
        self.restarts = []  # (instance index, launched at, ready at or None)
        self.schedule_errors = []
        self.victims = []  # the threads of the requests sent just before a kill
        self.results = []  # (passed, text)
        self.t0 = time.monotonic()
        self.run_id = f"{os.getpid()}-{int(time.time())}"

    # -- time, output --

    def now(self) -> float:
        return time.monotonic() - self.t0

    def progress(self, text: str) -> None:
        print(f"==> [t={self.now():6.1f} s] {text}", file=sys.stderr, flush=True)

    def check(self, passed: bool, text: str, details: list = ()) -> None:
        self.results.append(passed)
        print(f"{'PASS' if passed else 'FAIL'}: {text}", flush=True)
        for line in details:
            print(f"      {line}", flush=True)

    def pid_file(self, i: int) -> str:
        return os.path.join(self.args.work, f"sms-{i}.pid")

    # -- the load --

    def new_request(self) -> Request:
        index = next(self.counter)
        number, spelled = consumer_number(index)
        text = f"fault run {self.run_id}, request {index}"
        body = json.dumps({
            "chat_type": "Messaging (SMS)",
            "end_user_number": spelled,
            "outbound_number": OUTBOUND_NUMBER,
            "message": text,
        }).encode()
        request = Request(index, number, f"faults-{self.run_id}-{index}", text, body, self.now())
        with self.lock:
            self.requests.append(request)
        return request

    def post(self, port: int, key: str, body: bytes) -> tuple:
        """One attempt: (Attempt, body text)."""
        headers = dict(self.auth, **{"Content-Type": "application/json", "Idempotency-Key": key})
        start = self.now()
        try:
            status, answer_headers, data = self.http.request(port, "POST", SEND_PATH, body, headers)
            outcome, replayed = status, answer_headers.get("idempotent-replayed") == "true"
        except (OSError, http.client.HTTPException) as e:
            outcome, replayed, data = type(e).__name__, False, b""
        return Attempt(port, start, self.now(), outcome, replayed), data.decode(errors="replace")

    def send(self, request: Request, rng: random.Random, first_port: int = None) -> None:
        """Retries the same request (same key, same body) on another instance after a
        connection fault, a timeout, a 5xx or a 409, with a short backoff, until it is answered
        otherwise or the budget is spent."""
        deadline = request.start + CLIENT_BUDGET
        port, backoff = first_port or rng.choice(self.ports), 0.05
        while True:
            attempt, answer = self.post(port, request.key, request.body)
            request.attempts.append(attempt)
            request.status, request.answer, request.replayed = attempt.outcome, answer, attempt.replayed
            if attempt.outcome == 503:
                with self.lock:
                    self.unavailable.append((attempt.end, request.number))
            if not retryable(attempt.outcome):
                return
            if self.now() + backoff >= deadline:
                request.gave_up = True
                return
            time.sleep(backoff)
            backoff = min(backoff * 2, 0.5)
            port = rng.choice([p for p in self.ports if p != port])

    def client(self, seed: int) -> None:
        rng = random.Random(seed)
        while self.now() < LOAD_SECS:
            self.send(self.new_request(), rng)
            time.sleep(self.args.think_ms / 1000)

    # -- the faults --

    def run_schedule(self) -> None:
        for at, kind, arg in SCHEDULE:
            delay = at - self.now()
            if delay > 0:
                time.sleep(delay)
            try:
                {
                    "kill": self.kill,
                    "restart": self.restart,
                    "redis-stop": self.stop_redis,
                    "redis-cont": self.resume_redis,
                    "pg-terminate": self.cut_database,
                    "scan": self.scan_locks,
                }[kind](arg)
            except Exception as e:  # noqa: BLE001 (any fault of the schedule fails the run)
                self.schedule_errors.append(f"t={at}: {kind}: {e!r}")
                self.progress(f"fault step {kind} failed: {e!r}")

    def kill(self, i: int) -> None:
        """SIGKILL, a few milliseconds after sending the instance a handful of requests of its
        own (ordinary logical requests, retried like the others), so that some die mid-request:
        holding a consumer's lock, an Idempotency-Key, an uncommitted or unanswered chat."""
        for n in range(VICTIMS):
            victim = threading.Thread(target=self.send, args=(self.new_request(), random.Random(1000 + n), self.ports[i]),
                                      daemon=True)
            victim.start()
            self.victims.append(victim)
            time.sleep(0.001)
        time.sleep(0.002)
        os.kill(self.pids[i], signal.SIGKILL)
        self.faults.append(Fault(f"kill -9 instance {i + 1} (:{self.ports[i]})", "kill", self.now(), self.now(),
                                 port=self.ports[i]))
        self.progress(f"killed instance {i + 1} (pid {self.pids[i]}, port {self.ports[i]})")

    def restart(self, i: int) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("FAULTS_")}
        env["SMS_BIND"] = f"127.0.0.1:{self.ports[i]}"
        base = os.path.join(self.args.work, f"sms-{i}")
        with open(base + ".out", "ab") as out, open(base + ".err", "ab") as err:
            process = subprocess.Popen([self.args.bin], env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err)
        self.pids[i] = process.pid
        with open(self.pid_file(i), "w") as f:
            f.write(f"{process.pid}\n")
        launched = self.now()
        fault = next(f for f in reversed(self.faults) if f.kind == "kill" and f.port == self.ports[i])
        fault.end = launched
        record = [i, launched, None]
        self.restarts.append(record)
        self.progress(f"restarted instance {i + 1} (pid {process.pid})")

        def wait_ready() -> None:
            while self.now() < launched + 15:
                try:
                    if self.http.request(self.ports[i], "GET", "/readyz")[0] == 200:
                        record[2] = self.now()
                        return
                except (OSError, http.client.HTTPException):
                    pass
                time.sleep(0.05)

        threading.Thread(target=wait_ready, daemon=True).start()

    def stop_redis(self, _: object) -> None:
        os.kill(self.args.redis_pid, signal.SIGSTOP)
        self.faults.append(Fault("kill -STOP Redis for 4 s", "redis", self.now(), float("inf")))
        self.progress("Redis stopped")

    def resume_redis(self, _: object) -> None:
        os.kill(self.args.redis_pid, signal.SIGCONT)
        next(f for f in self.faults if f.kind == "redis").end = self.now()
        self.progress("Redis resumed")

    def cut_database(self, _: object) -> None:
        start = self.now()
        sql = ("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
               f"WHERE datname = '{self.args.db}' AND pid <> pg_backend_pid()")
        done = subprocess.run(["psql", self.args.pg_url, "-Atqc", sql], capture_output=True, text=True, timeout=10)
        if done.returncode != 0:
            raise RuntimeError(f"psql: {done.stderr.strip()}")
        n = sum(1 for f in self.faults if f.kind == "pg") + 1
        self.faults.append(Fault(f"pg_terminate_backend #{n}", "pg", start, self.now(),
                                 detail=f"{done.stdout.strip()} connections terminated"))
        self.progress(f"terminated {done.stdout.strip()} PostgreSQL connections")

    def redis(self, *command: str) -> str:
        done = subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", str(self.args.redis_port), *command],
                              capture_output=True, text=True, timeout=10)
        if done.returncode != 0:
            raise RuntimeError(f"redis-cli {command[0]}: {done.stderr.strip()}")
        return done.stdout

    def scan_locks(self, label: str) -> None:
        """A 503 leaves no lock: for every consumer answered 503 since the fault began, a session
        lock still in Redis must be its chat's (the consumer has an active chat) or one taken a
        moment ago by a request under way (younger than FRESH_LOCK_MS); anything else is a lock
        the 503 left behind."""
        fault = self.faults[-1]
        at = self.now()
        with self.lock:
            numbers = {number for t, number in self.unavailable if t >= fault.start}
        held = {}
        for key in self.redis("--scan", "--pattern", "sms:session:*").split():
            held[key.rsplit(":", 1)[-1]] = key
        pending_ms = int(self.args.pending_ttl * 1000)
        fresh, chat_locks, leaked = 0, 0, []
        for number in sorted(numbers & held.keys()):
            pttl = int(self.redis("PTTL", held[number]).strip() or "-2")
            if pttl == -2:  # gone since the scan
                continue
            if pttl > pending_ms:
                chat_locks += 1
                continue
            age = pending_ms - pttl if pttl >= 0 else None  # -1: no expiry at all
            if age is not None and age < FRESH_LOCK_MS:
                fresh += 1
                continue
            if self.active_chats(number):
                chat_locks += 1
            else:
                leaked.append(f"{held[number]} ({'no TTL' if age is None else f'set {age} ms ago'}), no active chat")
        self.scans.append({"label": label, "fault": fault.name, "at": at, "since": fault.start,
                           "consumers": len(numbers), "locked": len(numbers & held.keys()),
                           "chat_locks": chat_locks, "fresh": fresh, "leaked": leaked})
        self.progress(f"lock scan after {label}: {len(numbers)} consumers answered 503, {len(leaked)} leaked locks")

    # -- reading back through the API --

    def get(self, path: str) -> tuple:
        """GET on the instances in turn, over transient faults: (status, headers, JSON)."""
        for _ in range(4):
            port = self.ports[next(self.turn) % len(self.ports)]
            try:
                status, headers, data = self.http.request(port, "GET", path, headers=self.auth)
            except (OSError, http.client.HTTPException):
                time.sleep(0.2)
                continue
            if status >= 500:
                time.sleep(0.2)
                continue
            return status, headers, parse_json(data)
        return None, {}, None

    def chats_of(self, number: str):
        status, _, chats = self.get(f"/apps/api/v1/chats?end_user_number={quote(number)}&per=100")
        return chats if status == 200 and isinstance(chats, list) else None

    def active_chats(self, number: str) -> list:
        return [c for c in (self.chats_of(number) or []) if c.get("status") in ACTIVE]

    # -- the run --

    def go(self) -> int:
        watchdog = threading.Timer(RUN_LIMIT, self.give_up)
        watchdog.daemon = True
        watchdog.start()
        try:
            return self.load_and_check()
        finally:
            try:
                os.kill(self.args.redis_pid, signal.SIGCONT)
            except OSError:
                pass

    def give_up(self) -> None:
        print(f"faults: the run took over {RUN_LIMIT:.0f} s; giving up", flush=True)
        try:
            os.kill(self.args.redis_pid, signal.SIGCONT)
        except OSError:
            pass
        print(f"faults: {sum(self.results)} passed, {len(self.results) - sum(self.results) + 1} failed", flush=True)
        os._exit(1)

    def load_and_check(self) -> int:
        self.t0 = time.monotonic()
        self.progress(f"load: {self.args.clients} clients for {LOAD_SECS:.0f} s on ports {self.ports}")
        clients = [threading.Thread(target=self.client, args=(seed,), daemon=True) for seed in range(self.args.clients)]
        for t in clients:
            t.start()
        schedule = threading.Thread(target=self.run_schedule, daemon=True)
        schedule.start()
        schedule.join()
        for t in clients + self.victims:
            t.join(timeout=max(0.0, LOAD_SECS + CLIENT_BUDGET + CLIENT_TIMEOUT + 5 - self.now()))
        drained = self.now()
        self.progress("load done; verifying")
        with open(os.path.join(self.args.work, "requests.jsonl"), "w") as log:
            for r in self.requests:
                log.write(json.dumps({
                    "index": r.index, "number": r.number, "key": r.key, "status": r.status, "answer": r.answer,
                    "replayed": r.replayed, "gave_up": r.gave_up,
                    "attempts": [[a.port, round(a.start, 3), round(a.latency, 3), a.outcome] for a in r.attempts],
                }) + "\n")

        self.report_load(drained)
        acked = [r for r in self.requests if r.status == 200]
        self.check_acknowledged(acked)
        lists = self.check_keys()
        # Re-sending waits until every pending lock a fault could have left has expired.
        last_end = max((f.end for f in self.faults), default=0.0)
        wait = last_end + self.args.pending_ttl + 2.0 - self.now()
        if wait > 0:
            time.sleep(wait)
        self.check_not_blocked()
        self.check_one_active(lists)
        self.check_provider(acked)
        self.check_frozen_latency()
        self.check_recovery()
        self.check_leaks()
        self.check(not self.schedule_errors and all(r[2] is not None for r in self.restarts),
                   f"every fault was injected as scheduled ({len(self.faults)} faults)",
                   self.schedule_errors + [f"instance {i + 1} never answered /readyz after its restart"
                                           for i, _, ready in self.restarts if ready is None])
        passed = sum(self.results)
        failed = len(self.results) - passed
        if failed:
            self.show_logs()
        print(f"faults: {passed} passed, {failed} failed", flush=True)
        return 1 if failed else 0

    def show_logs(self) -> None:
        for i, port in enumerate(self.ports):
            try:
                with open(os.path.join(self.args.work, f"sms-{i}.err"), errors="replace") as f:
                    lines = f.read().splitlines()[-8:]
            except OSError:
                continue
            if lines:
                print(f"--- instance {i + 1} (:{port}), the last lines of its log:")
                for line in lines:
                    print(f"    {line[:300]}")

    # -- the figures --

    def report_load(self, drained: float) -> None:
        attempts = [a for r in self.requests for a in r.attempts]
        finals = {}
        for r in self.requests:
            finals[r.final()] = finals.get(r.final(), 0) + 1
        latencies = [a.latency for a in attempts]
        print(f"load: {len(self.requests)} logical requests from {self.args.clients} clients in {LOAD_SECS:.0f} s, "
              f"{len(attempts)} attempts, drained at t={drained:.1f} s")
        print("  final answers: " + ", ".join(f"{k}: {v}" for k, v in sorted(finals.items(), key=lambda kv: -kv[1])))
        retried = [len(r.attempts) for r in self.requests if len(r.attempts) > 1]
        print(f"  retried: {len(retried)} requests (most attempts {max(retried, default=1)}); "
              f"answered by a replay: {sum(1 for r in self.requests if r.replayed)}")
        stuck = [r for r in self.requests if r.gave_up and r.final().startswith("409 key in progress")]
        after_5xx = [r for r in stuck if any(isinstance(a.outcome, int) and a.outcome >= 500 for a in r.attempts)]
        after_cut = [r for r in stuck if any(not isinstance(a.outcome, int) for a in r.attempts)]
        print(f"  gave up on '409 key in progress' (the key stays leased after its request dies): {len(stuck)}; "
              f"of them after a connection fault: {len(after_cut)}, after a 5xx answer of their own: {len(after_5xx)}")
        print(f"  attempt latency: p50 {pick(latencies, 0.5) * 1000:.1f} ms, p99 {pick(latencies, 0.99) * 1000:.1f} ms, "
              f"max {max(latencies, default=0) * 1000:.0f} ms")
        outcomes = {}
        for a in attempts:
            outcomes[str(a.outcome)] = outcomes.get(str(a.outcome), 0) + 1
        print("  attempt outcomes: " + ", ".join(f"{k}: {v}" for k, v in sorted(outcomes.items(), key=lambda kv: -kv[1])))
        for f in self.faults:
            if f.kind == "kill":
                cut = [r for r in self.requests
                       if any(a.port == f.port and a.start <= f.start <= a.end and not isinstance(a.outcome, int)
                              for a in r.attempts)]
                finals = {}
                for r in cut:
                    finals[r.final()] = finals.get(r.final(), 0) + 1
                f.detail = (f"{len(cut)} requests cut mid-flight, finally "
                            + (", ".join(f"{k}: {v}" for k, v in sorted(finals.items())) or "none"))
            print(f"  fault: {f.name} at t={f.start:.1f} s, over at t={f.end:.1f} s{'; ' + f.detail if f.detail else ''}")
        for i, launched, ready in self.restarts:
            first = self.first_200(self.ports[i], launched)
            print(f"  instance {i + 1} restarted at t={launched:.1f} s: /readyz after "
                  f"{'never' if ready is None else f'{ready - launched:.2f} s'}, its first 200 after "
                  f"{'none' if first is None else f'{first - launched:.2f} s'}")
        unexpected = [r for r in self.requests if r.status != 200 and not retryable(r.status)]
        per_instance = {p: sum(1 for r in self.requests for a in r.attempts if a.port == p and a.outcome == 200)
                        for p in self.ports}
        self.check(len(self.requests) >= 100 and all(per_instance.values()) and not unexpected,
                   f"the load ran: {len(self.requests)} logical requests, 200s per instance {per_instance}, "
                   f"{len(unexpected)} answered neither 200 nor a retryable status",
                   [f"{r.number} key {r.key}: {r.status} {r.answer[:160]}" for r in unexpected[:5]])

    def check_acknowledged(self, acked: list) -> None:
        self.progress(f"reading back {len(acked)} acknowledged chats")

        def read(r: Request) -> tuple:
            chat_id = r.chat_id
            if not isinstance(chat_id, int):
                return r, "answer without a chat id"
            status, _, chat = self.get(f"/apps/api/v1/chats/{chat_id}")
            if status != 200 or not isinstance(chat, dict) or chat.get("id") != chat_id:
                return r, f"GET /chats/{chat_id}: {status}"
            status, _, messages = self.get(f"/apps/api/v1/chats/{chat_id}/messages")
            if status != 200 or not isinstance(messages, list) or not messages:
                return r, f"GET /chats/{chat_id}/messages: {status}, {messages!r:.80}"
            first = messages[0]
            if first.get("direction") != "outbound" or first.get("body") != r.text:
                return r, f"chat {chat_id}'s first message is not the one sent: {first!r:.120}"
            r.first_message_id = first.get("id")
            return r, None

        with ThreadPoolExecutor(12) as pool:
            problems = [(r, p) for r, p in pool.map(read, acked) if p]
        missing = sum(1 for _, p in problems if "messages" not in p and "first message" not in p)
        self.check(not problems,
                   f"every acknowledged chat exists with its first message: {len(acked)} acknowledged, "
                   f"{missing} missing, {len(problems) - missing} without their first message",
                   [f"{r.number}: {p}" for r, p in problems[:5]])

    def check_keys(self) -> dict:
        self.progress(f"listing the chats of {len(self.requests)} consumers")
        with ThreadPoolExecutor(12) as pool:
            lists = dict(zip((r.number for r in self.requests), pool.map(self.chats_of, [r.number for r in self.requests])))
        problems, two, unacked_chats = [], 0, 0
        for r in self.requests:
            chats = lists[r.number]
            if chats is None:
                problems.append(f"{r.number}: the chat list could not be read")
                continue
            ids = [c.get("id") for c in chats]
            if len(ids) > 1:
                two += 1
            if r.status == 200:
                if ids != [r.chat_id]:
                    problems.append(f"key {r.key} was answered chat {r.chat_id}; {r.number} has chats {ids}")
            elif len(ids) > 1:
                problems.append(f"key {r.key} (final {r.final()}): {r.number} has chats {ids}")
            elif ids:
                unacked_chats += 1
        acked = sum(1 for r in self.requests if r.status == 200)
        self.check(not problems,
                   f"no Idempotency-Key made two chats: {len(self.requests)} keys, {acked} acknowledged with exactly "
                   f"their one chat: {acked - sum(1 for p in problems if 'was answered' in p)}, consumers with two or "
                   f"more chats: {two}",
                   [f"unacknowledged keys whose consumer has a chat anyway: {unacked_chats}"] + problems[:5])
        return lists

    def check_not_blocked(self) -> None:
        """Every consumer whose final answer was not 200 can be texted again once the pending
        TTL has passed: 200, or row 12 naming a chat that exists and is active; never 409."""
        blocked = [r for r in self.requests if r.status != 200]
        self.progress(f"texting again {len(blocked)} consumers whose final answer was not 200")
        rng = random.Random(7)

        def again(r: Request) -> tuple:
            body = json.loads(r.body)
            body["message"] = r.text + " (again)"
            attempt, answer = self.post(rng.choice(self.ports), r.key + "-again", json.dumps(body).encode())
            parsed = parse_json(answer.encode()) or {}
            if attempt.outcome == 200:
                return "200", None
            if attempt.outcome == 400 and isinstance(parsed.get("chat_id"), int):
                status, _, chat = self.get(f"/apps/api/v1/chats/{parsed['chat_id']}")
                if status == 200 and isinstance(chat, dict) and chat.get("status") in ACTIVE:
                    return "400 with an active chat", None
                return "400", f"names chat {parsed['chat_id']}, which reads {status} {chat and chat.get('status')}"
            return str(attempt.outcome), f"{attempt.outcome} {answer[:160]}"

        with ThreadPoolExecutor(12) as pool:
            outcomes = list(pool.map(again, blocked))
        tally = {}
        for kind, _ in outcomes:
            tally[kind] = tally.get(kind, 0) + 1
        problems = [f"{r.number} (final {r.final()}): {p}" for r, (_, p) in zip(blocked, outcomes) if p]
        self.check(not problems,
                   f"no consumer stays blocked past the pending TTL: {len(blocked)} consumers texted again "
                   f"at t={self.now():.1f} s: " + (", ".join(f"{k}: {v}" for k, v in tally.items()) or "none"),
                   problems[:5])

    def check_one_active(self, lists: dict) -> None:
        per_number = sum(1 for chats in lists.values() if chats and sum(c.get("status") in ACTIVE for c in chats) > 1)
        everything, page, total = [], 1, None
        while True:
            status, headers, chats = self.get(f"/apps/api/v1/chats?per=100&page={page}")
            if status != 200 or not isinstance(chats, list):
                break
            total = headers.get("x-total-count")
            everything += chats
            if len(chats) < 100:
                break
            page += 1
        active = {}
        for c in everything:
            if c.get("status") in ACTIVE:
                end_user = (c.get("end_user") or {}).get("id")
                active[end_user] = active.get(end_user, 0) + 1
        doubled = [u for u, n in active.items() if n > 1]
        complete = total is not None and int(total) == len(everything)
        self.check(per_number == 0 and not doubled and complete,
                   f"no consumer has two active chats: {len(everything)} chats (X-Total-Count {total}), "
                   f"{len(active)} consumers with an active chat; with two or more: {per_number} by number, "
                   f"{len(doubled)} by end user id",
                   [] if complete else ["the full chat list could not be read"])

    def check_provider(self, acked: list) -> None:
        wanted = {r.first_message_id: r for r in acked if r.first_message_id is not None}
        stranded = [f.start for f in self.faults if f.kind in ("kill", "pg")]
        # ... and a few seconds more in any case, for the last chats' own first delivery.
        deadline = max(max(stranded, default=0.0) + DELIVERY_LEASE + 5.0, self.now() + 10.0)
        self.progress(f"waiting for {len(wanted)} first messages at the provider (until t={deadline:.0f} s at most)")
        seen = {}
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.args.provider_port, timeout=5)
                conn.request("GET", "/counts")
                seen = json.loads(conn.getresponse().read())
                conn.close()
            except (OSError, http.client.HTTPException, ValueError) as e:
                self.progress(f"the fake provider did not answer: {e!r}")
            messages = seen.get("messages", {})
            missing = [m for m in wanted if str(m) not in messages]
            if not missing or self.now() >= deadline:
                break
            time.sleep(1.0)
        messages = seen.get("messages", {})
        twice = sum(1 for m in wanted if messages.get(str(m), {}).get("count", 0) >= 2)
        wrong = [f"message {m}: the provider got {messages[str(m)]!r:.120}" for m, r in wanted.items()
                 if str(m) in messages and (messages[str(m)]["body"] != r.text or messages[str(m)]["to"] != r.number)]
        self.check(not missing and not wrong and len(wanted) == len(acked),
                   f"every first message of an acknowledged chat reached the provider: "
                   f"{len(wanted) - len(missing)} of {len(acked)} (by t={self.now():.1f} s), twice or more: {twice}",
                   [f"not received: message ids {sorted(missing)[:10]}"] * bool(missing) + wrong[:5])
        self.check(seen.get("posts", 0) > 0 and seen.get("bad_signatures", 1) == 0 and seen.get("malformed", 1) == 0,
                   f"every provider POST was signed and well formed: {seen.get('posts', 0)} POSTs, "
                   f"{seen.get('bad_signatures')} badly signed, {seen.get('malformed')} malformed")

    def check_frozen_latency(self) -> None:
        freeze = next((f for f in self.faults if f.kind == "redis"), None)
        if freeze is None:
            return self.check(False, "answers while Redis was frozen: Redis was never stopped")
        during = [a for r in self.requests for a in r.attempts if freeze.start <= a.start < freeze.end]
        worst = max((a.latency for a in during), default=None)
        outcomes = {}
        for a in during:
            outcomes[str(a.outcome)] = outcomes.get(str(a.outcome), 0) + 1
        self.check(worst is not None and worst <= FROZEN_ANSWER_MAX,
                   f"answers while Redis was frozen came within {FROZEN_ANSWER_MAX} s: {len(during)} attempts started "
                   f"in the {freeze.end - freeze.start:.1f} s window, max latency "
                   f"{'n/a' if worst is None else f'{worst:.2f} s'}; "
                   + ", ".join(f"{k}: {v}" for k, v in sorted(outcomes.items())))

    def first_200(self, port: int, since: float):
        """When the first fresh (not replayed) 200 started at `since` or later on `port` came."""
        ends = [a.end for r in self.requests for a in r.attempts
                if a.port == port and a.start >= since and a.outcome == 200 and not a.replayed]
        return min(ends, default=None)

    def check_recovery(self) -> None:
        for f in self.faults:
            # A killed instance's peers are measured from the kill; after the other faults,
            # every instance from the fault's end.
            since = f.start if f.kind == "kill" else f.end
            survivors = [p for p in self.ports if p != f.port]
            times = {p: self.first_200(p, since) for p in survivors}
            late = {p: t for p, t in times.items() if t is None or t - since > RECOVERY_MAX}
            shown = ", ".join(f":{p} {'never' if t is None else f'{t - since:.2f} s'}" for p, t in times.items())
            self.check(not late, f"the service recovers within {RECOVERY_MAX:.0f} s without a restart after {f.name}: "
                                 f"first 200 {'after the kill' if f.kind == 'kill' else 'after its end'}: {shown}")

    def check_leaks(self) -> None:
        for s in self.scans:
            self.check(not s["leaked"],
                       f"a 503 left no lock ({s['label']}, scanned at t={s['at']:.1f} s): {s['consumers']} consumers "
                       f"answered 503, {s['locked']} of them with a session key: {s['chat_locks']} their chat's, "
                       f"{s['fresh']} just taken by a request under way, {len(s['leaked'])} left behind",
                       s["leaked"][:5])
        if not self.scans:
            self.check(False, "a 503 left no lock: no scan ran")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    provider = sub.add_parser("provider")
    provider.add_argument("--port", type=int, required=True)
    run = sub.add_parser("run")
    run.add_argument("--bin", required=True)
    run.add_argument("--work", required=True)
    run.add_argument("--ports", required=True)
    run.add_argument("--redis-port", type=int, required=True)
    run.add_argument("--redis-pid", type=int, required=True)
    run.add_argument("--provider-port", type=int, required=True)
    run.add_argument("--pg-url", required=True)
    run.add_argument("--db", required=True)
    run.add_argument("--pending-ttl", type=float, default=5.0)
    run.add_argument("--clients", type=int, default=12)
    run.add_argument("--think-ms", type=float, default=100.0)
    args = parser.parse_args()
    if args.command == "provider":
        serve_provider(args.port)
    else:
        sys.exit(Run(args).go())


if __name__ == "__main__":
    main()
