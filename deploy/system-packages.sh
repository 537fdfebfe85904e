#!/usr/bin/env bash
# System packages the licence files need (issue #3): a TrueType CJK font that reportlab can embed,
# poppler (pdfsig/pdffonts/pdftoppm: the independent verifiers), SoftHSM2 + OpenSC (the PKCS#11
# signer path), NSS tools (certutil: pdfsig trusts a test root only through an NSS database) and
# zbar (an independent QR decoder); Chromium drives the console's browser tests (Playwright, issue #15;
# never a downloaded browser build; chromium-l10n so that its date and time fields read in Chinese);
# nginx-light checks deploy/nginx/elicense.conf with `nginx -t`, prometheus brings promtool for
# deploy/prometheus/alerts.yml and its unit tests (issue #16; the server is not started). Idempotent: installs only what is missing, with apt-get, and
# runs `apt-get update` once, only when something is missing.
set -euo pipefail

PACKAGES=(fonts-wqy-microhei fontconfig poppler-utils softhsm2 opensc libnss3-tools zbar-tools libzbar0 chromium chromium-l10n nginx-light prometheus)

missing=()
for pkg in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "system packages: all present (${PACKAGES[*]})"
  exit 0
fi

echo "system packages: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
