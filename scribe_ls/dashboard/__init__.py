"""The live web dashboard (``scribe-ls dashboard``): static pages over the WebSocket transport."""
