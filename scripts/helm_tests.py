#!/usr/bin/env python3
"""Tests over the outbound-sms chart's rendered objects, without a cluster (scripts/helm-check.sh
runs them with the venv's Python, which has PyYAML).

    helm_tests.py --helm HELM [--helm3 HELM3] [--chart deploy/helm/outbound-sms]

Renders the chart with `helm template` (ci/ values files, and --set variations) and asserts the
properties SPEC section 15 asks of it. Two tests need what `helm template` cannot give, the
release revision of an upgrade and a Secret already in the cluster: they run `helm upgrade
--dry-run=server` against a fake Kubernetes API on 127.0.0.1 that answers discovery and GETs of
one Secret, with a release history preloaded into Helm's in-memory storage driver. Nothing is
created; the fake answers only GET. Prints `ok: ...` per test and `helm-tests: N passed, M
failed`; exits 1 when a test failed.
"""

import argparse
import base64
import hashlib
import json
import os
import pathlib
import re
import subprocess
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
RELEASE, NAMESPACE = "sms", "sms"
FULLNAME = "sms-outbound-sms"
GOOD_JWT = "ci-jwt-secret-0123456789abcdef0123456789abcdef"
BASE = ["--set", "database.url=postgres://sms:pw@db:5432/sms", "--set", "redis.url=redis://redis:6379",
        "--set", f"jwt.secret={GOOD_JWT}"]

args = None
TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


class Failed(Exception):
    pass


def check(cond, message):
    if not cond:
        raise Failed(message)


# --- rendering ------------------------------------------------------------------------------

def helm_env(extra=None):
    home = ROOT / "target" / "helm-tools" / "home"
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home),
           "HELM_CACHE_HOME": str(home / "cache"), "HELM_CONFIG_HOME": str(home / "config"),
           "HELM_DATA_HOME": str(home / "data"), "KUBECONFIG": str(home / "no-kubeconfig")}
    env.update(extra or {})
    return env


def run_helm(cmd, helm=None, env=None):
    return subprocess.run([helm or args.helm, *cmd], capture_output=True, text=True, env=helm_env(env),
                          timeout=120)


def template(*opts, helm=None, fail=False):
    """The objects `helm template` renders (or, with fail=True, its error output)."""
    proc = run_helm(["template", RELEASE, str(args.chart), "--namespace", NAMESPACE, *opts], helm=helm)
    if fail:
        check(proc.returncode != 0, f"helm template {' '.join(opts)} rendered; it must fail")
        return proc.stderr
    check(proc.returncode == 0, f"helm template {' '.join(opts)} failed: {proc.stderr.strip()}")
    return [d for d in yaml.safe_load_all(proc.stdout) if d]


def ci(name, *opts, helm=None):
    return template("-f", str(args.chart / "ci" / f"{name}-values.yaml"), *opts, helm=helm)


def ci_names():
    return sorted(p.name[: -len("-values.yaml")] for p in (args.chart / "ci").glob("*-values.yaml"))


def kinds(docs):
    return sorted(d["kind"] for d in docs)


def one(docs, kind, name=None):
    found = [d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]
    check(len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}")
    return found[0]


def none_of(docs, kind):
    check(not [d for d in docs if d["kind"] == kind], f"a {kind} was rendered")


def pod_specs(docs):
    """(what, pod spec) of every pod the chart runs: the server, the migration Job, the test."""
    out = []
    for d in docs:
        if d["kind"] in ("Deployment", "Job"):
            out.append((f"{d['kind']}/{d['metadata']['name']}", d["spec"]["template"]["spec"]))
        elif d["kind"] == "Pod":
            out.append((f"Pod/{d['metadata']['name']}", d["spec"]))
    return out


def server(docs):
    dep = one(docs, "Deployment")
    return dep, dep["spec"]["template"]["spec"]["containers"][0]


def environment(docs, container):
    """NAME -> value (from the ConfigMap or a literal) or ("secret", name, key)."""
    out = {}
    configmaps = {d["metadata"]["name"]: d.get("data", {}) for d in docs if d["kind"] == "ConfigMap"}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            out.update(configmaps[source["configMapRef"]["name"]])
    for var in container.get("env", []):
        if "value" in var:
            out[var["name"]] = var["value"]
        else:
            ref = var["valueFrom"]["secretKeyRef"]
            out[var["name"]] = ("secret", ref["name"], ref["key"])
    return out


def subset(small, big):
    return all(big.get(k) == v for k, v in small.items())


