"""Artifacts: files in the artifact store, each recorded with its size and sha256."""
