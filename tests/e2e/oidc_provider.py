"""A local OpenID Connect provider for the sign-in tests (oidc-provider-mock), run as its own
process on loopback: `python -m tests.e2e.oidc_provider PORT USERS_JSON`.

USERS_JSON maps each subject to its extra ID-token claims (email, groups); each shows as a
one-click button on the provider's authorization page.
"""

from __future__ import annotations

import json
import sys

import werkzeug.serving
from oidc_provider_mock import User, app


def main() -> None:
    port, users = int(sys.argv[1]), json.loads(sys.argv[2])
    provider = app(user_claims=[User(sub=sub, claims=claims) for sub, claims in users.items()])
    server = werkzeug.serving.make_server("127.0.0.1", port, provider, threaded=True)
    print(f"oidc provider on 127.0.0.1:{port}", flush=True)
    server.serve_forever(poll_interval=0.1)


if __name__ == "__main__":
    main()
