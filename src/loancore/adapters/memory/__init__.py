"""In-memory stores: the reference implementations of the ports, for tests and embedded use.

``ledger.MemoryLedgerStore``, ``quota.MemoryQuotaStore``, and ``uow.MemoryUnitOfWork``: one unit
of work over them, serialised, rolled back by checkpoint and restore.
"""
