"""The building of the acceptance test, as its admin knows it (people, units,
leases, machines, trainings) and as the world lives it (a month of taps and
switches, a boiler that fails on day 10): one seeded plan, so every run is
the same month."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

DAYS = 30
SEED = 10


@dataclass(frozen=True)
class Person:
    card: str  # the card's name in the simulated world
    uid: str  # what the reader reads (hex)
    member: str  # the member (billing) code: a company holds two people


PEOPLE = [
    Person("ana", "04:a1:10:01", "atelier"),
    Person("ben", "04:b2:10:02", "atelier"),
    Person("carl", "04:c3:10:03", "carl"),
    Person("dora", "04:d4:10:04", "dora"),
    Person("emil", "04:e5:10:05", "emil"),
    Person("fay", "04:f6:10:06", "fay"),
]
MEMBERS = [
    {"code": "atelier", "name": "Atelier Nord GmbH", "kind": "company",
     "email": "office@atelier-nord.example"},
    {"code": "carl", "name": "Carl Berg", "kind": "person", "email": "carl@example.org"},
    {"code": "dora", "name": "Dora Lind", "kind": "person", "email": "dora@example.org"},
    {"code": "emil", "name": "Emil Roth", "kind": "person", "email": "emil@example.org"},
    {"code": "fay", "name": "Fay Okafor", "kind": "person", "email": "fay@example.org"},
]
# unit -> (m2, tenant, first day, last day of the lease in the month); emil leaves
# after day 12, fay moves in on day 18 (into another unit: U4 stands empty after him).
UNITS = {
    "U1": ("80", "atelier", 1, DAYS),
    "U2": ("40", "carl", 1, DAYS),
    "U3": ("35", "dora", 1, DAYS),
    "U4": ("30", "emil", 1, 12),
    "U5": ("25", "fay", 18, DAYS),
}


@dataclass(frozen=True)
class MachineSpec:
    code: str
    device: str
    profile: str
    rated_power_w: int
    grace_minutes: int
    interlock: bool
    trained: tuple[str, ...]  # cards
    per_day: tuple[int, int]  # sessions on a working day, from..to
    minutes: tuple[int, int]  # session length


# Grace: the laser's extraction runs on 10 minutes; the others get 5, because a
# node's counter is as old as its last sample (10 s here), so the last seconds
# of a session are counted just after it ends, and go to its member.
MACHINES = [
    MachineSpec("laser", "laser", "laser", 1800, 10, True, ("ana", "ben", "carl", "emil", "fay"),
                (2, 4), (20, 90)),
    MachineSpec("compressor", "compressor", "compressor", 2200, 5, True,
                ("ben", "carl", "dora", "emil"), (2, 3), (10, 60)),
    MachineSpec("kiln", "kiln", "kiln", 3500, 5, False, ("ana", "carl", "fay"), (0, 1),
                (120, 240)),
]
# Days a card is used in the month (inclusive): emil leaves after day 11's work,
# fay starts on day 19, ben loses his card on day 20 (revoked), dora's
# compressor training ends on day 15.
ACTIVE = {"emil": (1, 11), "fay": (19, DAYS), "ben": (1, 19)}
ENDS = {("dora", "compressor"): 14}
# The taps a node must refuse: (day, local time, card, device, why).
REFUSED = [
    (5, time(7, 30), "dora", "laser", "never trained on the laser"),
    (16, time(7, 30), "dora", "compressor", "training ended on day 15"),
    (21, time(7, 30), "ben", "laser", "card revoked on day 20"),
]
# Day 10: the boiler fails at 06:00 (local) and is repaired at 07:30.
BOILER = (10, time(6, 0), time(7, 30))
# The api's changes in the month, made when the simulated clock passes the
# UTC midnight that begins the day: (day, what).
CHANGES = {15: "end dora's compressor training", 20: "revoke ben's card"}


@dataclass
class Month:
    """The month in the site's time zone and the world's plan for it."""

    zone: tzinfo
    first: date  # day 1
    events: list[dict[str, Any]] = field(default_factory=list)
    sessions: int = 0

    @property
    def last(self) -> date:
        return self.first + timedelta(days=DAYS - 1)

    def at(self, day: int, moment: time) -> datetime:
        return datetime.combine(self.first + timedelta(days=day - 1), moment, self.zone)

    @property
    def start(self) -> datetime:
        """The period's first instant (local midnight of day 1)."""
        return self.at(1, time(0))

    @property
    def end(self) -> datetime:
        return datetime.combine(self.last + timedelta(days=1), time(0), self.zone)

    @property
    def sim_start(self) -> datetime:
        """The simulation starts an hour early, so every counter has a reading
        before the period (the split takes each slot's delta from the one before)."""
        return self.start - timedelta(hours=1)

    @property
    def sim_duration_s(self) -> float:
        return (self.end - self.sim_start).total_seconds() + 20 * 60

    def virtual_s(self, moment: datetime) -> float:
        return (moment - self.sim_start).total_seconds()


