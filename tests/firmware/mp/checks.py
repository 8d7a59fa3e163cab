# Checks of the firmware's pure logic that run unchanged under MicroPython
# (tools/mpy/run.mjs) and CPython (tests/firmware/test_logic.py). Plain
# asserts; `run(tmp_dir, golden)` runs them all and returns their names.
# Written in the MicroPython subset: no f-strings with expressions that
# MicroPython lacks, no typing, no dataclasses.
import json
import math
import os
import sys

from firmware.clock import Clock
from firmware.logic import modbus
from firmware.logic.acl import SAME, STALE, TAKEN, Acl, Decider, pack
from firmware.logic.backoff import Backoff
from firmware.logic.energy import EnergyCounter, OnTimer, RegisterDelta
from firmware.logic.presence import Presence
from firmware.logic.pulses import watts_from_pulses, wh_from_pulses
from firmware.logic.rms import RmsAccumulator
from firmware.logic.session import Outputs, Session
from firmware.logic.stamp import Stamper
from firmware.net import mqtt_codec as codec
from firmware.store import fsutil
from firmware.store.counters import CounterStore, SavePolicy
from firmware.store.outbox import MAX_PAYLOAD, SEGMENT, Outbox
from protocol import acl as aclwire
from protocol import downlink, sign, wire
from protocol.badge import badge_hash, parse_key

from .signed import DOWNLINK_KEY, sealed

KEY = downlink.key_from_hex(DOWNLINK_KEY)


class FakeTicks:
    def __init__(self, start=0, wrap=0):
        self.t = start
        self.wrap = wrap

    def ticks_ms(self):
        return self.t % self.wrap if self.wrap else self.t

    def ticks_diff(self, a, b):
        if not self.wrap:
            return a - b
        d = (a - b) % self.wrap
        return d - self.wrap if d >= self.wrap // 2 else d


def _no_sleep(ms):
    return None


def check_clock_never_wraps():
    ticks = FakeTicks(start=2**30 - 500, wrap=2**30)
    clock = Clock(ticks.ticks_ms, ticks.ticks_diff, _no_sleep)
    for _ in range(5):
        ticks.t += 300
        clock.now_ms()
    assert clock.now_ms() == 1500, clock.now_ms()
    assert not clock.trusted
    clock.start_after(1700000000000)
    assert clock.unix_ms() == 1700000000001
    clock.set_unix_ms(1800000000000)
    ticks.t += 10
    assert clock.unix_ms() == 1800000000010 and clock.trusted


def check_stamper_strictly_increasing():
    ticks = FakeTicks(start=0)
    clock = Clock(ticks.ticks_ms, ticks.ticks_diff, _no_sleep)
    clock.set_unix_ms(1700000000000)
    st = Stamper(clock, 41)
    seqs = []
    last = {}
    for k in range(6):
        ch = "event" if k % 2 else "telemetry"
        seq, ts, tq = st.next(ch)
        assert tq == 1
        assert ts > last.get(ch, 0)
        last[ch] = ts
        seqs.append(seq)
    assert seqs == [42, 43, 44, 45, 46, 47]
    assert st.last_ts() == 1700000000002


def check_protocol_messages():
    msg = wire.telemetry(1, 1700000000000, {"wh": 5, "on_s": 60}, {"w": 12.5, "a": 0.1})
    data = wire.encode("telemetry", msg)
    back = wire.decode("telemetry", data)
    assert back["ct"]["wh"] == 5 and back["rd"]["w"] == 12.5
    ev = wire.event(2, 1700000000001, "session_start", {"sid": 1, "badge": "0123456789abcdef"})
    assert wire.decode("event", wire.encode("event", ev))["sid"] == 1
    try:
        wire.encode("telemetry", wire.telemetry(1, 1700000000000, {"wh": -1}, {}))
        raise AssertionError("negative counter accepted")
    except wire.ProtocolError as exc:
        assert exc.code == "counter_negative"


