"""Shared fixtures of the directory tests."""

from __future__ import annotations

import pytest

from bot.db.session import get_engine
from bot.directory.resolver import LocationResolver, resolver_for_engine


@pytest.fixture(scope="session")
def location_resolver(directory_db_url: str) -> LocationResolver:
    """The resolver built once per database backend."""
    return resolver_for_engine(get_engine(directory_db_url))
