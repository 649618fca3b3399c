"""This test session's server keys: random, like the demo's, never a constant."""

from __future__ import annotations

import secrets

TEST_JWT_SECRET = secrets.token_urlsafe(48)
TEST_CURSOR_KEY = secrets.token_urlsafe(48)
