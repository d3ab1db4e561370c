import random

from collectors.core.scheduler import backoff_seconds, start_offset_seconds
from collectors.migrate import advisory_lock_id


def test_backoff_is_full_jitter_and_capped() -> None:
    rng = random.Random(1)
    for failures, ceiling in [(1, 2.0), (2, 4.0), (3, 8.0), (6, 60.0), (30, 60.0)]:
        values = [backoff_seconds(failures, 2.0, 60.0, rng) for _ in range(200)]
        assert all(0 <= v <= ceiling for v in values)
        assert max(values) > ceiling * 0.8  # spread over the whole window


def test_start_offsets_are_stable_and_within_the_first_interval() -> None:
    first = start_offset_seconds("kasho", "connections", 15)
    assert first == start_offset_seconds("kasho", "connections", 15)
    assert 0 <= first < 10
    assert 0 <= start_offset_seconds("kasho", "database_size", 3) < 3


def test_advisory_lock_id_matches_golang_migrate() -> None:
    # golang-migrate: crc32(schema \x00 table \x00 database) * 1486364155, as uint32.
    import zlib

    expected = (zlib.crc32(b"public\x00schema_migrations\x00kasho") * 1486364155) & 0xFFFFFFFF
    assert advisory_lock_id("kasho", "public", "schema_migrations") == expected
    assert advisory_lock_id("kasho", "public", "schema_migrations") != advisory_lock_id(
        "kasho", "public", "kasho_ops_schema_migrations")
