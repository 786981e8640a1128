"""A rejected import lists every problem of its file in one pass: bad values and key or
reference problems together, with the right count, up to MAX_ERRORS (on SQLite and on
PostgreSQL alike: the suite runs on both)."""

import pytest

from apps.commerce.models import Customer
from apps.commerce.services import MAX_ERRORS, csv_import

CUSTOMER_HEADER = "c_custkey,c_name,c_address,c_nationkey,c_phone,c_acctbal,c_mktsegment,c_comment\n"


def customer_file(tmp_path, rows: list[str]):
    path = tmp_path / "customer.csv"
    path.write_text(CUSTOMER_HEADER + "\n".join(rows) + "\n")
    return path


@pytest.mark.django_db
def test_value_and_key_problems_are_reported_together_with_the_right_count(customers_loaded, tmp_path):
    path = customer_file(
        tmp_path,
        [
            "90001,Customer#90001,Somewhere,1,11-111-111-1111,10.00,BUILDING,fine",  # line 2: good
            "90002,,Somewhere,1,11-111-111-1111,10.00,BUILDING,x",  # 3: name empty
            "1,Customer#1,Somewhere,1,11-111-111-1111,10.00,BUILDING,x",  # 4: key taken
            "90004,Customer#90004,Somewhere,1,11-111-111-1111,ten,BUILDING,x",  # 5: balance
            "90001,Customer#90001,Somewhere,1,11-111-111-1111,10.00,BUILDING,x",  # 6: key repeated
            "90006,Customer#90006,Somewhere,77,11-111-111-1111,10.00,BUILDING,x",  # 7: no nation 77
            # 8: a bad segment beside a repeated key: both are its problems.
            "90002,Customer#90008,Somewhere,1,11-111-111-1111,10.00,SHIPPING,x",
        ],
    )
    before = Customer.objects.count()

    outcome = csv_import(table="customer", path=path)

    assert not outcome.imported
    assert Customer.objects.count() == before
    assert [(error.line, error.column) for error in outcome.errors] == [
        (3, "c_name"),
        (4, "c_custkey"),
        (5, "c_acctbal"),
        (6, "c_custkey"),
        (7, "c_nationkey"),
        (8, "c_mktsegment"),
        (8, "c_custkey"),
    ]
    texts = [error.text for error in outcome.errors]
    assert texts[1] == "line 4, column c_custkey: Customer 1 already exists"
    assert texts[3] == (
        "line 6, column c_custkey: Customer 90001 appears more than once in the file (first on line 2)"
    )
    assert texts[4] == "line 7, column c_nationkey: Nation 77 does not exist"
    assert not outcome.more_errors
    assert outcome.message.startswith("Nothing was imported: customer.csv has 7 problems; the first is at ")


@pytest.mark.django_db
def test_a_bad_key_value_is_not_also_reported_as_a_missing_reference(customers_loaded, tmp_path):
    path = customer_file(
        tmp_path,
        [
            "90001,Customer#90001,Somewhere,x1,11-111-111-1111,10.00,BUILDING,x",  # 2: not a number
            "90002,Customer#90002,Somewhere,88,11-111-111-1111,10.00,BUILDING,x",  # 3: no nation 88
        ],
    )

    outcome = csv_import(table="customer", path=path)

    assert [error.text for error in outcome.errors] == [
        "line 2, column c_nationkey: not a whole number (got `x1`)",
        "line 3, column c_nationkey: Nation 88 does not exist",
    ]
    assert "has 2 problems" in outcome.message


@pytest.mark.django_db
def test_more_problems_than_the_cap_list_the_first_ones_by_line(customers_loaded, tmp_path):
    # Bad values on even lines, missing nations on odd ones: more than the cap in all.
    rows = []
    for index in range(MAX_ERRORS + 4):
        key = 90000 + index
        if index % 2:
            rows.append(f"{key},Customer#{key},Somewhere,99,11-111-111-1111,10.00,BUILDING,x")
        else:
            rows.append(f"{key},Customer#{key},Somewhere,1,11-111-111-1111,ten,BUILDING,x")
    path = customer_file(tmp_path, rows)

    outcome = csv_import(table="customer", path=path)

    assert len(outcome.errors) == MAX_ERRORS
    assert outcome.more_errors
    assert [error.line for error in outcome.errors] == list(range(2, 2 + MAX_ERRORS))
    assert f"customer.csv has more than {MAX_ERRORS} problems" in outcome.message