def check_badge_hash(golden):
    key = parse_key(golden["key"])  # the key as a config holds it: hex text
    uid = bytes.fromhex(golden["uid"])
    assert badge_hash(key, uid) == golden["hash"], badge_hash(key, uid)
    assert parse_key(golden["key"].upper()) == key
    key_text = golden["key"]
    for bad in ("test-badge-key", key_text[:30], key_text + "0", key_text[:-1] + "g"):
        try:
            parse_key(bad)
            raise AssertionError("bad badge key accepted: " + bad)
        except ValueError:
            pass


def _refused(channel, key, payload):
    try:
        downlink.check(channel, key, payload)
    except downlink.Refused as exc:
        return exc.code
    return "ok"


def check_downlink_mac(golden):
    """The MAC against CPython's own hmac (golden), and every way to get it
    wrong refused before the payload is read."""
    key = bytes.fromhex(golden["mac_key"])
    head = golden["mac_head"].encode()
    payload = head + b', "mac": "' + golden["mac"].encode() + b'"}'
    assert downlink.check("cmd", key, payload) == bytes.fromhex(golden["mac"])
    assert wire.decode("cmd", payload)["ver"] == 9
    sealed_msg = sign.seal("cmd", key, wire.cmd("ping", 7, 9))
    mac = bytes.fromhex(sealed_msg[-66:-2].decode())
    assert downlink.check("cmd", key, memoryview(sealed_msg)) == mac
    other = bytes(31) + b"\x01"
    flipped = payload.replace(b'"ping"', b'"pong"')
    upper = payload[:-66] + payload[-66:-2].upper() + payload[-2:]
    for channel, k, data in (("cmd", other, payload), ("acl", key, payload), ("cmd", key, flipped),
                             ("cmd", key, head + b"}"), ("cmd", key, upper), ("cmd", key, b""),
                             ("cmd", key, payload[:-1] + b" }")):
        assert _refused(channel, k, data) == "bad_mac", (channel, data[-20:])
    assert downlink.key_from_hex(DOWNLINK_KEY) == KEY
    for text in ("", DOWNLINK_KEY[:-2], DOWNLINK_KEY.upper(), DOWNLINK_KEY[:-1] + "g", None):
        try:
            downlink.key_from_hex(text)
            raise AssertionError("key %r accepted" % text)
        except ValueError:
            pass


def check_rms_of_sine():
    n = 200
    amp = 1000
    samples = [2048 + int(amp * math.sin(2 * math.pi * k / 40) + 1000.5) - 1000 for k in range(n)]
    acc = RmsAccumulator(2000)  # deliberately off: the residual bias is removed
    for start in range(0, n, 40):
        acc.add(samples[start : start + 40], 40)
    value = acc.finish()
    assert abs(value - amp / math.sqrt(2)) < 1.0, value
    assert acc.bias == 2048, acc.bias
    assert acc.finish() == 0.0


def check_energy_counter():
    e = EnergyCounter()
    for _ in range(3600):
        e.add_power(1000.0, 1000)  # 1 kW for an hour in 1 s steps
    assert e.wh == 1000 and e.rem_mj == 0, (e.wh, e.rem_mj)
    e.add_power(1.0, 1800000)  # 0.5 Wh
    assert e.wh == 1000 and e.rem_mj == 1800000
    e.add_power(1.0, 1800000)
    assert e.wh == 1001 and e.rem_mj == 0
    e.add_power(-5.0, 1000)
    assert e.wh == 1001
    t = OnTimer()
    t.add(True, 1500)
    t.add(False, 5000)
    t.add(True, 600)
    assert t.seconds == 2
    d = RegisterDelta()
    assert [d.step(v) for v in (100, 105, 105, 3, 10)] == [0, 5, 0, 3, 7]


def check_pulses():
    assert wh_from_pulses(2500, 1000) == 2500
    assert wh_from_pulses(2500, 800) == 3125
    assert abs(watts_from_pulses(10, 10000, 1000) - 3600.0) < 1e-6