def last_month(zone: tzinfo, now: datetime) -> Month:
    """The 30 local days that ended at least an hour ago."""
    today = (now.astimezone(zone) - timedelta(hours=1)).date()
    return Month(zone, today - timedelta(days=DAYS))


def _usable(card: str, machine: MachineSpec, day: int) -> bool:
    first, last = ACTIVE.get(card, (1, DAYS))
    return card in machine.trained and first <= day <= min(last, ENDS.get((card, machine.code),
                                                                          DAYS))


def plan(month: Month) -> Month:
    """Members' sessions on every machine, day by day between 08:00 and 19:30
    local, one after the other with pauses; taps in and out (and the kiln's own
    switch, on after the tap in and off before the tap out); the refused taps."""
    rng = random.Random(SEED)
    events: list[dict[str, Any]] = []
    for day in range(1, DAYS + 1):
        weekday = month.at(day, time(12)).isoweekday() <= 5
        for machine in MACHINES:
            users = [p.card for p in PEOPLE if _usable(p.card, machine, day)]
            low, high = machine.per_day
            count = rng.randint(low, high) if weekday else rng.randint(0, 1)
            if machine.code == "kiln":
                count = 1 if rng.random() < 0.4 else 0
            cursor = month.at(day, time(8, 0))
            for _ in range(count):
                start = cursor + timedelta(minutes=rng.randint(5, 45), seconds=rng.randint(0, 59))
                end = start + timedelta(minutes=rng.randint(*machine.minutes),
                                        seconds=rng.randint(0, 59))
                if end > month.at(day, time(19, 30)) or not users:
                    break
                card = rng.choice(users)
                t0, t1 = month.virtual_s(start), month.virtual_s(end)
                events += [{"at_s": t0, "tap": card, "device": machine.device},
                           {"at_s": t1, "tap": card, "device": machine.device}]
                if not machine.interlock:
                    events += [{"at_s": t0 + 5, "switch": machine.device, "on": True},
                               {"at_s": t1 - 5, "switch": machine.device, "on": False}]
                month.sessions += 1
                cursor = end
    for day, moment, card, device, _ in REFUSED:
        events.append({"at_s": month.virtual_s(month.at(day, moment)), "tap": card,
                       "device": device})
    month.events = sorted(events, key=lambda e: float(e["at_s"]))
    return month


def world(month: Month) -> dict[str, Any]:
    """The scenario for `python -m simulator --configs ... --scenario`: the world
    around the nodes (their configs come from the api): the machines' loads,
    the cards, the building with its boiler, the month's events."""
    day, fails, repaired = BOILER
    return {
        "site": "world",  # the configs' site is the one that counts
        "start": month.sim_start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "duration_s": month.sim_duration_s,
        "base_load_w": 400,
        "members": {p.card: p.uid for p in PEOPLE},
        "building": {"zones": 3,
                     "boiler_fail_at_s": month.virtual_s(month.at(day, fails)),
                     "boiler_recover_at_s": month.virtual_s(month.at(day, repaired))},
        "nodes": [
            *({"device": m.device, "role": "machine", "profile": m.profile,
               **({} if m.interlock else {"config": {"pins": {"relay": -1}}})}
              for m in MACHINES),
            {"device": "heating", "role": "heating"},
            {"device": "meter", "role": "meter"},
        ],
        "events": month.events,
    }
