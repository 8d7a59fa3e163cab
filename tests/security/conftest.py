"""What the attacks share: an observer that reads every topic of the site
broker over TLS, to show what a refused publish did not deliver."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from devservers import SiteMosquitto
from tests.broker.probe import Probe
from tests.conftest import OBSERVER


@pytest.fixture
def observer(site_mosquitto: SiteMosquitto) -> Iterator[Probe]:
    with Probe(site_mosquitto.tls_login(OBSERVER)) as probe:
        assert probe.connect().value == 0
        assert probe.subscribe("#")
        yield probe