def check_modbus():
    req = modbus.read_request(1, 0, 10)
    # The frame in the PZEM-004T v3 manual.
    assert req == bytes((0x01, 0x04, 0x00, 0x00, 0x00, 0x0A, 0x70, 0x0D)), req
    reply = modbus.pzem_encode(1, 230.1, 5.432, 1234.5, 987654, 50.0, 0.95)
    regs = modbus.check_reply(reply, 1, 10)
    volts, amps, watts, wh, _, pf = modbus.pzem_decode(regs)
    assert abs(volts - 230.1) < 1e-6 and abs(amps - 5.432) < 1e-6
    assert abs(watts - 1234.5) < 1e-6 and wh == 987654 and abs(pf - 0.95) < 1e-6
    bad = bytearray(reply)
    bad[5] ^= 1
    for frame, reason in ((bytes(bad), "bad CRC"), (reply[:10], "short")):
        try:
            modbus.check_reply(frame, 1, 10)
            raise AssertionError("accepted " + reason)
        except modbus.ModbusError as exc:
            assert reason in str(exc), str(exc)


def check_presence():
    p = Presence(misses=3)
    a = b"\x01\x02\x03\x04"
    changes = [p.poll(x) for x in (None, a, None, a, None, None, None, a)]
    assert changes == [False, True, False, False, False, False, True, True], changes


def check_backoff():
    values = iter((0.0, 0.99, 0.5, 0.5, 0.5, 0.5, 0.5))
    b = Backoff(1000, 16000, lambda: next(values))
    got = [b.next_ms() for _ in range(7)]
    assert got[0] == 750 and got[1] == 2490, got
    assert got[2:] == [4000, 8000, 16000, 16000, 16000], got
    b.reset()
    assert b.attempt == 0


def _acl(ver, hashes, master=None):
    payload = sealed("acl", wire.acl(ver, hashes, master))
    return Acl.from_payload(payload, downlink.check("acl", KEY, payload))


def check_acl_matching():
    allowed = ["%016x" % (k * 7919) for k in range(1, 300)]
    acl = _acl(3, allowed, ["ffffffffffffffff"])
    assert len(acl) == 299
    for h in allowed:
        assert acl.allows(h), h
    assert not acl.allows("0000000000000001")
    assert acl.allows("ffffffffffffffff") and acl.is_master("ffffffffffffffff")
    d = Decider(Acl(), ["aaaaaaaaaaaaaaaa"])
    assert not d.allowed(allowed[0])  # never received an ACL: deny
    assert d.allowed("aaaaaaaaaaaaaaaa")  # but the configured master opens
    assert d.offer(acl) == TAKEN and d.allowed(allowed[0])
    assert d.offer(_acl(3, allowed, ["ffffffffffffffff"])) == SAME  # the retained copy again
    assert d.offer(_acl(3, [])) == STALE and d.allowed(allowed[0])  # same version, other list
    assert d.offer(_acl(4, allowed[1:])) == TAKEN and not d.allowed(allowed[0])
    assert d.offer(_acl(3, allowed)) == STALE and not d.allowed(allowed[0])  # a replay


def _acl_answer(decoder, payload):
    try:
        return decoder(payload)
    except wire.ProtocolError as exc:
        return exc.code


