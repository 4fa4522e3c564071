"""The legacy-compatible Markdown worklogs: their format, their files, and the legacy import.

Nothing is imported here: each caller pays for the modules it uses (CLI start-up).
"""
