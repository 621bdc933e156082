"""The settlement schema's version 2 (joint loans' funders, loans' platform commissions) is
added to a version-1 database in place, keeping what it held."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
import stored_kit

from loancore.adapters.sql.base import ensure_schema, schema_version
from loancore.adapters.sql.settlement import SqlSettlementStore
from loancore.adapters.sql.settlement_schema import (
    JOINT_SHARES,
    LOAN_COMMISSIONS,
    SETTLEMENT_COMPONENT,
    SETTLEMENT_TABLES,
)
from loancore.money import Rounding
from loancore.settlement import CommissionBasis, CommissionTerms, FunderKind, FundingShare

VERSION_1 = [t for t in SETTLEMENT_TABLES if t not in (JOINT_SHARES, LOAN_COMMISSIONS)]


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_a_version_1_database_is_upgraded_to_version_2_in_place(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = request.getfixturevalue("postgres_url") if kind == "postgres" else None
    engine = stored_kit.make_engine(kind, tmp_path, url)
    try:
        ensure_schema(engine, SETTLEMENT_COMPONENT, 1, VERSION_1)
        with engine.connect() as connection:
            assert not sa.inspect(connection).has_table(JOINT_SHARES.name)
        store = SqlSettlementStore(engine)
        assert schema_version(engine, SETTLEMENT_COMPONENT) == 2
        shares = [
            FundingShare(funder_id="lender", kind=FunderKind.LENDER, ratio="0.7"),
            FundingShare(funder_id="bank", kind=FunderKind.PARTNER, ratio="0.3"),
        ]
        store.save_joint("L1", shares)
        terms = CommissionTerms(
            platform_id="P1", basis=CommissionBasis.INTEREST_COLLECTED, rate="0.155",
            rounding=Rounding.HALF_EVEN,
        )  # fmt: skip
        store.save_loan_commission("L1", terms)
        assert store.joint_shares(["L1"]) == {"L1": tuple(shares)}
        assert store.loan_commissions(["L1", "L2"]) == {"L1": terms}
    finally:
        engine.dispose()
