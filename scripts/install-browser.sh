#!/bin/sh
# Debian's chromium and chromium-driver for the browser tests (tests/e2e/test_dashboard.py, and
# the VS Code workbench's, tests/e2e/test_vscode_workbench.py). Installs them when they are
# missing and this user may; otherwise says loudly that those tests will be skipped. Never
# fails the run by itself.
set -u
if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
    exit 0
fi
. "$(dirname "$0")/debian-packages.sh"
debian_install install-browser "the browser tests are skipped" chromium chromium-driver
exit 0
