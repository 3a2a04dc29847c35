"""How a scoring function calls its model unless told otherwise: SQL, the CLI and the
PostgreSQL functions alike. A module of its own so that the CLI imports no NumPy."""

DEFAULT_BATCH_SIZE = 1000
DEFAULT_TIMEOUT = 60.0
