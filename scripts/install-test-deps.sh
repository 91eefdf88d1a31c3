#!/usr/bin/env bash
# The system packages the tests need: Debian's Chromium, for the test that opens the HTML report in a real browser;
# util-linux's `script` (Debian's bsdutils), which gives the Ctrl-C tests a pseudo-terminal; and Debian's PostgreSQL,
# for the cluster tests (each starts a throwaway server of its own; none is left running).
set -euo pipefail
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v script >/dev/null 2>&1 || missing+=(bsdutils)
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || missing+=(postgresql)
if [ "${#missing[@]}" -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi
chromium --version
script --version
ls -d /usr/lib/postgresql/*/bin/initdb
