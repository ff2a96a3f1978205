"""The day's plan: who registers, cancels, arrives when and where, who watches online and how.

Pure and seeded: the same options give the same plan. Times are plan seconds from the event's start
(13:30 on the day; negative before it); the clock (`Clock`) maps them to real time at `--speed`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

MINUTE = 60.0
# The day as planned: kiosks open 45 minutes before the start, the last viewers leave 75 minutes after it.
DAY_START = -45 * MINUTE
DAY_END = 75 * MINUTE
# Most people arrive in the 30 minutes before the start; a few early, a few late.
RUSH = (-30 * MINUTE, 0.0)

FAMILY = [
    ("佐藤", "サトウ"), ("鈴木", "スズキ"), ("高橋", "タカハシ"), ("田中", "タナカ"), ("伊藤", "イトウ"),
    ("渡辺", "ワタナベ"), ("山本", "ヤマモト"), ("中村", "ナカムラ"), ("小林", "コバヤシ"), ("加藤", "カトウ"),
    ("吉田", "ヨシダ"), ("山田", "ヤマダ"), ("佐々木", "ササキ"), ("山口", "ヤマグチ"), ("松本", "マツモト"),
]  # fmt: skip
GIVEN = [
    ("太郎", "タロウ"), ("花子", "ハナコ"), ("一郎", "イチロウ"), ("美咲", "ミサキ"), ("健", "ケン"),
    ("陽子", "ヨウコ"), ("大輔", "ダイスケ"), ("由美", "ユミ"), ("翔", "ショウ"), ("恵", "メグミ"),
]  # fmt: skip


@dataclass
class Person:
    """One fictional person (address at example.com, reserved: nobody real is ever mailed)."""

    key: int
    name: str
    kana: str
    email: str
    mode: str  # "venue" or "online"
    cancels: bool = False
    arrives_at: float | None = None  # plan time of the first scan at the door
    kiosk: int = 0
    duplicate_after: float | None = None  # scans again this long after coming in
    dead_phone: bool = False  # found by a search of their reading instead of a scan
    undo: bool = False  # checked in by mistake, undone, scanned again
    exit_at: float | None = None
    reenter_at: float | None = None
    viewing: list[tuple[float, float]] = field(default_factory=list)  # watching (start, stop) plan times
    reload_at: float | None = None  # closes and reopens the page inside the grace period
    second_tab: tuple[float, float] | None = None
    stays: bool = False  # still watching when the day ends

    @property
    def organisation(self) -> str:
        return f"リハーサル部 {self.key % 7 + 1}課"


@dataclass
class Walkin:
    """Someone who did not register and is registered at the door."""

    at: float
    kiosk: int
    name: str
    kana: str


@dataclass
class Plan:
    """Everything that happens, decided before anything is played."""

    people: list[Person]
    walkins: list[Walkin]
    junk_scans: list[tuple[float, int, str]]  # (plan time, kiosk, what the scanner read)
    revoked_scans: list[tuple[float, int, int]]  # (plan time, kiosk, person key): a cancelled ticket shown
    kiosks: int
    capacity: int
    offline: tuple[float, float] | None  # the offline kiosk's window (kiosk 0)
    kill_at: float | None
    redis_at: float | None = None  # the own Redis stopped and started (later if the kill's recovery is not over)

    def venue(self) -> list[Person]:
        return [p for p in self.people if p.mode == "venue"]


def _name(rng: random.Random, key: int) -> tuple[str, str]:
    family, given = rng.choice(FAMILY), rng.choice(GIVEN)
    return f"{family[0]} {given[0]}", f"{family[1]} {given[1]}"


def _arrival(rng: random.Random) -> float:
    """A plan time on the day's curve: 75 % in the half hour before the start."""
    draw = rng.random()
    if draw < 0.75:
        # triangular: rising towards the start, as a rush does
        return rng.triangular(RUSH[0], RUSH[1], -8 * MINUTE)
    if draw < 0.9:
        return rng.uniform(DAY_START + MINUTE, RUSH[0])
    return rng.uniform(0.0, 20 * MINUTE)


