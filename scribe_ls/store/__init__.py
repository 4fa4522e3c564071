"""Everything under ``.scribe/``: the SQLite store (SQL and transactions only), opening and
migrating it, its thread, and the directory's layout (the one owner of those paths).

Nothing is imported here: each caller pays for the modules it uses (CLI start-up).
"""
