"""`manage.py import_data`: a CSV file into one table from the command line, all or nothing."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from tests.commerce.files import data_lines


def import_data(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("import_data", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.mark.django_db
def test_command_prints_a_progress_bar_and_a_summary(tpch_dir, customers_loaded):
    out, err = import_data("orders", str(tpch_dir / "orders.csv"))

    rows = data_lines(tpch_dir / "orders.csv")
    assert out.startswith(f"Imported {rows:,} orders from orders.csv in ")
    assert out.rstrip().endswith("rows/s).")
    assert err.startswith("orders ") and f"{rows:,}/{rows:,} rows" in err


@pytest.mark.django_db
def test_command_rejects_a_bad_file_in_one_line_and_lists_the_problems(tpch_dir, customers_loaded):
    import_data("orders", str(tpch_dir / "orders.csv"))

    with pytest.raises(CommandError) as failed:
        import_data("orders", str(tpch_dir / "orders.csv"), "--max-errors", "3")

    message = str(failed.value)
    assert "\n" not in message
    assert message == (
        "Nothing was imported: orders.csv has more than 3 problems; the first is at line 2, column "
        "o_orderkey: Order 1 already exists."
    )


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ["suppliers", "x.csv"],
            "Unknown table 'suppliers': choose one of customer, orders, lineitem, part.",
        ),
        (["orders", "/nonexistent/orders.csv"], "/nonexistent/orders.csv does not exist or is not a file."),
    ],
)
def test_command_bad_arguments_fail_in_one_line(args, expected):
    with pytest.raises(CommandError) as failed:
        import_data(*args)
    assert str(failed.value) == expected
