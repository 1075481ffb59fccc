#!/usr/bin/env bash
# `npm test` runs this first (package.json "pretest"): the HTML reports' tests render pages in headless Chromium
# (test/helpers/browser.ts). When none is found and Debian's apt-get can run without a password (root, or
# passwordless sudo, as on CI), install Debian's chromium (about 20 s, once); otherwise say in one line how to get
# one. It never fails the run by itself: a missing browser fails the browser tests, with the same advice.
set -uo pipefail

found() {
  [ -n "${CHROMIUM:-}" ] && return 0 # the tests use $CHROMIUM, and say so if it is wrong
  for candidate in /usr/bin/chromium chromium chromium-browser google-chrome google-chrome-stable \
    "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome"; do
    command -v "$candidate" >/dev/null 2>&1 && return 0
  done
  return 1
}

found && exit 0
advice="install one (Debian/Ubuntu: sudo apt-get install -y --no-install-recommends chromium; macOS: Google Chrome) or set CHROMIUM=/path/to/chrome"
if ! command -v apt-get >/dev/null 2>&1; then
  echo "No headless Chromium for the HTML report tests: $advice."
  exit 0
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if sudo -n true 2>/dev/null; then sudo="sudo -n"; else
    echo "No headless Chromium for the HTML report tests: $advice."
    exit 0
  fi
fi
echo "No headless Chromium for the HTML report tests: installing Debian's chromium (once, about 20 s)."
log="$(mktemp)"
# Quiet when it works; apt's whole output when it does not.
if ! { $sudo apt-get update -qq && $sudo env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y -qq --no-install-recommends chromium; } >"$log" 2>&1; then
  cat "$log"
  echo "Installing chromium failed: $advice."
fi
rm -f "$log"
exit 0
