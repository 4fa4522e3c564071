"""The background recorder (``scribe-ls daemon``): ``control`` talks to it (lean, sync),
``process`` is the daemon itself."""
