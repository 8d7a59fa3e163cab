"""A change to who may use a machine reaches the node as a retained ACL within 1 s
(real Mosquitto; the subscriber logs in as the node itself), signed with that
node's key, with a version that only grows; the sweep repairs what the broker
holds when it differs from the database."""

from __future__ import annotations

import json
import queue
import time
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from sqlalchemy import select

from api.models import Site
from api.services import acl, downlink
from api.services.mqtt import MqttPublisher
from devservers import Mosquitto
from protocol import downlink as signed
from protocol import wire
from protocol.badge import badge_hash, parse_key, uid_from_hex
from tests.api.conftest import BADGE_KEY, SITE, Api, make_settings
from tests.conftest import API_USER, DEVICE_PASSWORD, TEST_PASSWORD, TEST_USER

BOUND_S = 1.0
UID = "04:A2:1B:C3"


def _opened(key: bytes, payload: bytes) -> dict[str, Any] | wire.ProtocolError:
    try:
        signed.check("acl", key, payload)  # a MAC not made with this key: refused
        return wire.decode("acl", payload)
    except wire.ProtocolError as exc:
        return exc


class AclListener:
    """A node's view: subscribed to its own acl topic, timestamps each arrival."""

    def __init__(self, broker: Mosquitto, device: str) -> None:
        """Every message must carry a MAC made with this node's key (the
        test settings' master secret), or next() fails."""
        key = downlink.Signer(make_settings("sqlite://").downlink_key).key(SITE, device)
        self.messages: queue.Queue[tuple[float, bool, Any]] = queue.Queue()
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=f"listen-{device}-{time.monotonic_ns()}"
        )
        self.client.username_pw_set(device, DEVICE_PASSWORD)
        subscribed = queue.Queue[int]()
        self.client.on_message = lambda _c, _u, m: self.messages.put(
            (time.monotonic(), bool(m.retain), _opened(key, m.payload))
        )
        self.client.on_subscribe = lambda *_a: subscribed.put(1)
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()
        self.client.subscribe(wire.topic(SITE, device, "acl"), qos=1)
        subscribed.get(timeout=5)

    def next(self, timeout: float = 5.0) -> tuple[float, bool, dict[str, Any]]:
        """The next message; what this node would refuse is raised."""
        arrived, retained, msg = self.messages.get(timeout=timeout)
        if isinstance(msg, Exception):
            raise msg
        return arrived, retained, msg

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


@pytest.fixture
def broker_api(
    mosquitto: Mosquitto, make_api: Callable[..., Api]
) -> Iterator[tuple[Api, MqttPublisher]]:
    publisher = MqttPublisher(mosquitto.login(API_USER), timeout_s=2.0)
    yield make_api(publisher=publisher), publisher
    publisher.close()


def _setup(api: Api) -> dict[str, int]:
    member = api.ok("admin", "POST", "/members", json={"code": "A", "name": "Alpha"})["id"]
    node1 = api.ok("admin", "POST", "/devices", json={"name": "node1", "role": "machine"})["id"]
    node2 = api.ok("admin", "POST", "/devices", json={"name": "node2", "role": "machine"})["id"]
    machine = api.ok(
        "coordinator",
        "POST",
        "/machines",
        json={"code": "laser", "rated_power_w": 3000, "device_id": node1},
    )["id"]
    return {"member": member, "node1": node1, "node2": node2, "machine": machine}


def _signer_and_site(api: Api) -> tuple[downlink.Signer, Site]:
    with api.session() as session:
        site = session.scalar(select(Site).where(Site.name == SITE))
    assert site is not None
    return downlink.signer(api.client.app.state.settings), site  # type: ignore[attr-defined]


def _timed(listener: AclListener, action: Callable[[], Any]) -> tuple[float, dict[str, Any]]:
    started = time.monotonic()
    action()
    arrived, _retained, msg = listener.next()
    return arrived - started, msg


