"""Settings every test runs under. The layers have their own conftest: ``unit/`` (pure
parts, no process) and ``e2e/`` (the real processes, and their fixtures and helpers)."""

from __future__ import annotations

import os
import tempfile

# No background recorder unless a test asks for one (tests/e2e/test_daemon.py): every
# `scribe-ls start` here would otherwise hand its temp repository to a user daemon.
os.environ["SCRIBE_LS_DAEMON"] = "0"
# The user's own scribe-ls settings: none, whatever the machine's user has (a test that
# needs some writes them with the user_config fixture).
os.environ["XDG_CONFIG_HOME"] = tempfile.mkdtemp(prefix="scribe-ls-test-config-")