def _viewing(rng: random.Random, person: Person) -> None:
    """Join around the start, maybe pause, maybe a second tab or a reload, leave (or stay to the end)."""
    # a third open the page early (the stream shows its waiting screen), the rest around the start
    start = rng.uniform(-30 * MINUTE, -5 * MINUTE) if rng.random() < 0.3 else rng.uniform(-5 * MINUTE, 15 * MINUTE)
    person.stays = rng.random() < 0.25
    stop = DAY_END if person.stays else rng.uniform(start + 5 * MINUTE, DAY_END - 2 * MINUTE)
    if rng.random() < 0.2 and stop - start > 20 * MINUTE:
        pause = rng.uniform(start + 3 * MINUTE, stop - 12 * MINUTE)
        person.viewing = [(start, pause), (pause + rng.uniform(3, 8) * MINUTE, stop)]
    else:
        person.viewing = [(start, stop)]
    first = person.viewing[0]
    if rng.random() < 0.1 and first[1] - first[0] > 6 * MINUTE:
        person.second_tab = (first[0] + 2 * MINUTE, first[0] + 5 * MINUTE)
    elif rng.random() < 0.12 and first[1] - first[0] > 4 * MINUTE:
        person.reload_at = first[0] + 2 * MINUTE


def make_plan(
    registrants: int, viewers: int, kiosks: int, faults: set[str], seed: int = 1, capacity: int | None = None
) -> Plan:
    """The day for `registrants` venue applicants and `viewers` online registrants who watch."""
    rng = random.Random(seed)
    people: list[Person] = []
    for key in range(registrants + viewers):
        name, kana = _name(rng, key)
        mode = "venue" if key < registrants else "online"
        people.append(Person(key, name, kana, f"rehearsal{key:05d}@example.com", mode))
    venue = people[:registrants]
    # Seats for 95 %: the last to apply wait, some cancel, and the waiting list moves up.
    if capacity is None:
        capacity = max(1, registrants * 95 // 100)
    for person in rng.sample(venue, max(1, registrants // 25)):
        person.cancels = True
    # Arrivals: ~88 % of the venue registrants whose seat is sure (the waiting list stays out of the plan).
    seated = [p for p in venue[:capacity] if not p.cancels]
    for person in seated:
        if rng.random() < 0.88:
            person.arrives_at = _arrival(rng)
            person.kiosk = rng.randrange(kiosks)
    arriving = [p for p in seated if p.arrives_at is not None]
    for person in rng.sample(arriving, max(1, len(arriving) // 20)):
        person.duplicate_after = rng.uniform(5, 60)
    for person in rng.sample(arriving, min(len(arriving), 2)):
        person.dead_phone = True
    candidates = [p for p in arriving if not p.dead_phone]
    rng.choice(candidates).undo = True
    for person in rng.sample(candidates, max(1, len(candidates) // 30)):
        assert person.arrives_at is not None
        person.exit_at = max(person.arrives_at, 0.0) + rng.uniform(20, 40) * MINUTE
        if rng.random() < 0.6:
            person.reenter_at = person.exit_at + rng.uniform(3, 10) * MINUTE
    # A few venue no-shows watch online instead; every online registrant watches.
    no_shows = [p for p in seated if p.arrives_at is None]
    for person in rng.sample(no_shows, min(len(no_shows), 3)) + people[registrants:]:
        _viewing(rng, person)
    walkins = [
        Walkin(_arrival(rng), rng.randrange(kiosks), *_name(rng, registrants + viewers + n))
        for n in range(max(1, registrants // 50))
    ]
    junk = ["hello", "CK1-AAAA-BBBB-CCCC", "https://example.com/t/x", "CK1-" + "Z" * 40, "ＣＫ１"]
    junk_scans = [(rng.uniform(*RUSH), rng.randrange(kiosks), code) for code in junk]
    cancelled = [p for p in venue if p.cancels]
    revoked = [(rng.uniform(*RUSH), rng.randrange(kiosks), cancelled[0].key)] if cancelled else []
    offline = (-20 * MINUTE, -12 * MINUTE) if "offline" in faults and kiosks > 1 else None
    kill_at = -9 * MINUTE if "kill" in faults else None
    redis_at = 20 * MINUTE if "redis" in faults else None
    return Plan(people, walkins, junk_scans, revoked, kiosks, capacity, offline, kill_at, redis_at)


@dataclass(frozen=True)
class Clock:
    """Plan time to real time: the plan's `DAY_START` is `origin` (time.time()), and `speed` plan seconds pass
    per real second."""

    origin: float
    speed: float

    def real(self, plan_t: float) -> float:
        return self.origin + (plan_t - DAY_START) / self.speed

    def plan(self, real_t: float) -> float:
        return DAY_START + (real_t - self.origin) * self.speed
