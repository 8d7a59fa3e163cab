# Attacks on a machine node's downlink, each of which must fail: a forged
# ACL, a replayed older ACL (a badge revoked since), a forged command, a
# replayed command, a forged repair of a node in safe mode. The node runs on
# the flash model (simulator/devices/flash.py) as in flash_check.py, under
# MicroPython (tests/security/test_node_downlink.py runs this file there) and
# CPython. Every refusal must leave the node as it was, survive a restart, and
# be an event with its reason code. `run(tmp)` -> {check name: figures}.
import json
import os

from firmware.app import Node
from firmware.safemode import SafeMode
from protocol import sign, wire
from simulator.devices.flash import Flash

from .flash_check import Hw, machine_cfg
from .signed import DOWNLINK_KEY

OTHER_KEY = "1f" * 32  # another node's key (or a guess): not this node's
ALICE = "00000000000000a1"
BOB = "00000000000000b0"
MALLORY = "00000000000000ff"
TOPIC_ACL = wire.topic("fl", "n", "acl")
TOPIC_CMD = wire.topic("fl", "n", "cmd")


def _seal(channel, msg, key=DOWNLINK_KEY):
    return sign.seal(channel, bytes.fromhex(key), msg)


def _both(ver, allow, op):
    """A message that reads as an ACL and as a command: the MAC covers the
    channel, so one signed for one channel fails on the other."""
    msg = wire.acl(ver, allow)
    msg.update(wire.cmd(op, ver, ver))
    return msg


class Watched:
    """A node on a flash folder, its events recorded as they are emitted."""

    def __init__(self, root, fs, device):
        self.root = root
        self.fs = fs
        self.device = device
        self.events = []
        self.node = self.boot()

    def boot(self):
        node = Node(machine_cfg(self.device), Hw(self.root, self.fs))
        emit = node.emit
        events = self.events

        def recorded(kind, fields):
            events.append((kind, fields))
            emit(kind, fields)

        node.emit = recorded
        self.node = node
        return node

    def refused(self):
        return [f["reason"] for kind, f in self.events if kind == "refused"]

    def acl(self):
        return self.node.role.decider.acl


def _watched(tmp, name):
    root = tmp + "/" + name
    os.mkdir(root)
    return Watched(root, Flash(), name)


def check_forged_acl_is_refused(tmp):
    w = _watched(tmp, "forged")
    node = w.node
    node.on_message(TOPIC_ACL, memoryview(_seal("acl", wire.acl(9, [ALICE]))))
    assert w.acl().ver == 9 and w.refused() == []
    forgeries = (
        _seal("acl", wire.acl(10, [ALICE, MALLORY]), OTHER_KEY),  # another key
        _seal("cmd", _both(11, [ALICE, MALLORY], "ping")),  # this key, for the other channel
        json.dumps({"v": 1, "ver": 12, "allow": [ALICE, MALLORY]}).encode(),  # unsigned
    )
    signed = _seal("acl", wire.acl(13, [ALICE, BOB]))
    at = signed.find(BOB.encode()) + 15
    tampered = bytearray(signed)
    tampered[at] = ord("f")  # bob's hash made another one's; the MAC left as it was
    for payload in forgeries + (bytes(tampered),):  # noqa: RUF005 - MicroPython has no * here
        node.on_message(TOPIC_ACL, memoryview(payload))
    assert w.refused() == ["acl_bad_mac"] * 4, w.refused()
    assert w.acl().ver == 9 and not node.role.decider.allowed(MALLORY)
    again = w.boot()  # what the cache kept
    assert again.role.decider.acl.ver == 9 and not again.role.decider.allowed(MALLORY)
    return {"refused": len(w.refused())}


