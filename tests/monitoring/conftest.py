"""Monitoring tests flush the in-process recorder explicitly (no background thread runs in
Django's test environment) and start from an empty one."""

import pytest

from apps.monitoring.recorder import recorder
from tests.monitoring.helpers import clear_redis


@pytest.fixture(autouse=True)
def empty_recorder():
    recorder.reset()
    clear_redis()
    yield recorder
    recorder.reset()
    clear_redis()


@pytest.fixture
def observed(monkeypatch):
    """Every observation the recorder gets, as (kind, key, ms): the true values to compare with."""
    seen: list[tuple[str, str, float]] = []
    original = recorder.observe

    def spy(kind, key, ms, **kwargs):
        seen.append((kind, key, ms))
        return original(kind, key, ms, **kwargs)

    monkeypatch.setattr(recorder, "observe", spy)
    return seen
