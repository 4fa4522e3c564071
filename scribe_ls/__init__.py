"""scribe-ls: a developer's working session next to the code, over JSON-RPC.

``from scribe_ls import Scribe`` gives the in-process async API. Imports are lazy so that
the CLI starts fast and never loads the server stack it does not use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._version import __version__

__all__ = ["Scribe", "__version__", "fetch_scribe_context"]

if TYPE_CHECKING:
    from .core.service import Scribe
    from .worklog.legacy import fetch_scribe_context


def __getattr__(name: str) -> Any:
    if name == "Scribe":
        from .core.service import Scribe

        return Scribe
    if name == "fetch_scribe_context":
        from .worklog.legacy import fetch_scribe_context

        return fetch_scribe_context
    raise AttributeError(f"module 'scribe_ls' has no attribute {name!r}")
