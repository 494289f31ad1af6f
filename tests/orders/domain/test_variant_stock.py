"""Per-variant stock: the split, what a claim can take, giving back (plain rules)."""

import pytest

from services.orders.domain.offers import (
    InvalidOffer,
    StockBelowCommitted,
    VariantStock,
    resplit,
    split_stock,
    take,
    units_left,
    variant_views,
)

SIZES = ("S", "M", "XL")


def test_a_split_names_every_variant_in_the_products_order_and_sums_to_the_stock() -> None:
    assert split_stock(SIZES, {"XL": 4, "S": 10, "M": 0}, None) == (
        {"S": 10, "M": 0, "XL": 4},
        14,
    )
    assert split_stock(SIZES, {"XL": 4, "S": 10, "M": 0}, 14)[1] == 14


@pytest.mark.parametrize(
    ("variants", "split", "stock", "words"),
    [
        (SIZES, {"S": 1, "M": 1, "XL": 1, "L": 1}, None, "no variant 'L'"),
        (SIZES, {"S": 1, "M": 1}, None, "missing: XL"),
        (SIZES, {"S": 1, "M": 1, "XL": 1}, 4, "sum"),
        (SIZES, {"S": -1, "M": 1, "XL": 1}, None, "between 0"),
        ((), {"S": 1}, None, "no variants"),
    ],
)
def test_a_bad_split_is_refused_with_why(
    variants: tuple[str, ...], split: dict[str, int], stock: int | None, words: str
) -> None:
    with pytest.raises(InvalidOffer, match=words):
        split_stock(variants, split, stock)


def test_a_claim_takes_from_its_variant_and_gives_back_to_it() -> None:
    split = {"S": 2, "XL": 1}
    assert units_left(3, split, "XL") == 1
    assert units_left(3, {}, "XL") == 3  # shared: the offer's units
    after = take(split, "XL", 1)
    assert after == {"S": 2, "XL": 0} and split == {"S": 2, "XL": 1}  # a new dict
    assert take(after, "XL", -1) == split
    assert take({}, "XL", 1) == {}
    with pytest.raises(ValueError, match="below zero"):
        take(after, "XL", 1)  # never oversell a variant


def test_a_new_split_keeps_what_buyers_hold_of_each_variant() -> None:
    assert resplit({"XL": 2}, {"S": 5, "XL": 3}) == {"S": 5, "XL": 1}
    with pytest.raises(StockBelowCommitted, match="XL cannot go below 2"):
        resplit({"XL": 2}, {"S": 5, "XL": 1})


def test_views_list_every_variant_with_what_is_left() -> None:
    assert variant_views(SIZES, {"S": 1, "M": 0, "XL": 2}, 3) == [
        VariantStock("S", 1, False),
        VariantStock("M", 0, True),
        VariantStock("XL", 2, False),
    ]
    assert variant_views(["S"], {}, 0) == [VariantStock("S", None, True)]
