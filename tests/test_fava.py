"""The exported book opens in Fava (loancore.adapters.fava): a small servicing book exported to
beancount, Fava started on it on loopback, its balance sheet fetched over HTTP."""

from __future__ import annotations

import datetime
import socket
import urllib.request
from decimal import Decimal
from pathlib import Path

import pytest

from loancore.adapters.fava import (
    FavaServer,
    FavaUnavailable,
    fava_command,
    free_port,
    open_in_fava,
    serve_fava,
)
from loancore.errors import InvalidInput
from loancore.money import Money
from loancore.servicing import Disburse, Repay
from loancore.testing.servicing import Harness, clinic_product


def small_book() -> Harness:
    """One 12-installment clinic loan, disbursed and repaid once."""
    harness = Harness.booked(clinic_product())
    harness.apply(Disburse(event_id="payout", as_of=datetime.date(2026, 1, 15)))
    paid = Money(Decimal("1100.16"), "CNY")  # the first installment of 12,000.00 at 18%
    harness.apply(Repay(event_id="repay-1", as_of=datetime.date(2026, 2, 15), amount=paid))
    return harness


def fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=30) as response:
        assert response.status == 200
        text: str = response.read().decode("utf-8")
        return text


def test_fava_shows_the_exported_books_subjects_on_its_balance_sheet(tmp_path: Path) -> None:
    book = small_book()
    with open_in_fava(book.store, tmp_path / "book.beancount", title="clinic book") as server:
        assert server.url.startswith("http://127.0.0.1:")
        page = fetch(server.page_url("balance_sheet"))
        assert "Assets:1303-Loans:Principal" in page  # 贷款-本金, the loan's principal
        assert "clinic book" in page
        assert "Income:6011" in fetch(server.page_url("income_statement"))  # 利息收入
    assert server.process.poll() is not None  # stopped on leaving the block


def test_fava_stops_when_asked_twice(tmp_path: Path) -> None:
    server = open_in_fava(small_book().store, tmp_path / "book.beancount")
    server.stop()
    server.stop()
    assert isinstance(server, FavaServer) and server.process.returncode is not None


def test_fava_exiting_early_is_a_typed_error(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))  # bound, not listening: Fava cannot bind it and exits
        port = taken.getsockname()[1]
        with pytest.raises(FavaUnavailable, match="exited"):
            open_in_fava(small_book().store, tmp_path / "book.beancount", port=port)


@pytest.mark.parametrize("port", [0, 65536, True, "5000"])
def test_fava_command_refuses_a_bad_port(port: object) -> None:
    with pytest.raises(InvalidInput, match="port"):
        fava_command("book.beancount", host="127.0.0.1", port=port)  # type: ignore[arg-type]


def test_fava_command_runs_fava_read_only_on_the_file() -> None:
    command = fava_command("book.beancount", host="127.0.0.1", port=5001)
    assert command[1:4] == ["-m", "fava.cli", "book.beancount"]
    assert command[-5:] == ["--host", "127.0.0.1", "--port", "5001", "--read-only"]


def test_serve_fava_hands_the_balance_sheet_address_and_stops_on_interrupt(tmp_path: Path) -> None:
    pages: list[str] = []

    def look_then_interrupt(url: str) -> None:
        pages.append(fetch(url))
        raise KeyboardInterrupt  # what Ctrl-C does in `loancore fava`

    status = serve_fava(
        small_book().store,
        tmp_path / "book.beancount",
        port=free_port(),
        on_ready=look_then_interrupt,
    )
    assert status == 0
    assert "Assets:1303-Loans:Principal" in pages[0]
