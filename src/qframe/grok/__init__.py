"""Grok: named, typed regular expressions, compatible with Logstash's patterns.

::

    from qframe.grok import Grok
    g = Grok("%{IPORHOST:client} %{NUMBER:bytes:int}")
    g.match("fetch from 10.0.0.1 1024 bytes")   # {'client': '10.0.0.1', 'bytes': 1024}

Syntax: ``%{NAME}``, ``%{NAME:field}``, ``%{NAME:field:int|float}``, nested references,
raw regex with Oniguruma named groups ``(?<field>…)``; ``[a][b]`` or ``a.b`` field names
nest.  Semantics (Logstash's): *search* (the pattern may match anywhere), ``.`` matches
newlines, ``^``/``$`` match at line boundaries, empty captures are left out, the first
non-empty capture wins when a field name repeats.  The library: ``patterns/*.grok``
(legacy Logstash core names and capture fields, plus LOG, EVENT, OPENTSDB); pattern
files in the Logstash format (``NAME regex`` per line, ``#`` comments) and inline
patterns add to it.

The engine rule
---------------
Two engines run the same translated expression with the same results: the stdlib
``re`` (fast — about 2× the ``regex`` package on this library, 3× on the legacy one —
but it cannot be interrupted) and the ``regex`` package (slower, but its search takes a
``timeout``).
Which one a line gets is decided per pattern at compile time and per line by length:

1. The compiler estimates the worst-case backtracking of the expanded expression from its
   structure (:mod:`qframe.grok.analysis`): *exponential* when a repetition contains
   something that can match the same text in several ways (``(a+)+``, ``(\\w+\\s?)+``,
   ``(a|a)*``) or uses back-references; otherwise a polynomial degree ``d``: 1 for the
   search's start positions, +1 when there is an unbounded repetition, +1 per
   *unresolved junction* — a greedy/lazy unbounded repetition whose characters overlap
   what follows it, where no mandatory character outside them follows at a bounded
   distance (``.*?`` followed by ``"`` and then more unbounded parts).  Possessive
   quantifiers and atomic groups never give back, so they add nothing.
2. Exponential risk, or an expression ``re`` cannot compile (``\\p{L}``, ``\\G``): every
   line uses ``regex`` with the ``timeout``.
3. Otherwise a line of n characters uses ``re`` when ``n <= (R * timeout) ** (1/d)``,
   with ``R = 3e7`` (calibrated on the slowest library cases found by fuzzing: host:port
   pairs scanned from every start position run ~2e8 units of n^d per second; a plain
   ``.*x.*y`` ~1e10), else ``regex`` with the remaining time.  With the default 500 ms:
   d=2 → 3,872 characters (SYSLOGLINE), d=3 → 246 (COMBINEDAPACHELOG), d=4 → 62.

So ordinary lines take the fast engine, and a hostile line costs at most about the
timeout: it is tagged ``_groktimeout``, counted and forwarded.  ``qframe grok --explain``
prints a pattern's estimate, engine and expanded expression.
"""

from __future__ import annotations

from .analysis import Estimate, estimate
from .compiler import Capture, field_path, translate
from .engine import Grok, GrokTimeout
from .library import GrokError, PatternLibrary, parse_patterns

__all__ = [
    "Capture",
    "Estimate",
    "Grok",
    "GrokError",
    "GrokTimeout",
    "PatternLibrary",
    "estimate",
    "field_path",
    "parse_patterns",
    "translate",
]
