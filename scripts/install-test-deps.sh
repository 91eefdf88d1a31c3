#!/usr/bin/env bash
# The system packages the tests need: Debian's Chromium, for the test that opens the HTML report in a real browser.
set -euo pipefail
if ! command -v chromium >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq chromium >/dev/null
fi
chromium --version
