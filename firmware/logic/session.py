# The access-control state machine of a machine node. Pure logic: the node
# passes in badge reads, card removals and the measured power with a time in
# ms, and the machine's outputs and the event sink are plain objects, so the
# same code runs on the board, in the simulator and in the tests.
#
# IDLE --allowed badge--> ACTIVE --badge-out / card removed / timeout / idle power
#      --> IDLE (interlock opens at once; the extraction output stays on for the
#          run-on time so fumes are cleared).
IDLE = 0
ACTIVE = 1

# Card modes: "tap" (tap in, tap again to end) or "present" (the card stays
# in the reader and taking it out ends the session).
TAP = "tap"
PRESENT = "present"


try:
    from typing import Any  # only for the type checker; absent on the board
except ImportError:
    pass

class Outputs:
    """What the state machine drives; drivers implement `set(on)`. Either may
    be absent (None): a machine watched without an interlock still has
    sessions, claimed by badge, so that its use is billed and it is not
    reported as left on."""

    def __init__(self, interlock, extraction=None):
        self.interlock = interlock
        self.extraction = extraction

    def set_interlock(self, on: bool) -> None:
        if self.interlock is not None:
            self.interlock.set(on)

    def set_extraction(self, on: bool) -> None:
        if self.extraction is not None:
            self.extraction.set(on)


class Session:
    def __init__(self, decider, outputs: Outputs, emit, settings: dict, sid: int = 0):
        """emit(kind, fields) queues an event; settings: card_mode, timeout_s,
        idle_w, idle_s, runon_s."""
        self.decider = decider
        self.outputs = outputs
        self.emit = emit
        self.mode = settings.get("card_mode", TAP)
        self.timeout_ms = int(settings.get("timeout_s", 4 * 3600)) * 1000
        self.idle_w = float(settings.get("idle_w", 20))
        self.idle_ms = int(settings.get("idle_s", 900)) * 1000
        self.runon_ms = int(settings.get("runon_s", 0)) * 1000
        self.state = IDLE
        self.sid = sid
        self.badge = ""
        self.started_ms = 0
        self.last_busy_ms = 0
        self.runon_until = -1
        self.counters: Any = None  # callable -> dict snapshot for session events

    @property
    def active(self) -> bool:
        return self.state == ACTIVE

    def badge_read(self, badge_hex: str, now_ms: int) -> bool:
        """A card was presented. Returns True when the interlock is now closed.
        The interlock is switched before any event is queued: the event goes to
        flash, and the member should not wait for that."""
        if self.state == ACTIVE:
            if badge_hex == self.badge:
                if self.mode == TAP:
                    self._end(now_ms, "badge_out")
                return self.state == ACTIVE
            # Someone else's card while the machine is in use: refused, logged.
            self.emit("badge", {"badge": badge_hex, "ok": False, "reason": "busy"})
            return True
        ok = self.decider.allowed(badge_hex)
        if ok:
            self.outputs.set_interlock(True)
            self.outputs.set_extraction(True)
            self.runon_until = -1
            self.state = ACTIVE
            self.sid += 1
            self.badge = badge_hex
            self.started_ms = now_ms
            self.last_busy_ms = now_ms
        reason = "allowed" if ok else ("no_acl" if not self.decider.acl.known else "not_allowed")
        self.emit("badge", {"badge": badge_hex, "ok": ok, "reason": reason})
        if ok:
            self._session_event("session_start", "")
        return ok

    def card_removed(self, now_ms: int) -> None:
        if self.state == ACTIVE and self.mode == PRESENT:
            self._end(now_ms, "card_removed")

    def tick(self, now_ms: int, power_w: float) -> None:
        """Called every sampling period with the measured power."""
        if self.state == ACTIVE:
            if power_w >= self.idle_w:
                self.last_busy_ms = now_ms
            if now_ms - self.started_ms >= self.timeout_ms:
                self._end(now_ms, "timeout")
            elif self.idle_ms > 0 and now_ms - self.last_busy_ms >= self.idle_ms:
                self._end(now_ms, "idle")
        elif self.runon_until >= 0 and now_ms >= self.runon_until:
            self.runon_until = -1
            self.outputs.set_extraction(False)

    def force_off(self, now_ms: int, reason: str) -> None:
        """Remote relay_off or a fault: end now, no run-on wait for the interlock."""
        if self.state == ACTIVE:
            self._end(now_ms, reason)
        else:
            self.outputs.set_interlock(False)

    def _end(self, now_ms: int, reason: str) -> None:
        self.outputs.set_interlock(False)
        self.state = IDLE
        if self.outputs.extraction is not None and self.runon_ms > 0:
            self.runon_until = now_ms + self.runon_ms
        else:
            self.outputs.set_extraction(False)
        self._session_event("session_end", reason)
        self.badge = ""

    def _session_event(self, kind: str, reason: str) -> None:
        fields = {"sid": self.sid, "badge": self.badge}
        if reason:
            fields["reason"] = reason
        if self.counters is not None:
            fields["ct"] = self.counters()
        self.emit(kind, fields)
