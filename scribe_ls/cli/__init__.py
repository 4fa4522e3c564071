"""The ``scribe-ls`` command line: argument parsing, the store verbs (no event loop) and the
verbs that run the async service.

Nothing is imported here: each caller pays for the modules it uses (CLI start-up).
"""
