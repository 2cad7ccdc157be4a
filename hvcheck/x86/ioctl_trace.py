"""KVM ioctl traces: compatibility names for the readers (:mod:`hvcheck.x86.trace_readers`) and
the X010 check (:mod:`hvcheck.x86.trace_rules`). Other areas may keep importing ``read_trace``
and ``analyse_trace`` from here."""

from __future__ import annotations

from hvcheck.x86.trace_readers import ERRNO, ERRNO_NAME, Event, Trace, read_trace
from hvcheck.x86.trace_rules import analyse_trace

__all__ = ["ERRNO", "ERRNO_NAME", "Event", "Trace", "analyse_trace", "read_trace"]