def check_acl_parser_matches_wire():
    """protocol/acl.py (the node's parser) and wire.decode agree on every
    payload: same lists when valid, same error code when not. (The node
    checks the MAC member before, on the bytes: protocol/downlink.py.)"""
    hashes = ["%016x" % (k * 7919) for k in range(1, 40)]
    ok = sealed("acl", wire.acl(7, hashes, ["ffffffffffffffff"]))
    mac = b', "mac": "' + b"0" * 64 + b'"'
    n = wire.MAX_ACL_BADGES
    payloads = [
        ok, sealed("acl", wire.acl(0, [])),
        b'{ "x": {"a": [1, "]", {"b": null}]}, "allow" :[ "00000000000000ff" ,"0a00000000000000"]'
        b' , "ver":3,"v":1, "t": true, "f": -2.5e3' + mac + b' }',
        b'{"ver": 1, "allow": []}', b'{"v": 2, "ver": 1, "allow": []}',
        b'{"v": "1", "ver": 1, "allow": []}', b'{"v": 1, "allow": []}',
        b'{"v": 1, "ver": -1, "allow": []}', b'{"v": 1, "ver": 1.5, "allow": []}',
        b'{"v": 1, "ver": true, "allow": []}',
        b'{"v": 1, "ver": 99999999999999999999, "allow": []}',
        b'{"v": 1, "ver": 1}', b'{"v": 1, "ver": 1, "allow": "x"}',
        b'{"v": 1, "ver": 1, "allow": ["00000000000000FF"]}',
        b'{"v": 1, "ver": 1, "allow": ["00ff"]}', b'{"v": 1, "ver": 1, "allow": [255]}',
        b'{"v": 1, "ver": 1, "allow": ["0000000000000002", "0000000000000001"]}',
        b'{"v": 1, "ver": 1, "allow": [], "master": ["0000000000000002", "0000000000000001"]}',
        b'{"v": 1, "ver": 1, "allow": [], "master": 5}',
        b'{"v": 1, "ver": 1, "allow": []', b'{"v": 1, "ver": 1, "allow": []} x', b'[]', b'',
        b'{"v": 1, "ver": 1, "allow": [' + b", ".join(b'"%016x"' % k for k in range(n + 1)) + b']}',
        b" " * (wire.MAX_ACL_PAYLOAD + 1),
    ]
    codes = []
    for payload in payloads:
        mine = _acl_answer(aclwire.unpack, payload)
        theirs = _acl_answer(lambda p: wire.decode("acl", p), payload)
        if isinstance(theirs, dict):
            assert not isinstance(mine, str), (payload[:80], mine)
            ver, allow, n_allow, master, n_master = mine
            assert ver == theirs["ver"] and n_allow == len(theirs["allow"]), payload[:80]
            assert bytes(allow[: 8 * n_allow]) == pack(theirs["allow"]), payload[:80]
            assert bytes(master[: 8 * n_master]) == pack(theirs.get("master", [])), payload[:80]
            codes.append("ok")
        else:
            assert mine == theirs, (payload[:80], mine, theirs)
            codes.append(mine)
    assert codes.count("ok") == 3 and "not_sorted" in codes and "too_many_badges" in codes, codes


def check_config_refuses_unsafe_pins_and_names():
    from firmware import config

    base = {"site": "s", "device": "d", "role": "heating", "mqtt": {"host": "10.0.0.2"},
            "downlink_key": DOWNLINK_KEY}
    good = dict(base, sensors={"t_flow": "28aaaaaaaaaaaaaa"})
    assert config.parse(json.dumps(good))[1] == []
    upper = dict(base, sensors={"t_Flow": "28aaaaaaaaaaaaaa"})
    errors = config.parse(json.dumps(upper))[1]
    assert len(errors) == 1 and "only a-z 0-9 _ -" in errors[0], errors
    for pin, words in ((12, "strapping"), (3, "console"), (20, "not an ESP32 GPIO"),
                       (9, "flash chip"), (36, "input only")):
        errors = config.parse(json.dumps(dict(good, pins={"onewire": pin})))[1]
        assert len(errors) == 1 and words in errors[0], (pin, errors)


def check_config_tls_needs_the_site_ca():
    from firmware import config

    pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    base = {"site": "s", "device": "d", "role": "heating", "sensors": {},
            "downlink_key": DOWNLINK_KEY}
    tls = {"host": "10.0.0.2", "tls": True, "ca": pem}
    assert config.parse(json.dumps(dict(base, mqtt=tls)))[1] == []
    named = dict(tls, server_name="workshop.lan")
    assert config.parse(json.dumps(dict(base, mqtt=named)))[1] == []
    for mqtt, words in (({"host": "h", "tls": True}, "mqtt.ca"),
                        ({"host": "h", "tls": True, "ca": "not a certificate"}, "mqtt.ca"),
                        ({"host": "h", "tls": "yes", "ca": pem}, "mqtt.tls"),
                        (dict(tls, server_name=5), "mqtt.server_name")):
        errors = config.parse(json.dumps(dict(base, mqtt=mqtt)))[1]
        assert len(errors) == 1 and words in errors[0], (mqtt, errors)
    # Off, the CA is not looked at: a plain config stays valid.
    assert config.parse(json.dumps(dict(base, mqtt={"host": "h", "ca": 1})))[1] == []


