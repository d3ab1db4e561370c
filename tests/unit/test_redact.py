import pytest

from collectors.core.redact import MASK, Secret, redact


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("postgresql://kasho:s3cr%40t@db:5432/kasho", "postgresql://kasho:***@db:5432/kasho"),
        ("postgres://u:p@h/db?sslmode=require", "postgres://u:***@h/db?sslmode=require"),
        ("host=db password=hunter2 user=x", "host=db password=*** user=x"),
        ("host=db PASSWORD = 'two words' user=x", "host=db PASSWORD = *** user=x"),
        ("postgresql://u@h/db?password=zz&sslmode=require",
         "postgresql://u@h/db?password=***&sslmode=require"),
        ("postgresql://u@h/db", "postgresql://u@h/db"),
        ("password authentication failed for user x", "password authentication failed for user x"),
    ],
)
def test_redact_removes_every_password_form(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_secret_never_prints_its_value() -> None:
    secret = Secret("hunter2")
    rendered = [str(secret), repr(secret), f"{secret}", f"{secret!r}", str([secret])]
    assert all("hunter2" not in text for text in rendered)
    assert MASK in str(secret)
    assert secret.reveal() == "hunter2"
