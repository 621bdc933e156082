"""The application layer: the lender facade over loancore's services and SQL stores.

This is the shell a product is built on (issue 14): :class:`Lender` runs the whole flow, each
call one database transaction, on an embedded SQLite file by default or on PostgreSQL given a
URL; :func:`~loancore.app.day_close.close_day` closes a day. It chooses the adapters (SQL,
calendars), so it lives beside ``services`` in the shell, not in the pure core. The credit
decision is a port (:class:`loancore.credit.CreditDecision`) with a reference policy.
"""

from loancore.app.day_close import close_day
from loancore.app.lender import DEFAULT_CHANNEL, DEFAULT_DATABASE, Lender
from loancore.app.repayment_file import (
    DebitStatus,
    FileRow,
    RefusedPayment,
    RepaymentFile,
    RepaymentImport,
    parse_repayment_file,
)
from loancore.app.values import (
    ApplicationRecord,
    DayClose,
    DueCollection,
    OrderRecord,
    OrderRequest,
    OrderStatus,
    Payment,
)

__all__ = [
    "DEFAULT_CHANNEL",
    "DEFAULT_DATABASE",
    "ApplicationRecord",
    "DayClose",
    "DebitStatus",
    "DueCollection",
    "FileRow",
    "Lender",
    "OrderRecord",
    "OrderRequest",
    "OrderStatus",
    "Payment",
    "RefusedPayment",
    "RepaymentFile",
    "RepaymentImport",
    "close_day",
    "parse_repayment_file",
]
