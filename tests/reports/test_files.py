"""Report files: CSV safe against formula injection, XLSX text kept as text, stats recorded."""

import csv
import hashlib

import pytest
from openpyxl import load_workbook

from apps.reports import services

pytestmark = pytest.mark.django_db


def write(tmp_path, name: str, fmt: str = "csv", params: dict | None = None):
    definition, clean, fmt = services.report_request_validated(report=name, params=params, format=fmt)
    path = tmp_path / f"{name}.{fmt}"
    return path, services.report_file_write(definition=definition, params=clean, format=fmt, path=path)


def read_csv(path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as stream:
        return list(csv.reader(stream))


def test_csv_text_cells_that_start_like_formulas_get_an_apostrophe(tmp_path, small_data):
    path, _ = write(tmp_path, "orders_export")
    comments = [row[8] for row in read_csv(path)[1:]]
    assert comments == ["'+cmd|' /C calc'!A0", "'-2+3", "plain words"]


def test_csv_numbers_stay_numbers_even_when_negative(tmp_path, small_data):
    path, _ = write(tmp_path, "returned_items")
    header, row = read_csv(path)
    values = dict(zip(header, row, strict=True))
    assert values["c_acctbal"] == "-275.34"
    assert values["c_name"] == "'@Customer#1"
    assert values["c_address"] == '\'=HYPERLINK("http://example.invalid")'
    assert values["c_comment"] == "'=1+2"
    assert values["c_phone"] == "18-338-906-3675"


def test_xlsx_stores_formula_like_text_as_text_and_numbers_as_numbers(tmp_path, small_data):
    path, stats = write(tmp_path, "returned_items", "xlsx")
    sheet = load_workbook(path, read_only=True).active
    header, row = [[cell for cell in r] for r in sheet.iter_rows(max_row=2)]
    cells = {h.value: c for h, c in zip(header, row, strict=True)}
    assert stats.rows == 1
    assert cells["c_comment"].value == "=1+2"
    assert cells["c_comment"].data_type == "s"
    assert cells["c_address"].data_type == "s"
    assert cells["c_acctbal"].data_type == "n"
    assert float(cells["c_acctbal"].value) == -275.34
    assert cells["c_custkey"].value == 1


def test_file_stats_describe_the_written_file(tmp_path, small_data):
    path, stats = write(tmp_path, "lineitems_export")
    data = path.read_bytes()
    assert stats.rows == 3
    assert stats.size == len(data)
    assert stats.checksum == hashlib.sha256(data).hexdigest()
    assert data.startswith(b"l_orderkey,l_partkey,l_suppkey,l_linenumber,")


def test_an_empty_result_is_a_header_only_file(tmp_path, small_data):
    path, stats = write(tmp_path, "orders_export", params={"status": "P"})
    assert stats.rows == 0
    assert read_csv(path) == [
        [
            "o_orderkey",
            "o_custkey",
            "o_orderstatus",
            "o_totalprice",
            "o_orderdate",
            "o_orderpriority",
            "o_clerk",
            "o_shippriority",
            "o_comment",
        ]
    ]


class ProgressSeen(list):
    """A Progress that keeps every (done, total, message) it is told."""

    def progress(self, done: int, total: int | None = None, message: str = "") -> None:
        self.append((done, total, message))


def test_progress_is_reported_up_to_the_row_count(tmp_path, small_data):
    seen = ProgressSeen()
    definition, clean, _ = services.report_request_validated(report="orders_export", params={}, format="csv")
    services.report_file_write(
        definition=definition, params=clean, format="csv", path=tmp_path / "o.csv", progress=seen
    )
    assert seen[0] == (0, 3, "Running the query")
    assert seen[-1] == (3, 3, "3 rows written")


@pytest.mark.parametrize(
    ("report", "params", "fmt", "message"),
    [
        ("no_such_report", {}, "csv", "Unknown report 'no_such_report'; choose one of pricing_summary,"),
        ("pricing_summary", {"delta": "ninety"}, "csv", "Invalid parameters for pricing_summary: delta:"),
        ("pricing_summary", {"days": 3}, "csv", "Invalid parameters for pricing_summary: days: Extra inputs"),
        ("shipping_priority", {"segment": "SHOES"}, "csv", "segment: Input should be 'AUTOMOBILE'"),
        ("orders_export", {}, "xlsx", "orders_export is available as csv (got 'xlsx')."),
        (
            "orders_export",
            {"date_from": "1995-01-02", "date_to": "1995-01-01"},
            "csv",
            "date_from must be on or before date_to",
        ),
    ],
)
def test_bad_requests_are_refused_with_a_message(report, params, fmt, message):
    with pytest.raises(services.ReportInputError) as caught:
        services.report_request_validated(report=report, params=params, format=fmt)
    assert message in str(caught.value)
