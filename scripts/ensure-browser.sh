#!/usr/bin/env bash
# The dashboard's tests drive Debian's Chromium through playwright-core (playwright's own browser
# download cannot work on our machines). Installs it when missing.
set -euo pipefail
if ! command -v chromium >/dev/null 2>&1; then
  echo "browser: installing Debian's chromium"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
chromium --version
