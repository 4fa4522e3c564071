"""The rules of sessions and entries, and the async service that runs them (no pygls here).

Nothing is imported here: each caller pays for the modules it uses (CLI start-up).
"""
