"""In-memory stores: the reference implementations of the ports, for tests and embedded use."""
