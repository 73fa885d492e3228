"""Model tests use the session champion from tests/conftest.py."""
