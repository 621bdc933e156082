"""Settlement's refusal codes are stable: numbers pinned, in the 5xx range, never reused."""

from __future__ import annotations

from loancore.errors import RejectionCode, SettlementRejected


def test_codes_keep_their_numbers() -> None:
    assert {code.name: int(code) for code in RejectionCode if 500 <= code < 600} == {
        "JOINT_SHARE_BELOW_MINIMUM": 500,
        "FUNDER_NO_ROOM": 501,
        "FUNDER_LOAN_LIMIT_EXCEEDED": 502,
        "NO_FUNDING_ROUTE": 503,
        "COMMISSION_ALREADY_CLAWED_BACK": 504,
    }


def test_a_refusal_names_its_code_and_detail() -> None:
    refused = SettlementRejected(RejectionCode.NO_FUNDING_ROUTE, "no bank has room")
    assert str(refused) == "rejected NO_FUNDING_ROUTE (503): no bank has room"
    assert refused.code is RejectionCode.NO_FUNDING_ROUTE and refused.detail == "no bank has room"
