"""``loancore schedule``: loan terms in, the installment schedule and its APR disclosure out.

The terms are :class:`~loancore.amortization.LoanTerms`' fields as options, given as text and
converted by loancore (so a bad value is refused with the field's name). Output: a rich table
(default) with the totals and the annualized-rate disclosure beneath; ``--format csv`` (the rows
on stdout, the disclosure on stderr so the CSV stays clean); ``--format json`` (terms, rows,
totals and disclosure in one document; amounts and rates as exact decimal strings).
"""

from __future__ import annotations

import csv
import datetime as dt
import enum
import json
import sys
from collections.abc import Callable
from decimal import Decimal
from typing import Annotated, Any

import attrs
import typer
from rich.console import Console
from rich.table import Table

from loancore import apr
from loancore.amortization import FeeTiming, InterestBasis, LoanTerms, Method, Schedule, amortize
from loancore.cli.options import choices, parse_date, parse_decimal, parse_int, parse_rate
from loancore.dates import EndOfMonth, Frequency
from loancore.daycount import DayCount
from loancore.errors import InvalidInput, LoancoreError
from loancore.money import Rounding

__all__ = ["Disclosure", "OutputFormat", "disclosure", "schedule", "terms_from_options"]

PERCENT_PLACES = 2
"""Decimals of the percentages shown in the table (JSON carries the unrounded fractions)."""


class OutputFormat(str, enum.Enum):
    TABLE = "table"
    CSV = "csv"
    JSON = "json"


@attrs.frozen
class Disclosure:
    """The annualized rates of a schedule, unrounded fractions; None where a method does not
    apply, with the reason in ``notes`` (Regulation Z needs a standard unit period)."""

    irr_periodic: Decimal | None
    irr_nominal: Decimal | None
    irr_effective: Decimal | None
    us_actuarial: Decimal | None
    eu: Decimal | None
    notes: tuple[str, ...]


def _attempt(notes: list[str], label: str, compute: Callable[[], Any]) -> Any:
    try:
        return compute()
    except LoancoreError as error:  # one method failing must not hide the others
        notes.append(f"{label}: {error}")
        return None


def disclosure(schedule: Schedule) -> Disclosure:
    """IRR (nominal and effective), Regulation Z's actuarial APR and the EU APRC of ``schedule``."""
    notes: list[str] = []
    irr = _attempt(notes, "IRR", lambda: apr.irr_annualized(schedule))
    return Disclosure(
        irr_periodic=None if irr is None else irr.periodic,
        irr_nominal=None if irr is None else irr.nominal,
        irr_effective=None if irr is None else irr.effective,
        us_actuarial=_attempt(notes, "Regulation Z", lambda: apr.us_actuarial(schedule)),
        eu=_attempt(notes, "EU APRC", lambda: apr.eu(schedule)),
        notes=tuple(notes),
    )


def _text(_field: str, text: str) -> str:
    return text.strip()  # LoanTerms converts it (enum values, currency codes)


def _code(_field: str, text: str) -> str:
    return text.strip().upper()


_Parse = Callable[[str, str], Any]
_REQUIRED: dict[str, _Parse] = {
    "principal": parse_decimal,
    "currency": _code,
    "annual_rate": parse_rate,
    "installments": parse_int,
    "method": _text,
    "start_date": parse_date,
    "rounding": _text,
}
_OPTIONAL: dict[str, _Parse] = {
    "frequency": _text,
    "every_days": parse_int,
    "first_due_date": parse_date,
    "end_of_month": _text,
    "interest_basis": _text,
    "day_count": _text,
    "installment_multiple": parse_decimal,
    "fee_rate_per_period": parse_rate,
    "fee_timing": _text,
    "grace_periods": parse_int,
    "interest_free_periods": parse_int,
}


def terms_from_options(options: dict[str, str | None]) -> LoanTerms:
    """LoanTerms from the options' text: keys are LoanTerms' field names, None means not given
    (LoanTerms' default applies to an optional field; a required one is refused)."""
    unknown = set(options) - set(_REQUIRED) - set(_OPTIONAL)
    if unknown:
        raise InvalidInput("options", sorted(unknown), "not LoanTerms fields")
    given: dict[str, Any] = {}
    for field, parse in _REQUIRED.items():
        text = options.get(field)
        if text is None:
            raise InvalidInput(field, None, "is required")
        given[field] = parse(field, text)
    for field, parse in _OPTIONAL.items():
        text = options.get(field)
        if text is not None:
            given[field] = parse(field, text)
    return LoanTerms(**given)