def test_acl_changes_reach_the_node_within_one_second(
    mosquitto: Mosquitto, broker_api: tuple[Api, MqttPublisher]
) -> None:
    api, _ = broker_api
    ids = _setup(api)
    listener = AclListener(mosquitto, "node1")
    try:
        _, _, initial = listener.next()  # retained: the empty list published at machine creation
        assert initial["allow"] == [] and initial["ver"] >= 1
        expected = badge_hash(parse_key(BADGE_KEY), uid_from_hex(UID))
        latencies: list[float] = []
        versions = [initial["ver"]]

        def step(action: Callable[[], Any], allow: list[str]) -> None:
            latency, msg = _timed(listener, action)
            latencies.append(latency)
            assert msg["allow"] == allow
            versions.append(msg["ver"])

        # A badge of a member trained on nothing changes no machine's list.
        api.ok("coordinator", "POST", "/badges", json={"member_id": ids["member"], "uid": UID})
        with pytest.raises(queue.Empty):
            listener.next(timeout=0.5)
        training: dict[str, Any] = {}
        step(
            lambda: training.update(
                api.ok(
                    "coordinator",
                    "POST",
                    "/trainings",
                    json={"member_id": ids["member"], "machine_id": ids["machine"]},
                )
            ),
            [expected],
        )
        badge2: dict[str, Any] = {}
        second = badge_hash(parse_key(BADGE_KEY), uid_from_hex("04:11:22:33:44:55:66"))
        step(
            lambda: badge2.update(
                api.ok(
                    "coordinator",
                    "POST",
                    "/badges",
                    json={"member_id": ids["member"], "uid": "04:11:22:33:44:55:66"},
                )
            ),
            sorted([expected, second]),
        )
        step(lambda: api.ok("coordinator", "DELETE", f"/badges/{badge2['id']}"), [expected])
        step(
            lambda: api.ok("admin", "PATCH", f"/members/{ids['member']}", json={"active": False}),
            [],
        )
        step(
            lambda: api.ok("admin", "PATCH", f"/members/{ids['member']}", json={"active": True}),
            [expected],
        )
        step(lambda: api.ok("coordinator", "DELETE", f"/trainings/{training['id']}"), [])

        assert versions == sorted(versions) and len(set(versions)) == len(versions)
        print(f"ACL change -> node latencies (ms): {[round(x * 1000, 1) for x in latencies]}")
        assert max(latencies) < BOUND_S, latencies
        # A node that connects later gets the newest list at once, flagged retained.
        late = AclListener(mosquitto, "node1")
        try:
            _, retained, msg = late.next()
            assert retained and msg["ver"] == versions[-1] and msg["allow"] == []
        finally:
            late.close()
        assert (
            api.ok("coordinator", "GET", f"/machines/{ids['machine']}/acl")["version"]
            == versions[-1]
        )
    finally:
        listener.close()


def test_moving_a_machine_to_another_device(
    mosquitto: Mosquitto, broker_api: tuple[Api, MqttPublisher]
) -> None:
    api, _ = broker_api
    ids = _setup(api)
    api.ok("coordinator", "POST", "/badges", json={"member_id": ids["member"], "uid": UID})
    api.ok(
        "coordinator",
        "POST",
        "/trainings",
        json={"member_id": ids["member"], "machine_id": ids["machine"]},
    )
    old, new = AclListener(mosquitto, "node1"), AclListener(mosquitto, "node2")
    try:
        before = old.next()[2]
        assert len(before["allow"]) == 1  # retained state before the move
        started = time.monotonic()
        api.ok(
            "coordinator", "PATCH", f"/machines/{ids['machine']}", json={"device_id": ids["node2"]}
        )
        at_old, _, cleared = old.next()
        at_new, _, moved = new.next()
        assert cleared["allow"] == [] and len(moved["allow"]) == 1
        # Each node's versions grow on their own counter.
        assert cleared["ver"] > before["ver"]
        assert max(at_old, at_new) - started < BOUND_S
    finally:
        old.close()
        new.close()


