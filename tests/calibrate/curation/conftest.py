"""Fixtures for the curation tests (the builder lives in ``planted_fixture``)."""

from __future__ import annotations

import pytest

from tests.calibrate.curation.planted_fixture import Fixture, build_workspace


@pytest.fixture(scope="session")
def planted_ws(tmp_path_factory: pytest.TempPathFactory) -> Fixture:
    return build_workspace(tmp_path_factory.mktemp("curation") / "ws")
