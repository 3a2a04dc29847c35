"""API tokens: created by an administrator, presented as ``Authorization: Bearer``."""
