"""The canonical store: ``<root>/.scribe/scribe.db``, one class made of its parts.

:mod:`~scribe_ls.store.base` (connection, transactions, rows), :mod:`~scribe_ls.store.sessions`,
:mod:`~scribe_ls.store.entries`, :mod:`~scribe_ls.store.feed` (the change feed and the
worklog's reads), :mod:`~scribe_ls.store.upkeep` (reports' roll-ups, compaction, vacuum,
integrity, import) and :mod:`~scribe_ls.store.team` (sharing). SQL and transactions only;
the rules are :mod:`scribe_ls.core`'s.
"""

from __future__ import annotations

from .base import Touched
from .entries import EntryTables
from .feed import Change, ChangeFeed, ForeignChanges
from .sessions import SessionTables
from .team import TeamTables
from .upkeep import Upkeep

__all__ = ["Change", "ForeignChanges", "Store", "Touched"]


class Store(SessionTables, EntryTables, ChangeFeed, Upkeep, TeamTables):
    """One repository's store: open it with :meth:`open`, close it with :meth:`close`."""
