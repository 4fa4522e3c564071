#!/bin/sh
# Debian's chromium and chromium-driver for the dashboard's browser tests (tests/e2e/test_dashboard.py).
# Installs them when they are missing and this user may (root, or sudo without a password);
# otherwise says loudly that those tests will be skipped. Never fails the run by itself.
set -u
if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "*** install-browser: no apt-get here; install Chromium and ChromeDriver yourself, or the dashboard's browser tests are skipped ***" >&2
    exit 0
fi
if [ "$(id -u)" = 0 ]; then
    as_root=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    as_root="sudo -n"
else
    echo "*** install-browser: not root and no password-less sudo: the dashboard's browser tests are skipped (apt-get install chromium chromium-driver) ***" >&2
    exit 0
fi
echo "install-browser: installing Debian's chromium and chromium-driver" >&2
export DEBIAN_FRONTEND=noninteractive
$as_root apt-get install -y -q --no-install-recommends chromium chromium-driver >/dev/null \
    || { $as_root apt-get update -q >/dev/null && $as_root apt-get install -y -q --no-install-recommends chromium chromium-driver >/dev/null; } \
    || echo "*** install-browser: apt-get could not install chromium: the dashboard's browser tests are skipped ***" >&2
exit 0
