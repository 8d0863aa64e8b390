"""Code that plugins share (the place a new plugin looks before writing its own).

- :mod:`.delivery`: the base of a handler that batches, retries and dead-letters
  (elasticsearch, influxdb): :class:`~.delivery.DeliveringHandler`; its options, items,
  outcomes and URL pool live in :mod:`.delivery_options` (re-exported by :mod:`.delivery`).
- :mod:`.dead_letter`: the dead-letter file of a plugin (JSON lines, rotated at a size):
  :class:`~.dead_letter.DeadLetterFile` (nats).
- :mod:`.inventory`: the inventory client of a collector (``inventory:`` option,
  :class:`~.inventory.InventoryCache`).
- :mod:`.multiline`: the ``multiline`` option and joiners (file, tcp, gelf, docker-logs).
- :mod:`.stream_server`: the options of a collector that serves TCP connections
  (TLS, idle timeout, read budget).

Import from the module (``from qframe.plugins.common.delivery import …``): this package
imports nothing itself, so a plugin pays only for what it uses.
"""
