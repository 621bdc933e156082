"""Every loancore error pickles whole: a refusal raised in a worker process (ProcessBatch, Dask)
reaches the driver with its type, message and fields."""

from __future__ import annotations

import inspect
import pickle
from typing import Any

import pytest

from loancore import errors
from loancore.errors import LoancoreError, RejectionCode
from loancore.ledger.rules import Issue

CODE = RejectionCode.NOTHING_DUE
ISSUE = Issue(RejectionCode.MEMO_BALANCE_INSUFFICIENT, "memo.interest.received:r1", "too much")

SAMPLES: dict[str, tuple[tuple[Any, ...], dict[str, Any]]] = {
    "InvalidInput": (("amount", 1, "expected money"), {}),
    "FloatNotAllowed": (("rate", 0.5), {}),
    "UnknownCurrency": (("currency", "XXX"), {}),
    "CurrencyMismatch": (("add", "CNY", "USD"), {}),
    "CalendarOutOfRange": (("china", "2040-01-01", 2004, 2030), {}),
    "NoSolution": (("irr", "no sign change"), {}),
    "NotFound": (("loan", "L1"), {}),
    "IdempotencyConflict": (("key-1", "another payload"), {}),
    "ConcurrentUpdate": (("loan", "L1", 3), {}),
    "InvariantViolation": (("broken",), {}),
    "SchemaVersionMismatch": (("ledger", 9, 5, "newer"), {}),
    "Rejected": ((CODE, "nothing"), {}),
    "PostingRejected": (((ISSUE,),), {}),
    "ServicingRejected": ((CODE, "nothing"), {}),
    "SettlementRejected": ((CODE, "nothing"), {}),
    "DelinquencyRejected": ((CODE, "nothing"), {}),
    "LenderRejected": ((CODE, "nothing"), {}),
    "QuotaRejected": ((CODE, "nothing"), {"key": "hold-1"}),
}

ERRORS = sorted(
    name
    for name, kind in inspect.getmembers(errors, inspect.isclass)
    if issubclass(kind, LoancoreError) and kind is not LoancoreError
)


def test_every_error_has_a_sample() -> None:
    assert sorted(SAMPLES) == ERRORS


@pytest.mark.parametrize("name", ERRORS)
def test_an_error_comes_back_from_pickle_whole(name: str) -> None:
    args, kwargs = SAMPLES[name]
    error = getattr(errors, name)(*args, **kwargs)
    again = pickle.loads(pickle.dumps(error))
    assert type(again) is type(error)
    assert str(again) == str(error) and again.args == error.args
    assert again.__dict__ == error.__dict__
