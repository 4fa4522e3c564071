"""The context packet (``scribe/getContext``): sections fetched in parallel, cached,
budgeted, optionally as Markdown. It reads the store through a narrow port
(:class:`ContextSource`), not the service."""

from .provider import ContextProvider
from .request import ContextRequest
from .source import ContextSource

__all__ = ["ContextProvider", "ContextRequest", "ContextSource"]
