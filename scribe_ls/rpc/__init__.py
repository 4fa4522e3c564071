"""JSON-RPC over the core: the method table, wire shapes, the pygls server, transports and
the stdlib client. Nothing in the core imports from here."""
