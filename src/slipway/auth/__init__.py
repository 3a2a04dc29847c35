"""Access control: tokens with roles, Studio's sessions, the role table and its guard,
and the audit log."""
