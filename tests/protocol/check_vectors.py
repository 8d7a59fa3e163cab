# Checks protocol.wire against vectors.json. Plain Python that runs unchanged
# under CPython (imported by test_vectors.py) and MicroPython (run as a script
# by tools/mpy/run.mjs), so both interpreters face the very same checks.
import binascii
import json


def payload_of(vector):
    if "payload_hex" in vector:
        data = binascii.unhexlify(vector["payload_hex"])
    else:
        data = vector["payload"].encode()
    return data * vector.get("repeat", 1)


def _outcome(func, *args):
    try:
        return "ok", func(*args)
    except Exception as exc:
        return getattr(exc, "code", type(exc).__name__), None


def check(vectors, wire, interpreter):
    """-> (counts dict, list of failure texts)."""
    counts = {"topics": 0, "payloads": 0, "skipped": 0}
    failures = []
    for case in vectors["topics"]["valid"] + vectors["topics"]["invalid"]:
        name = case["topic"]
        code, got = _outcome(wire.parse_topic, name)
        want = case.get("code", "ok")
        if code != want or (want == "ok" and list(got) != case["expect"]):
            failures.append(f"topic {name}: want {want}, got {code} {got}")
        counts["topics"] += 1
    for case in vectors["payloads"]:
        if case.get("only", interpreter) != interpreter:
            counts["skipped"] += 1
            continue
        name, channel = case["name"], case["channel"]
        code, got = _outcome(wire.decode, channel, payload_of(case))
        want = case.get("code", "ok")
        if code != want:
            failures.append(f"{name}: want {want}, got {code}")
        elif want == "ok" and got != case["expect"]:
            failures.append(f"{name}: decoded {got}")
        elif want == "ok":
            # What a node encodes must decode to the same message.
            again = wire.decode(channel, wire.encode(channel, dict(got)))
            if again != got:
                failures.append(f"{name}: encode/decode changed it to {again}")
        counts["payloads"] += 1
    return counts, failures


def main(path):
    import sys

    sys.path.insert(0, "/repo")
    from protocol import wire

    with open(path) as handle:
        vectors = json.load(handle)
    counts, failures = check(vectors, wire, "micropython")
    for failure in failures:
        print("FAIL", failure)
    print(json.dumps({"counts": counts, "failures": len(failures)}))
    if failures:
        raise SystemExit(1)


if __name__ == "__main__":
    main("/vectors/vectors.json")
