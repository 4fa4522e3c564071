"""Worklogs brought up to date with the store after a crash (this process's or another's),
in the background, and what a worklog showed that the user should hear of (kept aside, an
orphan)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from ..errors import ScribeError
from ..worklog.files import EDITED_BY_HAND

if TYPE_CHECKING:
    from .ports import ServicePort

log = logging.getLogger(__name__)


async def render_stale_worklogs(scribe: ServicePort) -> None:
    """After a crash (or another process's), a worklog may be behind the store: render
    those in the background, one store visit each, so that initialize is answered at
    once and requests go in between (a big store's catch-up takes long: bench/scale.py)."""
    try:
        for key in await scribe.store.run(scribe.ledger.worklogs.stale_keys):
            if scribe.stopping:
                return
            worklogs = scribe.ledger.worklogs
            kept_before = len(worklogs.kept)
            await scribe.store.run(worklogs.render_quietly, key)
            log.info("worklog %s was out of step with the store; rendered it", key)
            for kept_key, kept, missing in worklogs.kept[kept_before:]:
                # Only entries the store lacks say the store is older; a hand edit does not.
                what = (
                    "was edited by hand"
                    if missing == EDITED_BY_HAND
                    else f"held {missing} (the store is older than it: restored, or emptied)"
                )
                scribe.tell(
                    f"the worklog of {kept_key} {what}; kept it as {kept} and wrote it again from the store"
                )
        for key, found in await scribe.store.run(scribe.ledger.worklogs.orphans):
            scribe.tell(f"the worklog of {key} {found}")
    except ScribeError as exc:
        log.warning("worklogs not brought up to date: %s", exc.message)