def test_expiry_and_broker_outage_are_caught_up_by_the_sweep(
    mosquitto: Mosquitto, broker_api: tuple[Api, MqttPublisher]
) -> None:
    api, publisher = broker_api
    ids = _setup(api)
    api.ok("coordinator", "POST", "/badges", json={"member_id": ids["member"], "uid": UID})
    today = date.today()
    signer, site = _signer_and_site(api)
    api.ok(
        "coordinator",
        "POST",
        "/trainings",
        json={
            "member_id": ids["member"],
            "machine_id": ids["machine"],
            "expires_on": today.isoformat(),
        },
    )
    listener = AclListener(mosquitto, "node1")
    try:
        _, _, granted = listener.next()
        assert len(granted["allow"]) == 1
        # Nothing changed: nothing sent (node2 serves no machine: its empty list goes once).
        assert acl.sweep(api.factory, publisher, signer, site, today) == ["node2"]
        assert acl.sweep(api.factory, publisher, signer, site, today) == []
        tomorrow = today + timedelta(days=1)
        assert acl.sweep(api.factory, publisher, signer, site, tomorrow) == ["node1"]
        _, _, expired = listener.next()
        assert expired["allow"] == [] and expired["ver"] == granted["ver"] + 1
    finally:
        listener.close()

    # Broker down: the change is stored anyway; the sweep publishes it once the broker is back.
    mosquitto.stop()
    response = api.call(
        "coordinator",
        "POST",
        "/trainings",
        json={"member_id": ids["member"], "machine_id": ids["machine"]},
    )
    assert response.status_code == 201
    assert api.ok("coordinator", "GET", f"/machines/{ids['machine']}/acl")["allow"] != []
    stored = api.ok("coordinator", "GET", f"/machines/{ids['machine']}/acl")["version"]
    mosquitto.start()
    listener = AclListener(mosquitto, "node1")
    try:
        _, _, stale = listener.next()
        assert stale["allow"] == []  # the broker still holds the last confirmed list
        assert stale["ver"] < stored  # the database is ahead: the version was committed
        assert acl.sweep(api.factory, publisher, signer, site, tomorrow) == ["node1"]
        _, _, fresh = listener.next()
        assert len(fresh["allow"]) == 1 and fresh["ver"] > stored
        machine_acl = api.ok("coordinator", "GET", f"/machines/{ids['machine']}/acl")
        assert machine_acl["version"] == fresh["ver"]
    finally:
        listener.close()


def test_acl_payload_is_what_the_wire_protocol_accepts(
    mosquitto: Mosquitto, broker_api: tuple[Api, MqttPublisher]
) -> None:
    api, _ = broker_api
    ids = _setup(api)
    for k in range(40):
        uid = f"04:00:00:{k:02x}"
        api.ok("coordinator", "POST", "/badges", json={"member_id": ids["member"], "uid": uid})
    api.ok(
        "coordinator",
        "POST",
        "/trainings",
        json={"member_id": ids["member"], "machine_id": ids["machine"]},
    )
    listener = AclListener(mosquitto, "node1")
    try:
        _, _, msg = listener.next()
        assert len(msg["allow"]) == 40 and msg["allow"] == sorted(msg["allow"])
        assert all(len(h) == 16 for h in msg["allow"])
        raw = json.dumps(msg).encode()
        assert wire.decode("acl", raw)["ver"] == msg["ver"]
    finally:
        listener.close()


def test_an_allow_list_above_the_node_limit_is_refused(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The api never builds an ACL a machine node cannot hold: the change that
    would is refused with 409, naming the limit, and stores nothing."""
    monkeypatch.setattr(wire, "MAX_ACL_BADGES", 2)
    ids = _setup(api)
    for k in range(2):
        badge = {"member_id": ids["member"], "uid": f"04:00:01:{k:02x}"}
        api.ok("coordinator", "POST", "/badges", json=badge)
    training = {"member_id": ids["member"], "machine_id": ids["machine"]}
    api.ok("coordinator", "POST", "/trainings", json=training)
    before = api.counts()
    third = api.call("coordinator", "POST", "/badges",
                     json={"member_id": ids["member"], "uid": "04:00:01:ff"})
    assert third.status_code == 409, third.text
    assert "at most 2" in third.json()["detail"], third.text
    assert api.counts() == before
    other = api.ok("admin", "POST", "/members", json={"code": "B", "name": "Beta"})["id"]
    api.ok("coordinator", "POST", "/badges", json={"member_id": other, "uid": "04:00:02:00"})
    before = api.counts()
    refused = api.call("coordinator", "POST", "/trainings",
                       json={"member_id": other, "machine_id": ids["machine"]})
    assert refused.status_code == 409 and "at most 2" in refused.json()["detail"], refused.text
    assert api.counts() == before
    # Deactivated then reactivated with room taken meanwhile: refused too.
    api.ok("admin", "PATCH", f"/members/{ids['member']}", json={"active": False})
    api.ok("coordinator", "POST", "/trainings",
           json={"member_id": other, "machine_id": ids["machine"]})
    back = api.call("admin", "PATCH", f"/members/{ids['member']}", json={"active": True})
    assert back.status_code == 409, back.text
    assert len(api.ok("coordinator", "GET", f"/machines/{ids['machine']}/acl")["allow"]) == 1


def test_each_node_gets_its_own_key(
    mosquitto: Mosquitto, broker_api: tuple[Api, MqttPublisher]
) -> None:
    """The ACL verifies with its node's key (the one provisioning writes into
    config.json), and with no other node's."""
    api, _ = broker_api
    _setup(api)
    settings = api.client.app.state.settings  # type: ignore[attr-defined]
    raw: queue.Queue[bytes] = queue.Queue()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="raw-node1")
    client.username_pw_set("node1", DEVICE_PASSWORD)
    client.on_message = lambda _c, _u, m: raw.put(bytes(m.payload))
    client.connect(mosquitto.host, mosquitto.port)
    client.loop_start()
    try:
        client.subscribe(wire.topic(SITE, "node1", "acl"), qos=1)
        payload = raw.get(timeout=5)
    finally:
        client.loop_stop()
        client.disconnect()
    key1 = bytes.fromhex(downlink.device_key(settings, SITE, "node1"))
    key2 = bytes.fromhex(downlink.device_key(settings, SITE, "node2"))
    assert len(key1) == 32 and key1 != key2
    signed.check("acl", key1, payload)
    with pytest.raises(signed.Refused):
        signed.check("acl", key2, payload)
    other_site = bytes.fromhex(downlink.device_key(settings, "elsewhere", "node1"))
    with pytest.raises(signed.Refused):
        signed.check("acl", other_site, payload)