def check_replayed_older_acl_is_refused(tmp):
    """Version 3 let bob in; version 9 revoked him. Version 3 sent again (it
    is signed: the api made it) must not open the machine to bob."""
    w = _watched(tmp, "replay")
    old = _seal("acl", wire.acl(3, [ALICE, BOB]))
    new = _seal("acl", wire.acl(9, [ALICE]))
    w.node.on_message(TOPIC_ACL, memoryview(old))
    w.node.on_message(TOPIC_ACL, memoryview(new))
    assert w.acl().ver == 9 and not w.node.role.decider.allowed(BOB)
    w.node.on_message(TOPIC_ACL, memoryview(new))  # the retained copy on a reconnect
    assert w.refused() == [], w.refused()
    w.node.on_message(TOPIC_ACL, memoryview(old))
    assert w.refused() == ["acl_stale"], w.refused()
    same_version = _seal("acl", wire.acl(9, [ALICE, BOB]))  # crossed publishes, or a forgery
    w.node.on_message(TOPIC_ACL, memoryview(same_version))
    assert w.refused() == ["acl_stale", "acl_stale"], w.refused()
    assert w.acl().ver == 9 and not w.node.role.decider.allowed(BOB)
    # After a power cut the version held is still the watermark.
    w.node.write_flash()
    w.boot()
    w.node.on_message(TOPIC_ACL, memoryview(old))
    assert w.acl().ver == 9 and not w.node.role.decider.allowed(BOB)
    assert w.refused() == ["acl_stale"] * 3, w.refused()
    details = [f["detail"] for kind, f in w.events if kind == "refused"]
    assert "version 3 is not newer than 9" in details[0], details
    w.node.on_message(TOPIC_ACL, memoryview(_seal("acl", wire.acl(10, [ALICE, BOB]))))
    assert w.acl().ver == 10 and w.node.role.decider.allowed(BOB)  # a newer one is taken
    return {"refused": len(w.refused())}


def _in_session(w):
    node = w.node
    node.on_message(TOPIC_ACL, memoryview(_seal("acl", wire.acl(4, [ALICE]))))
    node.role.session.badge_read(ALICE, node.clock.now_ms())
    assert node.hw.interlock.on


def check_forged_command_is_refused(tmp):
    w = _watched(tmp, "fcmd")
    _in_session(w)
    node = w.node
    config_text = json.dumps(machine_cfg("fcmd")).encode()
    node.fs.write_atomic(node.hw.config_path, config_text)
    evil = machine_cfg("fcmd")
    evil["mqtt"] = {"host": "203.0.113.66"}  # the attacker's broker
    evil["master"] = [MALLORY]
    forged = (
        _seal("cmd", wire.cmd("config", 1, 1, {"config": evil}), OTHER_KEY),
        _seal("cmd", wire.cmd("relay_off", 2, 2), OTHER_KEY),
        _seal("acl", _both(3, [], "reboot")),  # a MAC for the other channel
        json.dumps(wire.cmd("relay_off", 4, 4)).encode(),  # unsigned
    )
    for payload in forged:
        node.on_message(TOPIC_CMD, memoryview(payload))
    assert w.refused() == ["cmd_bad_mac"] * 4, w.refused()
    assert node.hw.interlock.on and node.hw.resets == 0
    assert node.fs.read(node.hw.config_path) == config_text
    assert node.command_gate().ver == -1  # no version was spent on a forgery
    return {"refused": len(w.refused())}


