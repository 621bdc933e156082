import decimal

import pytest


@pytest.fixture(autouse=True)
def _no_floats() -> None:
    decimal.getcontext().traps[decimal.FloatOperation] = True