class Relay:
    def __init__(self):
        self.on = False
        self.switches = 0

    def set(self, on):
        self.on = on
        self.switches += 1

    def value(self):
        return self.on


def _session(settings, acl=None):
    events = []
    relay = Relay()
    extraction = Relay()
    decider = Decider(acl if acl is not None else _acl(1, ["1111111111111111", "2222222222222222"]))
    s = Session(decider, Outputs(relay, extraction), lambda k, f: events.append((k, f)), settings)
    s.counters = lambda: {"wh": 7}
    return s, relay, extraction, events


def check_session_tap():
    s, relay, ext, events = _session({"card_mode": "tap", "runon_s": 60, "idle_s": 0})
    assert not s.badge_read("3333333333333333", 0) and not relay.on
    denied = {"badge": "3333333333333333", "ok": False, "reason": "not_allowed"}
    assert events[-1] == ("badge", denied)
    assert s.badge_read("1111111111111111", 1000) and relay.on and ext.on
    assert events[-1][0] == "session_start" and events[-1][1]["sid"] == 1
    assert events[-1][1]["ct"] == {"wh": 7}
    assert s.badge_read("2222222222222222", 2000)  # someone else: refused, stays on
    assert events[-1][1]["reason"] == "busy" and relay.on
    s.badge_read("1111111111111111", 3000)  # badge-out
    assert not relay.on and ext.on
    assert events[-1][0] == "session_end" and events[-1][1]["reason"] == "badge_out"
    s.tick(62999, 0.0)
    assert ext.on
    s.tick(63000, 0.0)
    assert not ext.on


def check_session_present_timeout_idle():
    s, relay, _, events = _session({"card_mode": "present", "timeout_s": 100, "idle_s": 30,
                                    "idle_w": 50})
    s.badge_read("1111111111111111", 0)
    s.card_removed(500)
    assert not relay.on and events[-1][1]["reason"] == "card_removed"
    s.badge_read("1111111111111111", 1000)
    for t in range(2000, 31000, 1000):
        s.tick(t, 500.0)
    assert relay.on
    for t in range(31000, 61000, 1000):
        s.tick(t, 10.0)
    assert not relay.on and events[-1][1]["reason"] == "idle", events[-1]
    s.badge_read("1111111111111111", 70000)
    for t in range(71000, 171000, 1000):
        s.tick(t, 1000.0)
    assert not relay.on and events[-1][1]["reason"] == "timeout", events[-1]
    sids = [f["sid"] for k, f in events if k == "session_end"]
    assert sids == [1, 2, 3], sids


def check_session_without_acl():
    s, relay, _, events = _session({}, Acl())
    assert not s.badge_read("1111111111111111", 0) and not relay.on
    assert events[-1][1]["reason"] == "no_acl"


def check_session_without_interlock():
    # No relay and no extraction fitted: the badge still opens and closes
    # sessions (billing, "left on" alerts), and nothing is switched.
    events = []
    decider = Decider(_acl(1, ["1111111111111111"]))
    s = Session(decider, Outputs(None), lambda k, f: events.append((k, f)),
                {"card_mode": "tap", "runon_s": 60, "idle_s": 0})
    assert s.badge_read("1111111111111111", 0) and s.active
    s.badge_read("1111111111111111", 5000)
    s.tick(70000, 0.0)
    s.force_off(71000, "remote")
    assert not s.active
    kinds = [(k, f.get("reason")) for k, f in events if k.startswith("session")]
    assert kinds == [("session_start", None), ("session_end", "badge_out")], kinds