def _plain(value: Any) -> Any:
    """JSON-ready: Decimals as exact strings, dates as ISO text."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    return value


def _totals(schedule: Schedule) -> dict[str, Decimal]:
    return {
        "principal": schedule.terms.principal,
        "net_disbursement": schedule.net_disbursement,
        "fee_upfront": schedule.fee_upfront,
        "total_principal": schedule.total_principal,
        "total_interest": schedule.total_interest,
        "total_fee": schedule.total_fee,
        "total_paid": schedule.total_paid,
    }


def _json_document(schedule: Schedule, rates: Disclosure) -> dict[str, Any]:
    terms = {
        field.name: _plain(getattr(schedule.terms, field.name))
        for field in attrs.fields(LoanTerms)
        if field.init
    }
    rows = [{key: _plain(value) for key, value in row.items()} for row in schedule.to_rows()]
    return {
        "terms": terms,
        "installments": rows,
        "totals": {key: _plain(value) for key, value in _totals(schedule).items()},
        "disclosure": {key: _plain(value) for key, value in attrs.asdict(rates).items()},
    }


def _percent(rate: Decimal | None) -> str:
    return "n/a" if rate is None else f"{apr.round_percent(rate, PERCENT_PLACES)}%"


def _disclosure_lines(rates: Disclosure) -> list[str]:
    lines = [
        f"APR (IRR, nominal: periodic rate x periods a year)  {_percent(rates.irr_nominal)}",
        f"APR (IRR, effective annual rate)                    {_percent(rates.irr_effective)}",
        f"APR (Regulation Z, actuarial method)                {_percent(rates.us_actuarial)}",
        f"APRC (EU Directive 2008/48/EC)                      {_percent(rates.eu)}",
    ]
    return lines + [f"  n/a {note}" for note in rates.notes]


def _summary_lines(schedule: Schedule) -> list[str]:
    currency = schedule.terms.currency
    totals = _totals(schedule)
    lines = [f"Principal {totals['principal']:,} {currency}"]
    if schedule.fee_upfront_minor:
        lines.append(
            f"Fee deducted at disbursement {totals['fee_upfront']:,}; "
            f"net disbursement {totals['net_disbursement']:,}"
        )
    lines.append(
        f"Total interest {totals['total_interest']:,}, total fee {totals['total_fee']:,}, "
        f"total paid {totals['total_paid']:,} {currency}"
    )
    return lines


def _rate_text(rate: Decimal) -> str:
    """A rate as a percentage without trailing zeros: 0.18 -> "18", 0.0365 -> "3.65"."""
    return format(apr.round_percent(rate, 6).normalize(), "f")


def _table(schedule: Schedule) -> Table:
    terms = schedule.terms
    title = (
        f"{terms.principal:,} {terms.currency} at {_rate_text(terms.annual_rate)}% a year,"
        f" {terms.installments} {terms.frequency.value} installments"
        f" ({terms.method.value}, {terms.rounding.name})"
    )
    table = Table(title=title, show_footer=True)
    table.add_column("#", "Total", justify="right")
    table.add_column("Due date", overflow="fold")
    fees = any(schedule.fee_minor)  # the fee column only for loans that charge one
    money_columns = [
        ("Principal", schedule.total_principal),
        ("Interest", schedule.total_interest),
        *([("Fee", sum(schedule.fee, Decimal(0)))] if fees else []),
        ("Payment", sum(schedule.totals, Decimal(0))),
    ]
    # Figures fold onto a second line in a narrow terminal, never end in an ellipsis.
    for name, total in money_columns:
        table.add_column(name, f"{total:,}", justify="right", overflow="fold")
    table.add_column("Balance after", justify="right", overflow="fold")
    for row in schedule:
        fee = [f"{row.fee:,}"] if fees else []
        table.add_row(
            str(row.number),
            row.due_date.isoformat(),
            f"{row.principal:,}",
            f"{row.interest:,}",
            *fee,
            f"{row.total:,}",
            f"{row.balance_after:,}",
        )
    return table


def _write_csv(schedule: Schedule) -> None:
    rows = schedule.to_rows()
    writer = csv.DictWriter(sys.stdout, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows([{key: _plain(value) for key, value in row.items()} for row in rows])


def _output_format(text: str) -> OutputFormat:
    try:
        return OutputFormat(text.strip().lower())
    except ValueError:
        raise InvalidInput("format", text, f"expected one of {choices(OutputFormat)}") from None


_PANEL_TERMS = "Loan terms"
_PANEL_OPTIONAL = "Optional terms"


def schedule(
    principal: Annotated[
        str,
        typer.Option(
            metavar="AMOUNT", help="Amount lent, e.g. 12000.00.", rich_help_panel=_PANEL_TERMS
        ),
    ],
    currency: Annotated[
        str,
        typer.Option(metavar="CODE", help="ISO 4217 code, e.g. CNY.", rich_help_panel=_PANEL_TERMS),
    ],
    rate: Annotated[
        str,
        typer.Option(
            metavar="RATE",
            help="Annual rate: 0.18 or 18%.",
            rich_help_panel=_PANEL_TERMS,
        ),
    ],
    installments: Annotated[
        str,
        typer.Option(
            metavar="N", help="Number of installments (1..1200).", rich_help_panel=_PANEL_TERMS
        ),
    ],
    method: Annotated[
        str, typer.Option(metavar="METHOD", help=choices(Method), rich_help_panel=_PANEL_TERMS)
    ],
    start: Annotated[
        str,
        typer.Option(
            metavar="DATE",
            help="Disbursement (value) date, YYYY-MM-DD.",
            rich_help_panel=_PANEL_TERMS,
        ),
    ],
    rounding: Annotated[
        str,
        typer.Option(
            metavar="MODE",
            help=f"The contract's rounding mode: {', '.join(Rounding.__members__)}.",
            rich_help_panel=_PANEL_TERMS,
        ),
    ],
    frequency: Annotated[
        str | None,
        typer.Option(
            metavar="FREQUENCY",
            help=f"{choices(Frequency)} (default monthly).",
            rich_help_panel=_PANEL_OPTIONAL,
        ),
    ] = None,
    every_days: Annotated[
        str | None,
        typer.Option(
            metavar="DAYS",
            help="Days between installments, for every_n_days.",
            rich_help_panel=_PANEL_OPTIONAL,
        ),
    ] = None,
    first_due: Annotated[
        str | None,
        typer.Option(
            metavar="DATE",
            help="An odd first due date, YYYY-MM-DD.",
            rich_help_panel=_PANEL_OPTIONAL,
        ),
    ] = None,
    end_of_month: Annotated[
        str | None,
        typer.Option(
            metavar="RULE",
            help=f"{choices(EndOfMonth)} (default clamp).",
            rich_help_panel=_PANEL_OPTIONAL,
        ),
    ] = None,
    interest_basis: Annotated[
        str | None,
        typer.Option(
            metavar="BASIS",
            help=f"{choices(InterestBasis)} (default period).",
            rich_help_panel=_PANEL_OPTIONAL,
        ),
    ] = None,
    day_count: Annotated[
        str | None,
        typer.Option(
            metavar="CONVENTION",
            help=f"For daily interest: {choices(DayCount)}.",
            rich_help_panel=_PANEL_OPTIONAL,
        ),
    ] = None,
    installment_multiple: Annotated[
        str | None,
        typer.Option(
            metavar="AMOUNT",
            help="Round the level installment to a multiple, e.g. 1.",
            rich_help_panel=_PANEL_OPTIONAL,
        ),
    ] = None,
    fee_rate: Annotated[
        str | None,
        typer.Option(
            metavar="RATE",
            help="Fee per period, of the principal: 0.006 or 0.6%.",
            rich_help_panel=_PANEL_OPTIONAL,
        ),
    ] = None,
    fee_timing: Annotated[
        str | None,
        typer.Option(
            metavar="TIMING",
            help=f"{choices(FeeTiming)} (default per_installment).",
            rich_help_panel=_PANEL_OPTIONAL,
        ),
    ] = None,
    grace_periods: Annotated[
        str | None,
        typer.Option(
            metavar="N", help="Interest-only periods at the start.", rich_help_panel=_PANEL_OPTIONAL
        ),
    ] = None,
    interest_free_periods: Annotated[
        str | None,
        typer.Option(
            metavar="N",
            help="Periods without interest at the start.",
            rich_help_panel=_PANEL_OPTIONAL,
        ),
    ] = None,
    output: Annotated[
        str, typer.Option("--format", metavar="FORMAT", help=f"Output: {choices(OutputFormat)}.")
    ] = OutputFormat.TABLE.value,
) -> None:
    """Print a loan's installment schedule and its APR disclosure (IRR, Regulation Z, EU)."""
    form = _output_format(output)
    terms = terms_from_options(
        {
            "principal": principal,
            "currency": currency,
            "annual_rate": rate,
            "installments": installments,
            "method": method,
            "start_date": start,
            "rounding": rounding,
            "frequency": frequency,
            "every_days": every_days,
            "first_due_date": first_due,
            "end_of_month": end_of_month,
            "interest_basis": interest_basis,
            "day_count": day_count,
            "installment_multiple": installment_multiple,
            "fee_rate_per_period": fee_rate,
            "fee_timing": fee_timing,
            "grace_periods": grace_periods,
            "interest_free_periods": interest_free_periods,
        }
    )
    result = amortize(terms)
    rates = disclosure(result)
    if form is OutputFormat.JSON:
        typer.echo(json.dumps(_json_document(result, rates), indent=2, ensure_ascii=False))
    elif form is OutputFormat.CSV:
        _write_csv(result)
        for line in _disclosure_lines(rates):
            typer.echo(line, err=True)
    else:
        console = Console(file=sys.stdout)
        console.print(_table(result))
        for line in [*_summary_lines(result), *_disclosure_lines(rates)]:
            console.print(line, highlight=False, markup=False)
