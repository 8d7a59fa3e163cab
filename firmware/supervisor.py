# Keeps the node's tasks alive and tells the watchdog feeder whether they all
# make progress. A task that raises is reported and restarted after a growing
# delay; the rest of the node (and the interlock of a running session) goes
# on. Progress: every wait a task announces (each clock.sleep_ms of a
# supervised task announces itself; other waits call expect()) sets when it
# must be back; a task that is not back by then plus GRACE_MS is stalled,
# and the feeder stops feeding, so the watchdog resets the board. A task
# about to wait for work that may not come for a long time (an event) calls
# idle(): until its next announced wait it cannot be stalled.
import asyncio

from firmware.logic.backoff import Backoff

GRACE_MS = 20000
FIRST_RESTART_MS = 1000
MAX_RESTART_MS = 300000
HEALTHY_RUN_MS = 60000  # ran this long: the next failure starts the back-off afresh


def _current():
    try:
        return asyncio.current_task()
    except RuntimeError:  # not inside a task (tests stepping coroutines by hand)
        return None


class Supervisor:
    def __init__(self, clock, report, rand):
        """report(name, detail) is called for every failure; rand() -> [0, 1)."""
        self.clock = clock
        self.report = report
        self.rand = rand
        self.failures = 0
        self._entries: list = []  # [name, task, due_ms or -1]
        sleep = clock.sleep_ms

        def sleep_ms(ms):
            self.expect(ms)
            return sleep(ms)

        clock.sleep_ms = sleep_ms

    def expect(self, ms: int) -> None:
        """The current task waits up to ms before it runs again."""
        task = _current()
        if task is None:
            return
        for entry in self._entries:
            if entry[1] is task:
                entry[2] = self.clock.now_ms() + ms + GRACE_MS
                return

    def idle(self) -> None:
        """The current task waits for work, without a deadline."""
        task = _current()
        if task is None:
            return
        for entry in self._entries:
            if entry[1] is task:
                entry[2] = -1
                return

    def stalled(self, now_ms: int):
        """-> the name of a task past its announced wait, or None."""
        for name, _, due in self._entries:
            if 0 <= due < now_ms:
                return name
        return None

    async def keep(self, name: str, start) -> None:
        """Runs start() (-> a coroutine) for ever, restarting it when it fails."""
        entry = [name, _current(), -1]
        self._entries.append(entry)
        backoff = Backoff(FIRST_RESTART_MS, MAX_RESTART_MS, self.rand)
        while True:
            began = self.clock.now_ms()
            try:
                await start()
                detail = "returned"
            except Exception as exc:  # any fault of one task: reported, restarted
                detail = "%s: %s" % (type(exc).__name__, exc)
            self.failures += 1
            if self.clock.now_ms() - began >= HEALTHY_RUN_MS:
                backoff.reset()
            try:
                self.report(name, detail)
            except Exception:  # reporting must not end the supervision
                pass
            await self.clock.sleep_ms(backoff.next_ms())