def _publish_as_superuser(broker: Mosquitto, topic: str, payload: bytes) -> None:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="intruder")
    client.username_pw_set(TEST_USER, TEST_PASSWORD)
    client.connect(broker.host, broker.port)
    client.loop_start()
    try:
        client.publish(topic, payload, qos=1, retain=True).wait_for_publish(5)
    finally:
        client.loop_stop()
        client.disconnect()


def test_the_sweep_repairs_what_the_broker_holds(
    mosquitto: Mosquitto, broker_api: tuple[Api, MqttPublisher]
) -> None:
    """What the broker holds retained is compared with the database, not a
    digest of the api's own last publish: a forged list, an older signed list
    put back, and a signed list of another version are all replaced, with a
    version above the one held; a matching one is left alone."""
    api, publisher = broker_api
    ids = _setup(api)
    api.ok("coordinator", "POST", "/badges", json={"member_id": ids["member"], "uid": UID})
    signer, site = _signer_and_site(api)
    today = acl.site_today(site)
    topic = wire.topic(SITE, "node1", "acl")
    listener = AclListener(mosquitto, "node1")
    try:
        _, _, empty = listener.next()
        old_payload = publisher.retained(topic)[topic]  # version with nobody allowed
        api.ok("coordinator", "POST", "/trainings",
               json={"member_id": ids["member"], "machine_id": ids["machine"]})
        _, _, granted = listener.next()
        assert len(granted["allow"]) == 1 and granted["ver"] > empty["ver"]
        acl.sweep(api.factory, publisher, signer, site, today)  # node2's empty list
        assert acl.sweep(api.factory, publisher, signer, site, today) == []

        forged = wire.acl(granted["ver"] + 1000, [granted["allow"][0], "00000000000000ff"])
        forged["mac"] = "00" * 32
        _publish_as_superuser(mosquitto, topic, json.dumps(forged).encode())
        with pytest.raises(signed.Refused):
            listener.next()  # the listener, like a node, refuses the forged list
        assert acl.sweep(api.factory, publisher, signer, site, today) == ["node1"]
        _, _, repaired = listener.next()
        assert repaired["allow"] == granted["allow"] and repaired["ver"] > granted["ver"]

        # A replay of an older list, signed by the api: the node refuses it,
        # the sweep puts the database's list back over it.
        _publish_as_superuser(mosquitto, topic, old_payload)
        _, _, replayed = listener.next()
        assert replayed["allow"] == [] and replayed["ver"] < repaired["ver"]
        assert acl.sweep(api.factory, publisher, signer, site, today) == ["node1"]
        _, _, back = listener.next()
        assert back["allow"] == granted["allow"] and back["ver"] > repaired["ver"]
        assert acl.sweep(api.factory, publisher, signer, site, today) == []
    finally:
        listener.close()
