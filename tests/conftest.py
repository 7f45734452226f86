"""Test-wide settings: the report's estimate cache (analysis.cache) lives in a temporary directory, not the user's."""

import pytest


@pytest.fixture(autouse=True, scope="session")
def _estimate_cache(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HIEROS_BENCH_CACHE", str(tmp_path_factory.mktemp("estimate-cache")))
        yield