def check_mqtt_codec():
    assert codec._varint(0) == b"\x00" and codec._varint(321) == b"\xc1\x02"
    assert codec._varint(2097152) == b"\x80\x80\x80\x01"
    assert codec.pingreq() == b"\xc0\x00"
    assert codec.puback(10) == b"\x40\x02\x00\x0a"
    assert codec.publish("a/b", b"hi", 1, False, 1) == b"\x32\x09\x00\x03a/b\x00\x01hi"
    assert codec.publish("a/b", b"hi", 0, True) == b"\x31\x07\x00\x03a/bhi"
    c = codec.connect("n1", "u", "p", 60, "w/t", b"x")
    assert c[:2] == b"\x10" + bytes((len(c) - 2,))
    assert c[2:10] == b"\x00\x04MQTT\x04" + bytes((0x02 | 0x04 | 0x08 | 0x20 | 0x80 | 0x40,))
    assert codec.subscribe(5, (("x/y", 1),)) == b"\x82\x08\x00\x05\x00\x03x/y\x01"
    p = codec.Parser()
    stream = codec.publish("t", b"A" * 300, 1, True, 77) + b"\x20\x02\x00\x00" + b"\xd0"
    for k in range(len(stream)):  # one byte at a time, as a slow socket would
        p.feed(stream[k : k + 1])
        if k == len(stream) - 6:
            kind, flags, body = p.next()
            assert kind == codec.PUBLISH
            topic, payload, qos, pid, retain = codec.parse_publish(flags, body)
            assert (topic, bytes(payload), qos, pid, retain) == ("t", b"A" * 300, 1, 77, True)
    kind, flags, body = p.next()
    assert kind == codec.CONNACK and codec.parse_connack(body) == 0
    assert p.next() is None  # half a PINGRESP
    p.feed(b"\x00")
    assert p.next()[0] == codec.PINGRESP
    # A PUBLISH above the limit is refused unread (topic and packet id for
    # the PUBACK) and the stream goes on; any other oversized packet ends it.
    big = codec.Parser(max_packet=100)
    oversize = codec.publish("mf/s/d/acl", b"x" * 300, 1, True, 9)
    for k in range(0, len(oversize), 7):
        big.feed(oversize[k : k + 7])
        got = big.next()
        if got is not None:
            assert got[0] == codec.TOO_LARGE and k < 20, (got, k)
            topic, _, _, pid, _ = codec.parse_publish(got[1], got[2])
            assert (topic, pid) == ("mf/s/d/acl", 9)
    big.feed(codec.pingreq())
    assert big.next()[0] == codec.PINGREQ and big.next() is None
    huge = codec.Parser(max_packet=100)
    huge.feed(b"\x20\xff\x01")
    try:
        huge.next()
        raise AssertionError("oversized packet accepted")
    except codec.MqttError:
        pass
    # A large body is received into one buffer of its size, byte by byte too.
    large = codec.publish("t", bytes(range(256)) * 8, 1, False, 3) + codec.pingreq()
    p = codec.Parser()
    for k in range(len(large)):
        p.feed(large[k : k + 1])
    kind, flags, body = p.next()
    topic, payload, _, pid, _ = codec.parse_publish(flags, body)
    assert kind == codec.PUBLISH and bytes(payload) == bytes(range(256)) * 8 and pid == 3
    assert p.next()[0] == codec.PINGREQ


def _clean(folder):
    if fsutil.FS.exists(folder):
        for name in os.listdir(folder):
            path = folder + "/" + name
            if os.stat(path)[0] & 0x4000:
                _clean(path)
                os.rmdir(path)
            else:
                os.remove(path)


def check_counter_store(tmp):
    folder = tmp + "/ctr"
    fsutil.FS.makedirs(folder)
    _clean(folder)
    store = CounterStore(folder, ("wh", "seq"))
    assert store.load() == {"wh": 0, "seq": 0}
    for k in range(600):  # crosses two file switches
        store.save({"wh": k * 10, "seq": k})
    again = CounterStore(folder, ("wh", "seq"))
    assert again.load() == {"wh": 5990, "seq": 599}
    # A torn last record (power cut mid-write) falls back to the one before.
    path = again.paths[again._file]
    with open(path, "ab") as f:
        f.write(b"\x01\x02\x03")
    third = CounterStore(folder, ("wh", "seq"))
    assert third.load() == {"wh": 5990, "seq": 599}
    third.save({"wh": 6000, "seq": 600})
    assert CounterStore(folder, ("wh", "seq")).load()["wh"] == 6000
    total = fsutil.FS.size(store.paths[0]) + fsutil.FS.size(store.paths[1])
    assert total <= 2 * 256 * store.record_size + 3
    p = SavePolicy(100, 600000, 500)
    p.mark(0, 1000, 10, 5)
    assert not p.due(1000, 1099, 10, 6)
    assert p.due(1000, 1100, 10, 6)
    assert p.due(600000, 1000, 10, 6) and not p.due(600000, 1000, 10, 5)
    assert p.due(1, 1000, 510, 5)


