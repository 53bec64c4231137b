"""Structured log lines: `event key=value ...`, one line per record.

Callers log an event name and structured fields (`logger.info("site.created", extra={...})`);
values are never card keys, passwords or tokens.
"""

from __future__ import annotations

import json
import logging

_STANDARD_ATTRS = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class StructuredFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields = {k: v for k, v in vars(record).items() if k not in _STANDARD_ATTRS}
        line = f"{self.formatTime(record)} {record.levelname} {record.name} {record.getMessage()}"
        if fields:
            line += " " + " ".join(
                f"{key}={json.dumps(value, default=str, ensure_ascii=False)}"
                for key, value in sorted(fields.items())
            )
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line
