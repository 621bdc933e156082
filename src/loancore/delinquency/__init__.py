"""Delinquency, the pure core: days past due and buckets, five-level classification and stages,
non-accrual, provisions, write-off, recovery and sale of bad loans, collection lists.

The loan (:class:`loancore.servicing.Loan`) is read, never changed here; every function returns
values (a :class:`Classification`, a :class:`ClassificationHistory`, a :class:`Booking` of events,
entries and memo postings) for the services layer to store and post in one unit of work.

- :mod:`~loancore.delinquency.aging`: :func:`dpd`, :class:`BucketScheme`;
- :mod:`~loancore.delinquency.classification`: :func:`classify`, :func:`classify_day`;
- :mod:`~loancore.delinquency.nonaccrual`: interest to and from 表外应收未收利息;
- :mod:`~loancore.delinquency.provisioning`: required allowance and the adjustment event;
- :mod:`~loancore.delinquency.writeoff`: :func:`write_off`, :func:`recover`, :func:`sell`;
- :mod:`~loancore.delinquency.lines`: the same rules for revolving credit lines;
- :mod:`~loancore.delinquency.collection`: reminder and overdue lists, CSV.

docs/delinquency.md has the rules, their sources and every entry.
"""

from loancore.delinquency.aging import (
    DEFAULT_BUCKETS,
    Bucket,
    BucketScheme,
    days_past_due,
    dpd,
    overdue_installments,
)
from loancore.delinquency.booking import Booking
from loancore.delinquency.classification import (
    CARD_2011,
    IFRS9_BACKSTOPS,
    RISK_2023,
    Classification,
    ClassificationChange,
    ClassificationHistory,
    ClassificationRules,
    DelinquencyPolicy,
    Judgement,
    RiskClass,
    StageRules,
    classify,
    classify_day,
    classify_dpd,
)
from loancore.delinquency.collection import (
    REMINDER_DAYS,
    BucketTotal,
    DueLine,
    OverdueLine,
    bucket_totals,
    due_within,
    overdue_by_bucket,
    render_csv,
)
from loancore.delinquency.lines import (
    LineDayClose,
    LineWriteOff,
    close_line_day,
    line_dpd,
    line_exposure,
    line_standing_of,
    write_off_line,
    written_off_line,
)
from loancore.delinquency.nonaccrual import (
    InterestOnBooks,
    income_on_receipt,
    interest_on_books,
    interest_paid_by,
    non_accrual_move,
    reinstate_interest,
    suspend_interest,
)
from loancore.delinquency.provisioning import (
    CLASS_RATES_2002,
    STAGE_RATES,
    ProvisionBasis,
    ProvisionRates,
    exposure,
    loan_provision,
    portfolio_required,
    provision_adjustment,
    provision_for,
    required_allowance,
)
from loancore.delinquency.writeoff import recover, sell, write_off

__all__ = [
    "CARD_2011",
    "CLASS_RATES_2002",
    "DEFAULT_BUCKETS",
    "IFRS9_BACKSTOPS",
    "REMINDER_DAYS",
    "RISK_2023",
    "STAGE_RATES",
    "Booking",
    "Bucket",
    "BucketScheme",
    "BucketTotal",
    "Classification",
    "ClassificationChange",
    "ClassificationHistory",
    "ClassificationRules",
    "DelinquencyPolicy",
    "DueLine",
    "InterestOnBooks",
    "Judgement",
    "LineDayClose",
    "LineWriteOff",
    "OverdueLine",
    "ProvisionBasis",
    "ProvisionRates",
    "RiskClass",
    "StageRules",
    "bucket_totals",
    "classify",
    "classify_day",
    "classify_dpd",
    "close_line_day",
    "days_past_due",
    "dpd",
    "due_within",
    "exposure",
    "income_on_receipt",
    "interest_on_books",
    "interest_paid_by",
    "line_dpd",
    "line_exposure",
    "line_standing_of",
    "loan_provision",
    "non_accrual_move",
    "overdue_by_bucket",
    "overdue_installments",
    "portfolio_required",
    "provision_adjustment",
    "provision_for",
    "recover",
    "reinstate_interest",
    "render_csv",
    "required_allowance",
    "sell",
    "suspend_interest",
    "write_off",
    "write_off_line",
    "written_off_line",
]
