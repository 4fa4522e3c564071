"""Each operation declared once: its fields, their rules and limits, its doc (the wire table,
the MCP tools, the CLI's flags and docs/protocol.md are derived from it).

Nothing is imported here: each caller pays for the modules it uses (CLI start-up).
"""
