"""Settlement (pure core): merchant T+N settlement, netting, payout files and reconciliation,
merchant statements, joint-lending splits and funding routing.

- :mod:`~loancore.settlement.terms`: :class:`MerchantTerms` (schedule, cut-off, service fee);
- :mod:`~loancore.settlement.model`: captures, deductions, carry-forward, retries, lines, batches;
- :mod:`~loancore.settlement.run`: :func:`run_settlement`, one date's batch, instructions, entries;
- :mod:`~loancore.settlement.booking`: the entries of each step, through the posting templates;
- :mod:`~loancore.settlement.files`: the payout CSV out, the channel's result CSV in;
- :mod:`~loancore.settlement.reconcile`: :func:`reconcile`, a result file against a batch;
- :mod:`~loancore.settlement.statement`: :func:`merchant_statement`;
- :mod:`~loancore.settlement.joint`: :class:`JointLoan`, :class:`ShareRule`, :func:`route_funding`;
- :mod:`~loancore.settlement.joint_servicing`: a servicing loan's collections, reversals and
  write-off split among its funders (:func:`replay_splits`), recoveries and sales shared in the
  shares of the loss (:func:`recovery_split`, :func:`sale_splits`) and the partners' entries;
- :mod:`~loancore.settlement.facilitation`: a traffic platform's commission (助贷);
  :mod:`~loancore.settlement.facilitation_servicing`: a servicing loan's history as the
  activities commission follows;
- :mod:`~loancore.settlement.records`: what a store keeps beside them (line statuses, a run's
  inputs, an imported file's record);
- refusals: :class:`loancore.errors.SettlementRejected` with the 5xx :class:`~loancore.errors.RejectionCode` values.

The business calendar comes in as an argument; nothing here reads a clock, a file or a store.
docs/settlement.md explains the rules and the entries.
"""

from loancore.settlement.booking import (
    commission_accrual_entries,
    commission_paid_entries,
    confirmed_entries,
    failed_entries,
    instruction_entries,
)
from loancore.settlement.facilitation import (
    ACTIVITIES_MAX,
    CommissionAccrual,
    CommissionBasis,
    CommissionState,
    CommissionStatement,
    CommissionTerms,
    LoanActivity,
    LoanActivityKind,
    accrue_commissions,
    commission_statement,
)
from loancore.settlement.facilitation_servicing import loan_activities
from loancore.settlement.files import (
    PAYOUT_COLUMNS,
    RESULT_COLUMNS_REQUIRED,
    RESULT_ROWS_MAX,
    ChannelFileError,
    PayoutStatus,
    ResultRow,
    parse_result_csv,
    payout_csv,
)
from loancore.settlement.joint import (
    FUNDERS_MAX,
    Funder,
    FunderKind,
    FundingOption,
    FundingRejected,
    FundingShare,
    JointLoan,
    RoutedFunding,
    ShareRule,
    check_shares,
    partner_payout_entries,
    route_funding,
)
from loancore.settlement.joint_servicing import (
    COLLECTION_KINDS,
    RECOVERIES_MAX,
    JointRecovery,
    JointSplit,
    collected_amounts,
    funding_entries,
    loss_entries,
    recovery_entries,
    recovery_split,
    replay_splits,
    sale_splits,
    split_entries,
    write_off_split,
    written_off_of,
)
from loancore.settlement.model import (
    CHANNEL_LENGTH_MAX,
    MERCHANT_ID_LENGTH_MAX,
    Capture,
    CarryForward,
    Deduction,
    DeductionKind,
    PaymentInstruction,
    Retry,
    SettlementBatch,
    SettlementLine,
)
from loancore.settlement.reconcile import (
    Mismatch,
    MismatchKind,
    Reconciliation,
    reconcile,
)
from loancore.settlement.records import (
    ChannelFileRecord,
    LineStatus,
    SettlementInputs,
)
from loancore.settlement.run import (
    ITEMS_MAX,
    SettlementRun,
    run_settlement,
)
from loancore.settlement.statement import (
    MerchantStatement,
    merchant_statement,
)
from loancore.settlement.terms import (
    BUSINESS_DAY_NTH_MAX,
    LAG_DAYS_MAX,
    Cadence,
    MerchantTerms,
    ServiceFee,
    SettlementSchedule,
    effective_date,
)

__all__ = [
    "ACTIVITIES_MAX",
    "BUSINESS_DAY_NTH_MAX",
    "CHANNEL_LENGTH_MAX",
    "COLLECTION_KINDS",
    "FUNDERS_MAX",
    "ITEMS_MAX",
    "LAG_DAYS_MAX",
    "MERCHANT_ID_LENGTH_MAX",
    "PAYOUT_COLUMNS",
    "RECOVERIES_MAX",
    "RESULT_COLUMNS_REQUIRED",
    "RESULT_ROWS_MAX",
    "Cadence",
    "Capture",
    "CarryForward",
    "ChannelFileError",
    "ChannelFileRecord",
    "CommissionAccrual",
    "CommissionBasis",
    "CommissionState",
    "CommissionStatement",
    "CommissionTerms",
    "Deduction",
    "DeductionKind",
    "Funder",
    "FunderKind",
    "FundingOption",
    "FundingRejected",
    "FundingShare",
    "JointLoan",
    "JointRecovery",
    "JointSplit",
    "LineStatus",
    "LoanActivity",
    "LoanActivityKind",
    "MerchantStatement",
    "MerchantTerms",
    "Mismatch",
    "MismatchKind",
    "PaymentInstruction",
    "PayoutStatus",
    "Reconciliation",
    "ResultRow",
    "Retry",
    "RoutedFunding",
    "ServiceFee",
    "SettlementBatch",
    "SettlementInputs",
    "SettlementLine",
    "SettlementRun",
    "SettlementSchedule",
    "ShareRule",
    "accrue_commissions",
    "check_shares",
    "collected_amounts",
    "commission_accrual_entries",
    "commission_paid_entries",
    "commission_statement",
    "confirmed_entries",
    "effective_date",
    "failed_entries",
    "funding_entries",
    "instruction_entries",
    "loan_activities",
    "loss_entries",
    "merchant_statement",
    "parse_result_csv",
    "partner_payout_entries",
    "payout_csv",
    "reconcile",
    "recovery_entries",
    "recovery_split",
    "replay_splits",
    "route_funding",
    "run_settlement",
    "sale_splits",
    "split_entries",
    "write_off_split",
    "written_off_of",
]