def check_outbox(tmp):
    folder = tmp + "/ob"
    fsutil.FS.makedirs(folder)
    _clean(folder)
    box = Outbox(folder, capacity=4 * SEGMENT)
    for k in range(100):
        assert box.append("telemetry" if k % 3 else "event", ("msg %d" % k).encode())
    assert not box.append("event", b"x" * (MAX_PAYLOAD + 1)) and box.oversize == 1
    assert box.pending() == 100
    ch, payload = box.read(box.tail + 4)
    assert ch == "telemetry" and bytes(payload) == b"msg 4"
    box.ack_to(box.tail + 70)
    assert box.pending() == 30
    # Power cut: a new object from the same folder replays from the saved
    # tail, which lags by fewer than TAIL_EVERY acks (duplicates, not loss).
    again = Outbox(folder, capacity=4 * SEGMENT)
    assert again.head == 100 and 70 - 16 < again.tail <= 70, (again.head, again.tail)
    assert bytes(again.read(again.tail)[1]) == ("msg %d" % again.tail).encode()
    # Overflow: whole oldest segments go, and the unsent records in them are
    # counted. 400 records in segments 0..6, 4 kept: 3..6, tail at 3 * 64.
    old_tail = again.tail
    for k in range(100, 400):
        again.append("telemetry", ("msg %d" % k).encode())
    assert again.head == 400 and again.tail == 3 * SEGMENT, (again.head, again.tail)
    assert again.dropped == 3 * SEGMENT - old_tail, again.dropped
    first = again.read(again.tail)
    assert bytes(first[1]) == ("msg %d" % again.tail).encode()
    again.ack_to(again.head)
    assert again.pending() == 0
    # Everything delivered, then a reboot: numbering continues, nothing replays.
    third = Outbox(folder, capacity=4 * SEGMENT)
    assert third.pending() == 0 and third.head >= 400
    third.append("event", b"after")
    assert Outbox(folder, capacity=4 * SEGMENT).pending() == 1


def check_outbox_torn_record(tmp):
    folder = tmp + "/ob2"
    fsutil.FS.makedirs(folder)
    _clean(folder)
    box = Outbox(folder, capacity=4 * SEGMENT)
    for k in range(10):
        box.append("event", ("e%d" % k).encode())
    with open(box._seg_path(0), "ab") as f:
        f.write(b"half a record")
    again = Outbox(folder, capacity=4 * SEGMENT)
    assert again.pending() == SEGMENT, again.pending()  # head moved to the next segment
    got = []
    for r in range(again.tail, again.head):
        rec = again.read(r)
        if rec is not None:
            got.append(bytes(rec[1]))
    assert got == [("e%d" % k).encode() for k in range(10)], got
    again.append("event", b"next")
    assert bytes(again.read(again.head - 1)[1]) == b"next"


CHECKS = (
    check_clock_never_wraps, check_stamper_strictly_increasing, check_protocol_messages,
    check_rms_of_sine, check_energy_counter, check_pulses, check_modbus, check_presence,
    check_backoff, check_acl_matching, check_acl_parser_matches_wire, check_session_tap,
    check_session_present_timeout_idle, check_config_refuses_unsafe_pins_and_names,
    check_config_tls_needs_the_site_ca,
    check_session_without_acl, check_session_without_interlock, check_mqtt_codec,
)
FILE_CHECKS = (check_counter_store, check_outbox, check_outbox_torn_record)


def run(tmp, golden):
    done = []
    for check in CHECKS:
        check()
        done.append(check.__name__)
    for check in FILE_CHECKS:
        check(tmp)
        done.append(check.__name__)
    check_badge_hash(golden)
    done.append("check_badge_hash")
    check_downlink_mac(golden)
    done.append("check_downlink_mac")
    return done


if __name__ == "__main__":
    golden = json.loads(sys.argv[1])
    names = run(sys.argv[2], golden)
    print("CHECKS-PASSED " + json.dumps(names))
