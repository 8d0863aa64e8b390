"""Operators' tools on the ops HTTP server: ``/tap``, ``/graph``, ``/ui`` and the
``qframe tap``, ``qframe top`` and ``qframe test`` commands."""
