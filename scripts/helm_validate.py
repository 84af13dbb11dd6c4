#!/usr/bin/env python3
"""Strict schema validation of the chart's rendered objects (scripts/helm-check.sh runs it with the
venv's Python, where kubernetes-validate and jsonschema are installed).

    helm_validate.py KUBE_VERSION FILE...

Each object of Kubernetes' own kinds is validated by kubernetes-validate against the schemas it
ships for KUBE_VERSION, strictly (an unknown field fails). The Prometheus Operator's kinds have no
schema there: they are validated against the project's own strict subsets of them,
deploy/helm/crd-schemas/. Any other kind fails, so nothing goes unchecked. Prints one line per
file, then `kubernetes-validate KUBE_VERSION: N objects valid (M against the chart's CRD
schemas), F invalid`; exits 1 when an object is invalid.
"""

import json
import pathlib
import sys

import jsonschema
import kubernetes_validate
import yaml

CRD_SCHEMAS = pathlib.Path(__file__).resolve().parent.parent / "deploy" / "helm" / "crd-schemas"
CRD_KINDS = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"): "servicemonitor-monitoring-v1.json",
    ("monitoring.coreos.com/v1", "PrometheusRule"): "prometheusrule-monitoring-v1.json",
}


def crd_validator(api_version, kind):
    schema = json.loads((CRD_SCHEMAS / CRD_KINDS[(api_version, kind)]).read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    version, files = sys.argv[1], sys.argv[2:]
    valid = crd = invalid = 0
    for name in files:
        docs = [d for d in yaml.safe_load_all(pathlib.Path(name).read_text()) if d]
        problems, bad = [], 0
        for doc in docs:
            what = f"{doc.get('kind')}/{doc.get('metadata', {}).get('name')}"
            key = (doc.get("apiVersion"), doc.get("kind"))
            found = []
            if key in CRD_KINDS:
                errors = sorted(crd_validator(*key).iter_errors(doc), key=lambda e: list(e.path))
                found = [f"{what}: {'.'.join(map(str, e.path))}: {e.message}" for e in errors]
                crd += not errors
            else:
                try:
                    kubernetes_validate.validate(doc, version, strict=True)
                except kubernetes_validate.ValidationError as e:
                    found = [f"{what}: {'.'.join(map(str, e.path))}: {e.message}"]
                except kubernetes_validate.SchemaNotFoundError as e:
                    found = [f"{what}: {e.message}, and the chart has no schema of its own for it"]
            problems += found
            bad += bool(found)
        invalid += bad
        valid += len(docs) - bad
        for problem in problems:
            print(f"ERROR {name}: {problem}")
        print(f"{'ok' if not problems else 'FAILED'}: {name}: {len(docs)} objects, Kubernetes {version}")
    print(f"kubernetes-validate {version}: {valid} objects valid ({crd} against the chart's CRD schemas), "
          f"{invalid} invalid")
    sys.exit(1 if invalid else 0)


if __name__ == "__main__":
    main()
