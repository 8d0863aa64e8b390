"""Daemon logging in the seed's format on stderr.

``2026/11/26 05:00:00.123456 [  INFO] inventory >> text``

Levels (the seed's): panic error warn notice info debug trace.
"""

from __future__ import annotations

import logging
import sys
import time

__all__ = ["LEVELS", "setup_logging"]

NOTICE = 25
TRACE = 5
logging.addLevelName(NOTICE, "NOTICE")
logging.addLevelName(TRACE, "TRACE")

LEVELS = {
    "panic": logging.CRITICAL,
    "error": logging.ERROR,
    "warn": logging.WARNING,
    "warning": logging.WARNING,
    "notice": NOTICE,
    "info": logging.INFO,
    "debug": logging.DEBUG,
    "trace": TRACE,
}
_SHORT = {
    logging.CRITICAL: "PANIC",
    logging.ERROR: "ERROR",
    logging.WARNING: "WARN",
    NOTICE: "NOTICE",
    logging.INFO: "INFO",
    logging.DEBUG: "DEBUG",
    TRACE: "TRACE",
}


class SeedFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        t = record.created
        stamp = time.strftime("%Y/%m/%d %H:%M:%S", time.localtime(t)) + f".{int((t % 1) * 1e6):06d}"
        name = record.name
        for prefix in ("qframe.plugin.", "qframe."):
            if name.startswith(prefix):
                name = name[len(prefix) :]
                break
        level = _SHORT.get(record.levelno, record.levelname)
        text = record.getMessage()
        if record.exc_info and record.levelno >= logging.ERROR:
            text += "\n" + self.formatException(record.exc_info)
        return f"{stamp} [{level:>6}] {name} >> {text}"


def setup_logging(level: str = "info", stream=None) -> None:  # type: ignore[no-untyped-def]
    root = logging.getLogger("qframe")
    for h in list(root.handlers):
        root.removeHandler(h)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(SeedFormatter())
    root.addHandler(handler)
    root.setLevel(LEVELS.get(level, logging.INFO))
    root.propagate = False