def go_json(value):
    """Go's encoding/json with sorted keys, as Helm's toJson writes it."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


# --- a fake Kubernetes API for `helm upgrade --dry-run=server` -------------------------------

RESOURCES = {
    "v1": [("configmaps", "ConfigMap"), ("secrets", "Secret"), ("services", "Service"),
           ("serviceaccounts", "ServiceAccount"), ("pods", "Pod")],
    "apps/v1": [("deployments", "Deployment")],
    "batch/v1": [("jobs", "Job")],
    "policy/v1": [("poddisruptionbudgets", "PodDisruptionBudget")],
    "autoscaling/v2": [("horizontalpodautoscalers", "HorizontalPodAutoscaler")],
    "networking.k8s.io/v1": [("ingresses", "Ingress"), ("networkpolicies", "NetworkPolicy")],
    "monitoring.coreos.com/v1": [("servicemonitors", "ServiceMonitor"), ("prometheusrules", "PrometheusRule")],
}


class FakeApi(BaseHTTPRequestHandler):
    objects = {}  # path -> object, what GETs of single objects answer
    requests = []

    def log_message(self, *_):
        pass

    def answer(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        path = self.path.split("?")[0]
        FakeApi.requests.append(f"GET {path}")
        if path == "/version":
            return self.answer(200, {"major": "1", "minor": "33", "gitVersion": "v1.33.0"})
        if path == "/api":
            return self.answer(200, {"kind": "APIVersions", "versions": ["v1"]})
        if path == "/apis":
            groups = [gv.split("/") for gv in RESOURCES if "/" in gv]
            return self.answer(200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": [
                {"name": g, "versions": [{"groupVersion": f"{g}/{v}", "version": v}],
                 "preferredVersion": {"groupVersion": f"{g}/{v}", "version": v}} for g, v in groups]})
        for gv, resources in RESOURCES.items():
            if path == ("/api/v1" if gv == "v1" else f"/apis/{gv}"):
                return self.answer(200, {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv,
                                         "resources": [{"name": n, "singularName": "", "namespaced": True,
                                                        "kind": k, "verbs": ["get", "list"]}
                                                       for n, k in resources]})
        if path in FakeApi.objects:
            return self.answer(200, FakeApi.objects[path])
        self.answer(404, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 404,
                          "reason": "NotFound"})

    def refuse(self):
        FakeApi.requests.append(f"{self.command} {self.path}")
        self.answer(405, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 405})

    do_POST = do_PUT = do_PATCH = do_DELETE = refuse


def upgrade_dry_run(previous_revision, existing_jwt=None, helm=None, opts=()):
    """`helm upgrade --dry-run=server` of a release whose last revision is previous_revision,
    against the fake API (holding the generated JWT Secret when existing_jwt is given)."""
    server_ = ThreadingHTTPServer(("127.0.0.1", 0), FakeApi)
    thread = threading.Thread(target=server_.serve_forever, daemon=True)
    thread.start()
    FakeApi.objects, FakeApi.requests = {}, []
    if existing_jwt is not None:
        FakeApi.objects[f"/api/v1/namespaces/{NAMESPACE}/secrets/{FULLNAME}-jwt"] = {
            "apiVersion": "v1", "kind": "Secret", "metadata": {"name": f"{FULLNAME}-jwt", "namespace": NAMESPACE},
            "data": {"SMS_JWT_SECRET": base64.b64encode(existing_jwt.encode()).decode()}}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            tmp = pathlib.Path(tmp)
            (tmp / "kubeconfig").write_text(yaml.safe_dump({
                "apiVersion": "v1", "kind": "Config", "current-context": "fake",
                "clusters": [{"name": "fake", "cluster": {"server": f"http://127.0.0.1:{server_.server_port}"}}],
                "users": [{"name": "fake", "user": {}}],
                "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "fake", "namespace": NAMESPACE}}]}))
            (tmp / "releases.yaml").write_text(yaml.safe_dump([{
                "name": RELEASE, "namespace": NAMESPACE, "version": previous_revision,
                "info": {"status": "deployed"}, "manifest": "",
                "chart": {"metadata": {"name": "outbound-sms", "version": "0.1.0", "apiVersion": "v2"}}}]))
            proc = run_helm(["upgrade", RELEASE, str(args.chart), "--namespace", NAMESPACE, "--dry-run=server", *opts],
                            helm=helm, env={"KUBECONFIG": str(tmp / "kubeconfig"), "HELM_DRIVER": "memory",
                                            "HELM_MEMORY_DRIVER_DATA": str(tmp / "releases.yaml")})
    finally:
        server_.shutdown()
    check(proc.returncode == 0, f"helm upgrade --dry-run=server failed: {proc.stderr.strip()}")
    check(not [r for r in FakeApi.requests if not r.startswith("GET ")],
          f"helm sent more than GETs: {FakeApi.requests}")
    manifest = proc.stdout.split("MANIFEST:", 1)[1].split("NOTES:", 1)[0]
    return proc.stdout, [d for d in yaml.safe_load_all(manifest) if d]


# --- the tests -----------------------------------------------------------------------------

@test
def default_values_render():
    docs = template()
    check(kinds(docs) == ["ConfigMap", "Deployment", "Job", "Pod", "PodDisruptionBudget", "Secret",
                          "Service", "ServiceAccount"], f"default objects: {kinds(docs)}")
    for kind in ("Ingress", "HorizontalPodAutoscaler", "NetworkPolicy", "ServiceMonitor", "PrometheusRule"):
        none_of(docs, kind)
    dep, c = server(docs)
    check(dep["spec"]["replicas"] == 2, "two replicas by default")
    env = environment(docs, c)
    check(env["DATABASE_URL"] == ("secret", FULLNAME, "DATABASE_URL"), f"DATABASE_URL: {env['DATABASE_URL']}")
    return f"{len(docs)} objects: {', '.join(kinds(docs))}"


@test
def every_ci_values_file_renders_with_both_helms():
    names = ci_names()
    check({"default", "hpa", "ingress", "existing-secrets", "monitoring", "network-policy", "sentinel"} <= set(names),
          f"ci/ lacks a combination: {names}")
    if not args.helm3:
        return f"{len(names)} files (no Helm 3 given)"
    pin = ["--set", f"jwt.secret={GOOD_JWT}"]
    for name in names:
        opts = pin if name == "default" else []
        four, three = ci(name, *opts), ci(name, *opts, helm=args.helm3)
        check(four == three, f"ci/{name}: Helm 3 and Helm 4 render different objects")
    return f"{len(names)} files, Helm 3 and Helm 4 render the same objects"


@test
def probes_healthz_and_readyz():
    for name in ci_names():
        _, c = server(ci(name))
        for probe, path in (("startupProbe", "/healthz"), ("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
            got = c.get(probe, {}).get("httpGet", {})
            check(got.get("path") == path and got.get("port") == "http", f"ci/{name}: {probe} is {got}")
    return "startup and liveness on /healthz, readiness on /readyz, in every ci/ render"


@test
def security_context_everywhere():
    count = 0
    for name in ci_names():
        docs = ci(name)
        for what, spec in pod_specs(docs):
            count += 1
            psc = spec["securityContext"]
            check(psc.get("runAsNonRoot") is True and psc.get("runAsUser") == 10001 and psc.get("runAsGroup") == 10001
                  and psc.get("fsGroup") == 10001, f"{what}: pod securityContext {psc}")
            check(psc.get("seccompProfile") == {"type": "RuntimeDefault"}, f"{what}: seccomp {psc}")
            check(spec.get("automountServiceAccountToken") is False, f"{what}: service account token mounted")
            volumes = spec.get("volumes", [])
            check(volumes in ([], [{"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}]), f"{what}: volumes {volumes}")
            for c in spec["containers"]:
                sc = c["securityContext"]
                check(sc.get("readOnlyRootFilesystem") is True, f"{what}: root filesystem writable")
                check(sc.get("allowPrivilegeEscalation") is False, f"{what}: privilege escalation allowed")
                check(sc.get("capabilities") == {"drop": ["ALL"]}, f"{what}: capabilities {sc.get('capabilities')}")
                check(sc.get("runAsNonRoot") is True and sc.get("privileged") is False, f"{what}: {sc}")
                check(sc.get("seccompProfile") == {"type": "RuntimeDefault"}, f"{what}: container seccomp")
                mounts = c.get("volumeMounts", [])
                check(mounts == ([{"name": "tmp", "mountPath": "/tmp"}] if volumes else []), f"{what}: mounts {mounts}")
        _, c = server(docs)
        check(environment(docs, c)["SMS_DATA_DIR"] == "/tmp/sms", f"ci/{name}: SMS_DATA_DIR")
    return f"{count} pod specs: uid/gid/fsGroup 10001, non-root, read-only root, no escalation, drop ALL, RuntimeDefault, only /tmp writable"


@test
def service_account_has_no_token():
    docs = template()
    sa = one(docs, "ServiceAccount")
    check(sa.get("automountServiceAccountToken") is False, "ServiceAccount automounts its token")
    dep, _ = server(docs)
    check(dep["spec"]["template"]["spec"]["serviceAccountName"] == sa["metadata"]["name"], "the pods use another account")
    return "ServiceAccount and every pod spec: automountServiceAccountToken false"


@test
def rollout_never_removes_a_serving_pod_first():
    dep, _ = server(template())
    strategy = dep["spec"]["strategy"]
    check(strategy["type"] == "RollingUpdate" and strategy["rollingUpdate"]["maxUnavailable"] == 0, f"{strategy}")
    return "RollingUpdate with maxUnavailable 0"


@test
def graceful_shutdown_fits_the_termination_grace():
    for opts, grace, pre in (((), 20, 5), (("--set", "shutdown.graceSeconds=45", "--set", "shutdown.preStopSleepSeconds=8"), 45, 8)):
        docs = template(*opts)
        dep, c = server(docs)
        env = environment(docs, c)
        check(env["SMS_SHUTDOWN_GRACE_SECS"] == str(grace), f"SMS_SHUTDOWN_GRACE_SECS {env['SMS_SHUTDOWN_GRACE_SECS']}")
        total = dep["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
        check(total == pre + grace + 10, f"terminationGracePeriodSeconds {total} for grace {grace} and preStop {pre}")
        check(c["lifecycle"]["preStop"]["exec"]["command"] == ["sleep", str(pre)], f"preStop {c['lifecycle']}")
    return "SMS_SHUTDOWN_GRACE_SECS 20, preStop sleep 5, terminationGracePeriodSeconds 35 (and 45/8/63)"


@test
def hpa_owns_the_replica_count():
    docs = ci("hpa")
    dep, _ = server(docs)
    check("replicas" not in dep["spec"], "the Deployment has replicas with the HPA on")
    hpa = one(docs, "HorizontalPodAutoscaler")
    check(hpa["apiVersion"] == "autoscaling/v2", hpa["apiVersion"])
    check(hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": dep["metadata"]["name"]},
          f"scaleTargetRef {hpa['spec']['scaleTargetRef']}")
    check((hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (3, 12), "min/max")
    one(docs, "PodDisruptionBudget")
    check("replicas" in server(template())[0]["spec"], "replicas missing without the HPA")
    return "no replicas field with autoscaling on; HPA targets the Deployment"


@test
def migration_job_is_a_plain_job_per_release():
    docs = template()
    job = one(docs, "Job")
    check(job["metadata"]["name"] == f"{FULLNAME}-migrate-1", f"Job name {job['metadata']['name']}")
    check(not any(k.startswith("helm.sh/hook") for k in job["metadata"].get("annotations", {})), "the Job is a Helm hook")
    spec = job["spec"]
    check(spec["backoffLimit"] <= 3 and spec["activeDeadlineSeconds"] > 0 and spec["ttlSecondsAfterFinished"] > 0,
          f"Job limits {spec}")
    c = spec["template"]["spec"]["containers"][0]
    check(c["args"] == ["migrate"], f"args {c.get('args')}")
    check(spec["template"]["spec"]["restartPolicy"] == "Never", "restartPolicy")
    _, sc = server(docs)
    check(environment(docs, c)["DATABASE_URL"] == environment(docs, sc)["DATABASE_URL"], "the Job reads another database")
    source = (args.chart / "templates" / "migrate-job.yaml").read_text()
    check("-migrate-{{ .Release.Revision }}" in source, "the Job's name does not follow .Release.Revision")
    return f"{job['metadata']['name']}: no hook, backoffLimit {spec['backoffLimit']}, deadline {spec['activeDeadlineSeconds']} s, ttl {spec['ttlSecondsAfterFinished']} s"


@test
def migration_job_name_changes_with_each_upgrade():
    seen = []
    for helm in filter(None, (args.helm, args.helm3)):
        for previous in (1, 6):
            out, docs = upgrade_dry_run(previous, helm=helm, opts=BASE)
            check(f"REVISION: {previous + 1}" in out, f"upgrade of revision {previous} is not {previous + 1}")
            job = one(docs, "Job")
            check(job["metadata"]["name"] == f"{FULLNAME}-migrate-{previous + 1}", f"Job {job['metadata']['name']}")
            seen.append(job["metadata"]["name"])
    return f"helm upgrade --dry-run=server (fake API on loopback): {', '.join(sorted(set(seen)))}"


@test
def generated_jwt_secret_is_kept_across_upgrades():
    kept = "k" * 40 + "0123456789abcdefghijklmnopqrstuv"
    checksums = set()
    for _ in range(2):
        _, docs = upgrade_dry_run(3, existing_jwt=kept)
        secret = one(docs, "Secret", f"{FULLNAME}-jwt")
        check(base64.b64decode(secret["data"]["SMS_JWT_SECRET"]).decode() == kept, "the generated secret changed on upgrade")
        check(f"GET /api/v1/namespaces/{NAMESPACE}/secrets/{FULLNAME}-jwt" in FakeApi.requests, "no lookup of the Secret")
        dep, c = server(docs)
        check(environment(docs, c)["SMS_JWT_SECRET"] == ("secret", f"{FULLNAME}-jwt", "SMS_JWT_SECRET"), "env ref")
        checksums.add(dep["spec"]["template"]["metadata"]["annotations"]["checksum/secret"])
    check(len(checksums) == 1, "the checksum changes between two upgrades with the same secret")
    docs = template()
    secret = one(docs, "Secret", f"{FULLNAME}-jwt")
    check(secret["metadata"]["annotations"].get("helm.sh/resource-policy") == "keep", "the generated Secret is not kept")
    value = base64.b64decode(secret["data"]["SMS_JWT_SECRET"]).decode()
    check(len(value) >= 32 and "change-me" not in value, "generated secret too short")
    dep, _ = server(docs)
    expected = hashlib.sha256(go_json({"chart": {}, "jwt": value}).encode()).hexdigest()
    check(dep["spec"]["template"]["metadata"]["annotations"]["checksum/secret"] == expected,
          "the checksum is not of the generated secret the same render holds")
    check(not [d for d in template("--set", f"jwt.secret={GOOD_JWT}") if d["metadata"]["name"].endswith("-jwt")],
          "a generated Secret with jwt.secret set")
    return "read back with lookup (same value, same checksum); resource-policy keep; checksum matches the render"


@test
def checksum_annotation_follows_secrets_and_config():
    def annotations(*opts):
        dep, _ = server(template(*BASE, *opts))
        a = dep["spec"]["template"]["metadata"]["annotations"]
        return a["checksum/secret"], a["checksum/config"]
    first, again = annotations(), annotations()
    check(first == again, "the checksums differ between two identical renders")
    rotated = annotations("--set", "jwt.secret=" + "r" * 48)
    check(rotated[0] != first[0] and rotated[1] == first[1], "rotating jwt.secret does not change checksum/secret alone")
    db = annotations("--set", "database.url=postgres://sms:other@db:5432/sms")
    check(db[0] != first[0], "a new database password does not change checksum/secret")
    config = annotations("--set", "config.SMS_LOG=debug")
    check(config[1] != first[1] and config[0] == first[0], "a config change does not change checksum/config")
    docs = template(*BASE)
    cm = one(docs, "ConfigMap")
    dep, _ = server(docs)
    check(dep["spec"]["template"]["metadata"]["annotations"]["checksum/config"]
          == hashlib.sha256(go_json(cm["data"]).encode()).hexdigest(), "checksum/config is not the ConfigMap's data")
    return "stable for the same values; changes with jwt.secret, database.url (secret) and config (config)"


@test
def prometheus_rule_holds_every_rule_and_selects_the_service_monitor_job():
    source = (ROOT / "deploy" / "prometheus" / "rules.yml").read_bytes()
    copy = (args.chart / "files" / "rules.yml").read_bytes()
    check(copy == source, "deploy/helm/outbound-sms/files/rules.yml differs from deploy/prometheus/rules.yml: copy it again")
    wanted = yaml.safe_load(source)["groups"]
    docs = ci("monitoring")
    rule = one(docs, "PrometheusRule")
    check(rule["spec"]["groups"] == wanted, "the PrometheusRule's groups differ from deploy/prometheus/rules.yml")
    alerts = [r["alert"] for g in wanted for r in g["rules"] if "alert" in r]
    got = [r["alert"] for g in rule["spec"]["groups"] for r in g["rules"] if "alert" in r]
    check(got == alerts and len(alerts) >= 9, f"alerts {got}")
    monitor = one(docs, "ServiceMonitor")
    jobs = {e["relabelings"][0]["replacement"] for e in monitor["spec"]["endpoints"]
            if e.get("relabelings") and e["relabelings"][0]["targetLabel"] == "job"}
    selected = set(re.findall(r'job="([^"]+)"', "\n".join(r["expr"] for g in rule["spec"]["groups"] for r in g["rules"])))
    check(jobs == {"sms-server"} and selected == jobs, f"ServiceMonitor job {jobs}, alerts select {selected}")
    # Renamed, both follow.
    docs = ci("monitoring", "--set", "metrics.serviceMonitor.jobName=sms-prod")
    rule, monitor = one(docs, "PrometheusRule"), one(docs, "ServiceMonitor")
    selected = set(re.findall(r'job="([^"]+)"', "\n".join(r["expr"] for g in rule["spec"]["groups"] for r in g["rules"])))
    check(monitor["spec"]["endpoints"][0]["relabelings"][0]["replacement"] == "sms-prod" and selected == {"sms-prod"},
          "a renamed job is not followed by both")
    return f"{len(alerts)} alerts and {sum(len(g['rules']) for g in wanted) - len(alerts)} recording rules; job=\"sms-server\" on both sides"


@test
def service_monitor_scrapes_the_metrics_port():
    docs = ci("monitoring")
    monitor, service = one(docs, "ServiceMonitor"), one(docs, "Service")
    check(subset(monitor["spec"]["selector"]["matchLabels"], service["metadata"]["labels"]), "the ServiceMonitor selects no Service")
    check(monitor["spec"]["namespaceSelector"] == {"matchNames": [NAMESPACE]}, "namespaceSelector")
    port = monitor["spec"]["endpoints"][0]["port"]
    check(port == "metrics" and "metrics" in [p["name"] for p in service["spec"]["ports"]], f"port {port}")
    _, c = server(docs)
    check({"name": "metrics", "containerPort": 9090, "protocol": "TCP"} in c["ports"], "no container port metrics")
    check(environment(docs, c)["SMS_METRICS_BIND"] == "0.0.0.0:9090", "SMS_METRICS_BIND")
    check(monitor["metadata"]["labels"].get("release") == "kube-prometheus-stack", "labels for the Prometheus selector")
    docs = ci("monitoring", "--set", "metrics.separatePort.enabled=false")
    _, c = server(docs)
    check(one(docs, "ServiceMonitor")["spec"]["endpoints"][0]["port"] == "http", "without the metrics port, not http")
    check("SMS_METRICS_BIND" not in environment(docs, c), "SMS_METRICS_BIND without the separate port")
    source = "\n".join(p.read_text() for p in (args.chart / "templates").rglob("*") if p.is_file())
    check(not re.search(r"\{\{[^}]*\.Capabilities", source), "a template is gated on .Capabilities")
    return "ServiceMonitor selects the Service, port metrics (9090, SMS_METRICS_BIND), not gated on .Capabilities"


@test
def pdb_never_blocks_a_drain():
    docs = template()
    pdb = one(docs, "PodDisruptionBudget")
    check(pdb["spec"]["maxUnavailable"] == 1 and "minAvailable" not in pdb["spec"], f"PDB {pdb['spec']}")
    check(pdb["spec"]["unhealthyPodEvictionPolicy"] == "AlwaysAllow", "unhealthy pods cannot be evicted")
    dep, _ = server(docs)
    check(subset(pdb["spec"]["selector"]["matchLabels"], dep["spec"]["template"]["metadata"]["labels"]), "PDB selects no pod")
    none_of(template("--set", "replicaCount=1"), "PodDisruptionBudget")
    none_of(template("--set", "podDisruptionBudget.enabled=false"), "PodDisruptionBudget")
    template("--set", "podDisruptionBudget.minAvailable=2", fail=True)
    return "maxUnavailable 1, AlwaysAllow, none with one replica, minAvailable refused"


@test
def topology_spread_across_nodes_and_zones():
    dep, _ = server(template())
    constraints = {c["topologyKey"]: c for c in dep["spec"]["template"]["spec"]["topologySpreadConstraints"]}
    check(set(constraints) == {"kubernetes.io/hostname", "topology.kubernetes.io/zone"}, f"{list(constraints)}")
    check(all(c["whenUnsatisfiable"] == "ScheduleAnyway" for c in constraints.values()), "not ScheduleAnyway by default")
    check(all(subset(c["labelSelector"]["matchLabels"], dep["spec"]["template"]["metadata"]["labels"])
              for c in constraints.values()), "a constraint selects no pod")
    dep, _ = server(ci("hpa"))
    nodes = [c for c in dep["spec"]["template"]["spec"]["topologySpreadConstraints"] if c["topologyKey"] == "kubernetes.io/hostname"]
    check(nodes[0]["whenUnsatisfiable"] == "DoNotSchedule", "nodeWhenUnsatisfiable not followed")
    return "hostname and zone, ScheduleAnyway by default"


@test
def existing_secrets_are_referenced_not_created():
    docs = ci("existing-secrets")
    none_of(docs, "Secret")
    _, c = server(docs)
    env = environment(docs, c)
    want = {"SMS_JWT_SECRET": ("secret", "sms-secrets", "jwt-secret"), "DATABASE_URL": ("secret", "pg-app", "uri"),
            "REDIS_URL": ("secret", "sms-secrets", "redis-url"),
            "SMS_WEBHOOK_SECRET": ("secret", "sms-secrets", "webhook-secret")}
    for name, ref in want.items():
        check(env.get(name) == ref, f"{name}: {env.get(name)}, want {ref}")
    job = one(docs, "Job")["spec"]["template"]["spec"]["containers"][0]
    check(environment(docs, job)["DATABASE_URL"] == want["DATABASE_URL"], "the Job's DATABASE_URL")
    check(c["image"].startswith("outbound-sms@sha256:"), f"image {c['image']}")
    check(env["SMS_WEBHOOK_URL"] == "https://gateway.example.com/sms", "SMS_WEBHOOK_URL")
    return "no Secret rendered; each variable refers to its existing Secret and key"


@test
def secrets_never_land_in_the_configmap():
    for name in ci_names():
        cm = one(ci(name), "ConfigMap")
        leaked = set(cm["data"]) & {"SMS_JWT_SECRET", "DATABASE_URL", "REDIS_URL", "REDIS_PASSWORD",
                                   "REDIS_SENTINEL_PASSWORD", "TWILIO_AUTH_TOKEN", "SMS_WEBHOOK_SECRET"}
        check(not leaked, f"ci/{name}: {leaked} in the ConfigMap")
    stderr = template("--set", "config.DATABASE_URL=postgres://x/y", fail=True)
    check("DATABASE_URL" in stderr, f"refusal does not name it: {stderr}")
    return "no secret variable in any ConfigMap; config.DATABASE_URL refused by the schema"


@test
def sentinel_values_replace_redis_url():
    docs = ci("sentinel")
    _, c = server(docs)
    env = environment(docs, c)
    check(env["REDIS_SENTINELS"] == "redis-node-0.redis-headless.redis.svc:26379,redis-node-1.redis-headless.redis.svc:26379,"
          "redis-node-2.redis-headless.redis.svc:26379", f"REDIS_SENTINELS {env.get('REDIS_SENTINELS')}")
    check(env["REDIS_SENTINEL_MASTER"] == "mymaster", "REDIS_SENTINEL_MASTER")
    check("REDIS_URL" not in env, "REDIS_URL with Sentinel")
    check(env["REDIS_PASSWORD"] == ("secret", "redis", "redis-password"), f"REDIS_PASSWORD {env.get('REDIS_PASSWORD')}")
    check(env["REDIS_SENTINEL_PASSWORD"] == ("secret", "redis", "redis-password"), "REDIS_SENTINEL_PASSWORD")
    docs = template(*BASE[:2], "--set", f"jwt.secret={GOOD_JWT}", "--set", "redis.sentinel.hosts={s1:26379,s2:26379}",
                    "--set", "redis.sentinel.password=p1", "--set", "redis.sentinel.sentinelPassword=p2")
    _, c = server(docs)
    env = environment(docs, c)
    secret = one(docs, "Secret", FULLNAME)
    check({"REDIS_PASSWORD", "REDIS_SENTINEL_PASSWORD"} <= set(secret["data"]) and "REDIS_URL" not in secret["data"],
          f"chart Secret keys {sorted(secret['data'])}")
    check(env["REDIS_PASSWORD"] == ("secret", FULLNAME, "REDIS_PASSWORD"), "REDIS_PASSWORD from the chart's Secret")
    return "REDIS_SENTINELS, REDIS_SENTINEL_MASTER, both passwords; no REDIS_URL"


@test
def redis_url_and_sentinel_refuse_to_render():
    for opts in (("--set", "redis.url=redis://r:6379"), ("--set", "redis.existingSecret=r")):
        stderr = template(*opts, "--set", "redis.sentinel.hosts={s1:26379}", fail=True)
        check("REDIS_URL" in stderr and "REDIS_SENTINELS" in stderr, f"the refusal does not name both: {stderr}")
    return "REDIS_URL (or its existingSecret) with REDIS_SENTINELS: refused, naming both"


@test
def schema_refuses_bad_values():
    helms = [h for h in (args.helm, args.helm3) if h]
    cases = {
        "replicaCount=two": ("--set-string", "replicaCount=two"),
        "jwt.secret too short": ("--set", "jwt.secret=short"),
        "jwt.secret placeholder": ("--set", "jwt.secret=change-me-to-64-hex-characters-from-openssl-rand-hex-32-xxxxxxxxxxx"),
        "unknown value": ("--set", "replicas=3"),
        "provider": ("--set", "provider=sns"),
        "boolean config": ("--set", "config.SMS_DELIVERY_WORKER=true"),
        "sentinel host without port": ("--set", "redis.sentinel.hosts={sentinel}"),
    }
    for helm in helms:
        for label, opts in cases.items():
            template(*opts, helm=helm, fail=True)
    schema = json.loads((args.chart / "values.schema.json").read_text())
    refs = re.findall(r'"\$ref":\s*"([^"]*)"', json.dumps(schema))
    check(refs and all(r.startswith("#/") for r in refs), f"a $ref leaves the file: {[r for r in refs if not r.startswith('#/')]}")
    check("$id" not in schema, "the schema has an $id")
    return f"{len(cases)} bad values refused by {len(helms)} helm(s); {len(refs)} $refs, all local"


@test
def network_policy_only_when_asked():
    for name in ci_names():
        if name != "network-policy":
            none_of(ci(name), "NetworkPolicy")
    docs = ci("network-policy")
    policy = one(docs, "NetworkPolicy")
    dep, _ = server(docs)
    check(subset(policy["spec"]["podSelector"]["matchLabels"], dep["spec"]["template"]["metadata"]["labels"]),
          "the policy selects no server pod")
    check(subset(policy["spec"]["podSelector"]["matchLabels"], one(docs, "Job")["spec"]["template"]["metadata"]["labels"]),
          "the policy does not cover the migration Job")
    ingress = policy["spec"]["ingress"]
    http = [r for r in ingress if r["ports"] == [{"port": "http", "protocol": "TCP"}]][0]
    check(any(p.get("namespaceSelector", {}).get("matchLabels", {}).get("kubernetes.io/metadata.name") == "ingress-nginx"
              for p in http["from"]), "http not open to the ingress controller")
    metrics = [r for r in ingress if r["ports"] == [{"port": "metrics", "protocol": "TCP"}]][0]
    check(metrics["from"][0]["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"] == "monitoring", "metrics")
    ports = {(p["port"], p["protocol"]) for r in policy["spec"]["egress"] for p in r["ports"]}
    for port in ((53, "UDP"), (53, "TCP"), (5432, "TCP"), (6379, "TCP"), (26379, "TCP"), (443, "TCP")):
        check(port in ports, f"egress lacks {port}")
    return "absent from 6 ci/ renders; present in network-policy: ingress-nginx -> http, monitoring -> metrics, egress DNS/5432/6379/26379/443"


@test
def ingress_with_tls_sets_the_public_url():
    docs = ci("ingress")
    ingress = one(docs, "Ingress")
    check(ingress["spec"]["tls"] == [{"secretName": "sms-example-com-tls", "hosts": ["sms.example.com"]}], "tls")
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    check(backend == {"name": FULLNAME, "port": {"name": "http"}}, f"backend {backend}")
    _, c = server(docs)
    env = environment(docs, c)
    check(env["SMS_PUBLIC_URL"] == "https://sms.example.com", f"SMS_PUBLIC_URL {env.get('SMS_PUBLIC_URL')}")
    check(env["TWILIO_AUTH_TOKEN"] == ("secret", FULLNAME, "TWILIO_AUTH_TOKEN"), "TWILIO_AUTH_TOKEN")
    stderr = template(*BASE, "--set", "provider=twilio", "--set", "twilio.accountSid=AC1", "--set", "twilio.authToken=t",
                      "--set", "publicUrl=http://sms.example.com", fail=True)
    check("SMS_PUBLIC_URL" in stderr, f"twilio over http not refused by name: {stderr}")
    return "TLS host, backend port http, SMS_PUBLIC_URL https://sms.example.com; twilio over http refused"


@test
def helm_test_pod_asks_readyz():
    docs = template()
    pod = one(docs, "Pod")
    check(pod["metadata"]["annotations"]["helm.sh/hook"] == "test", "not a helm test hook")
    c = pod["spec"]["containers"][0]
    check(c["command"][0] == "curl" and c["command"][-1] == f"http://{FULLNAME}:8080/readyz", f"command {c['command']}")
    _, sc = server(docs)
    check(c["image"] == sc["image"], "the test pod uses another image")
    return f"curl {c['command'][-1]} with the server's image"


@test
def chart_declares_its_kubernetes_range():
    chart = yaml.safe_load((args.chart / "Chart.yaml").read_text())
    check(chart["apiVersion"] == "v2" and chart["kubeVersion"] == ">=1.27.0-0", f"Chart.yaml {chart}")
    template("--kube-version", "1.26.0", fail=True)
    return "apiVersion v2, kubeVersion >=1.27.0-0 (1.26 refused)"


@test
def crd_schemas_refuse_a_misplaced_field():
    sys.path.insert(0, str(ROOT / "scripts"))
    sys.dont_write_bytecode = True  # no __pycache__ left in scripts/
    import helm_validate
    monitor = one(ci("monitoring"), "ServiceMonitor")
    check(not list(helm_validate.crd_validator(monitor["apiVersion"], monitor["kind"]).iter_errors(monitor)), "valid one refused")
    monitor["spec"]["endpoints"][0]["intervall"] = "30s"
    check(list(helm_validate.crd_validator(monitor["apiVersion"], monitor["kind"]).iter_errors(monitor)), "typo accepted")
    return "the chart's ServiceMonitor passes its schema; a misspelt field fails it"


@test
def every_value_is_documented():
    lines = (args.chart / "values.yaml").read_text().splitlines()
    exempt = ("podSecurityContext", "securityContext", "resources", "ingressFrom", "metricsFrom", "to", "hosts")
    stack, missing, keys = [], [], []
    for i, line in enumerate(lines):
        m = re.match(r"^( *)([A-Za-z_][\w.-]*):", line)
        if not m or line.lstrip().startswith("#"):
            continue
        indent = len(m.group(1))
        while stack and stack[-1][0] >= indent:
            stack.pop()
        inside_list = any(lines[j].lstrip().startswith("- ") for j in range(max(0, i - 1), i)) and indent > 0
        path = [k for _, k in stack] + [m.group(2)]
        stack.append((indent, m.group(2)))
        following = next((lines[j] for j in range(i + 1, len(lines)) if lines[j].strip() and not lines[j].lstrip().startswith("#")), "")
        group = not line.split(":", 1)[1].strip() and len(following) - len(following.lstrip()) > indent \
            and not following.lstrip().startswith("- ")
        if any(p in exempt for p in path[:-1]) or inside_list or group:
            continue
        keys.append(".".join(path))
        previous = next((lines[j] for j in range(i - 1, -1, -1) if lines[j].strip()), "")
        if not previous.strip().startswith("#"):
            missing.append(".".join(path))
    check(not missing, f"values without a comment: {missing}")
    readme = (args.chart / "README.md").read_text()
    undocumented = [k for k in keys if k.count(".") <= 2 and f"`{k}`" not in readme and not k.startswith("config.")]
    check(not undocumented, f"values the chart README does not list: {undocumented}")
    return f"{len(keys)} values commented in values.yaml and listed in README.md"


def main():
    global args
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--helm", required=True)
    parser.add_argument("--helm3")
    parser.add_argument("--chart", default=str(ROOT / "deploy" / "helm" / "outbound-sms"))
    args = parser.parse_args()
    args.chart = pathlib.Path(args.chart)
    passed = failed = 0
    for fn in TESTS:
        try:
            detail = fn()
            print(f"ok: {fn.__name__}: {detail}")
            passed += 1
        except Failed as e:
            print(f"FAIL: {fn.__name__}: {e}")
            failed += 1
        except Exception as e:  # a test that crashes fails, and says why
            print(f"FAIL: {fn.__name__}: {type(e).__name__}: {e}")
            failed += 1
    print(f"helm-tests: {passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
