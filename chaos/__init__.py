"""qframe's chaos suite (issue #21): an operator's worst day against the real daemon.

``make chaos`` (or ``python -m chaos [--quick] [SCENARIO…]``) runs every scenario of
:data:`chaos.run.SCENARIOS`, prints a table of sent / delivered / lost / duplicated /
counted losses / peak RSS, and exits 1 when a scenario failed (a loss qframe did not
count, a memory or time bound broken, a health state that hid data at risk).
"""