def check_replayed_command_is_refused(tmp):
    w = _watched(tmp, "rcmd")
    _in_session(w)
    node = w.node
    relay_off = _seal("cmd", wire.cmd("relay_off", 5, 5))
    node.on_message(TOPIC_CMD, memoryview(relay_off))
    assert not node.hw.interlock.on and w.refused() == []
    node.role.session.badge_read(ALICE, node.clock.now_ms() + 60000)  # a new session
    assert node.hw.interlock.on
    node.on_message(TOPIC_CMD, memoryview(relay_off))
    node.on_message(TOPIC_CMD, memoryview(_seal("cmd", wire.cmd("relay_off", 4, 4))))
    assert node.hw.interlock.on and w.refused() == ["cmd_stale", "cmd_stale"], w.refused()
    w.node.write_flash()
    w.boot()  # the version taken is on flash: a replay after a reboot fails too
    _in_session(w)
    w.node.on_message(TOPIC_CMD, memoryview(relay_off))
    assert w.node.hw.interlock.on and w.refused() == ["cmd_stale"] * 3, w.refused()
    w.node.on_message(TOPIC_CMD, memoryview(_seal("cmd", wire.cmd("relay_off", 6, 6))))
    assert not w.node.hw.interlock.on  # the next one is taken
    return {"refused": len(w.refused())}


class SafeHw(Hw):
    def outputs_off(self):
        self.interlock.set(False)


def _safe(root, fs, key):
    cfg = machine_cfg("safe")
    pins = {}
    pins.update(cfg["pins"])
    pins["relay"] = 34  # input only: a config error
    cfg["pins"] = pins
    cfg["downlink_key"] = key
    hw = SafeHw(root, fs)
    safe = SafeMode(cfg, ["pin relay: GPIO34 is input only"], hw)
    sent = []
    send = safe.send
    safe.send = lambda kind, fields: (sent.append((kind, fields["reason"])), send(kind, fields))
    return safe, hw, sent


def check_safe_mode_takes_only_signed_repairs(tmp):
    root = tmp + "/safe"
    os.mkdir(root)
    fs = Flash()
    safe, hw, sent = _safe(root, fs, DOWNLINK_KEY)
    repair = machine_cfg("safe")
    evil = machine_cfg("safe")
    evil["master"] = [MALLORY]
    safe.on_message(TOPIC_CMD, _seal("cmd", wire.cmd("config", 1, 1, {"config": evil}), OTHER_KEY))
    assert sent == [("refused", "cmd_bad_mac")] and hw.resets == 0, sent
    assert fs.read(hw.config_path) is None
    safe.on_message(TOPIC_CMD, _seal("cmd", wire.cmd("config", 2, 2, {"config": repair})))
    assert hw.resets == 1 and json.loads(fs.read(hw.config_path)) == repair
    # Without a usable key, no command can be trusted: only the serial console repairs.
    root2 = tmp + "/safe2"
    os.mkdir(root2)
    fs2 = Flash()
    keyless, hw2, sent2 = _safe(root2, fs2, "")
    keyless.on_message(TOPIC_CMD, _seal("cmd", wire.cmd("config", 3, 3, {"config": repair})))
    assert sent2 == [("refused", "cmd_no_key")] and hw2.resets == 0, sent2
    assert fs2.read(hw2.config_path) is None
    return {"refused": len(sent) + len(sent2)}


def check_a_node_given_a_new_key_drops_the_old_list(tmp):
    """Re-provisioned with another key, the node no longer trusts the ACL
    cached under the old one: it denies (masters aside) until the new list,
    and its first event after the boot says why."""
    w = _watched(tmp, "rekey")
    w.node.on_message(TOPIC_ACL, memoryview(_seal("acl", wire.acl(7, [ALICE]))))
    cfg = machine_cfg("rekey")
    cfg["downlink_key"] = OTHER_KEY
    node = Node(cfg, Hw(w.root, w.fs))
    assert node.role.decider.acl.ver == -1 and not node.role.decider.allowed(ALICE)
    assert "MAC" in node.acl_cache.refused, node.acl_cache.refused
    return {"refused": 1}


CHECKS = (check_forged_acl_is_refused, check_replayed_older_acl_is_refused,
          check_forged_command_is_refused, check_replayed_command_is_refused,
          check_safe_mode_takes_only_signed_repairs,
          check_a_node_given_a_new_key_drops_the_old_list)


def run(tmp):
    out = {}
    for check in CHECKS:
        out[check.__name__] = check(tmp)
    return out
