"""scribe-ls for AI agents: the MCP server (``scribe-ls mcp``) and its client set-up files."""
