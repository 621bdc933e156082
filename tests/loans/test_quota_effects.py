"""Each servicing quota effect becomes the quota command the services document."""

from __future__ import annotations

from collections.abc import Callable

from loans_kit import DAY, cny

from loancore.ports import UnitOfWork
from loancore.quota import Capture, Draw, Hold, RefundReason, RestoreRefunded, RestoreRepaid, Void
from loancore.services.servicing import quota_command
from loancore.servicing import QuotaEffect, QuotaEffectKind


def _effect(kind: QuotaEffectKind) -> QuotaEffect:
    return QuotaEffect(kind=kind, hold_id="H1", amount=cny("10.00"), key=f"k-{kind.value}")


def test_quota_effects_map_to_their_commands(make: Callable[..., UnitOfWork]) -> None:
    uow = make("memory")
    with uow:
        uow.quota.apply(
            Hold(key="H1", line_id="LINE", amount=cny("10.00"), expires_on=DAY), as_of=DAY
        )
        capture = quota_command(uow, _effect(QuotaEffectKind.CAPTURE))
        assert capture == Capture(key="k-capture", hold_id="H1", amount=cny("10.00"))
        assert quota_command(uow, _effect(QuotaEffectKind.RELEASE)) == Void(
            key="k-release", hold_id="H1"
        )
        uow.quota.apply(capture, as_of=DAY)
        released = quota_command(uow, _effect(QuotaEffectKind.RELEASE))
        assert isinstance(released, RestoreRefunded)
        assert released.reason is RefundReason.CANCELLATION and released.line_id == "LINE"
        repaid = quota_command(uow, _effect(QuotaEffectKind.RESTORE_REPAID))
        assert isinstance(repaid, RestoreRepaid) and repaid.repaid.principal == cny("10.00")
        refunded = quota_command(uow, _effect(QuotaEffectKind.RESTORE_REFUNDED))
        assert isinstance(refunded, RestoreRefunded) and refunded.reason is RefundReason.REFUND
        reuse = quota_command(uow, _effect(QuotaEffectKind.REUSE))
        assert reuse == Draw(key="k-reuse", line_id="LINE", amount=cny("10.00"))


def test_holds_read_before_give_the_same_commands_and_a_release_reads_afresh(
    make: Callable[..., UnitOfWork],
) -> None:
    """``holds`` read before the capture (the hold still open): the restores and the reuse take
    their line from it and come out as without it; the release reads the captured hold."""
    uow = make("memory")
    with uow:
        uow.quota.apply(
            Hold(key="H1", line_id="LINE", amount=cny("10.00"), expires_on=DAY), as_of=DAY
        )
        before = uow.quota.holds(["H1"])
        uow.quota.apply(quota_command(uow, _effect(QuotaEffectKind.CAPTURE)), as_of=DAY)
        for kind in QuotaEffectKind:
            effect = _effect(kind)
            assert quota_command(uow, effect, holds=before) == quota_command(uow, effect)
        released = quota_command(uow, _effect(QuotaEffectKind.RELEASE), holds=before)
        assert isinstance(released, RestoreRefunded)
