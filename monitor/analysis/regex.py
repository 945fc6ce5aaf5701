"""Compile rule regexes with RE2 without RE2 writing to stderr.

RE2's C++ library logs every rejected pattern through absl logging (``E0000 ... re2.cc:242] Error
parsing ...`` plus an absl start-up warning) straight to file descriptor 2, outside Python's control.
``RE2::Options.log_errors = false`` turns that off at the source; the error still reaches us as
``re2.error``, which :func:`monitor.errortext.re2_error` explains. Every other option keeps RE2's
default, so patterns compile exactly as with ``re2.compile(pattern)``.
"""

from __future__ import annotations

import re2


def _quiet() -> re2.Options:
    options = re2.Options()
    options.log_errors = False
    return options


QUIET = _quiet()


def compile_pattern(pattern: str) -> re2._Regexp:
    """``re2.compile`` that raises ``re2.error`` on a bad pattern and logs nothing."""
    return re2.compile(pattern, options=QUIET)
