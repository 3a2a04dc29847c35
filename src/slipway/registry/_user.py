"""Who runs this process: recorded as the actor of what an embedded user or client does."""

from __future__ import annotations

import getpass
import os


def os_user() -> str:
    """The operating-system user name of this process."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no passwd entry and no LOGNAME/USER, as in some containers
        return f"uid-{os.getuid()}"
