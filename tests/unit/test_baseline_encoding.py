"""Stored counter baselines come back exactly as they were sampled."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from collectors.core.baselines import (
    BaselineDecodeError,
    decode_key,
    decode_state,
    encode_key,
    encode_state,
)
from collectors.core.deltas import SeriesState, marker_text


def test_keys_round_trip_with_their_types() -> None:
    key = (-3085278641555168774, 16384, 10, True)
    assert decode_key(encode_key(key)) == key
    assert decode_key(encode_key(("kasho", "it's"))) == ("kasho", "it's")


@pytest.mark.parametrize("values", [
    (9_223_372_036_854_775_807, 0.1 + 0.2, 5.0, 1e300, 5e-324, None, Decimal("12.3400")),
    (0, 0.0, -0.0),
])
def test_values_round_trip_exactly_and_floats_stay_floats(values: tuple) -> None:
    state = SeriesState(marker_text(datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC)), values)
    decoded = decode_state(encode_state(state))
    assert decoded == state
    assert [type(v) for v in decoded.values] == [type(v) for v in values]


def test_the_encoding_is_compact() -> None:
    state = SeriesState(None, (120, 33.25, 9.5, 120, 1.5, 120, 600, 3, 0, 0, 0, 0, 0.0, 0.0,
                               0, 0))
    assert len(encode_state(state)) < 80


@pytest.mark.parametrize("text", ["[]", "{}", '["m", [1]]', "not json"])
def test_a_damaged_state_is_a_decode_error(text: str) -> None:
    with pytest.raises((BaselineDecodeError, ValueError)):
        decode_state(text)
