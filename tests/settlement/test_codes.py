"""Settlement's refusal codes are stable: numbers pinned, in the 5xx range, never reused."""

from __future__ import annotations

from loancore.errors import RejectionCode
from loancore.settlement import SettlementCode, SettlementRejected


def test_codes_keep_their_numbers() -> None:
    assert {code.name: int(code) for code in SettlementCode} == {
        "JOINT_SHARE_BELOW_MINIMUM": 500,
        "FUNDER_NO_ROOM": 501,
        "FUNDER_LOAN_LIMIT_EXCEEDED": 502,
        "NO_FUNDING_ROUTE": 503,
        "COMMISSION_ALREADY_CLAWED_BACK": 504,
    }


def test_codes_do_not_collide_with_the_shared_enum() -> None:
    assert not {int(c) for c in SettlementCode} & {int(c) for c in RejectionCode}


def test_a_refusal_names_its_code_and_detail() -> None:
    refused = SettlementRejected(SettlementCode.NO_FUNDING_ROUTE, "no bank has room")
    assert str(refused) == "rejected NO_FUNDING_ROUTE (503): no bank has room"
    assert refused.code is SettlementCode.NO_FUNDING_ROUTE and refused.detail == "no bank has room"
