"""Sharing sessions through the repository's own git remote, and the team views read from it."""
