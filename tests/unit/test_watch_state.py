"""What a watcher remembers per project and which completions a look reveals (pure)."""

from __future__ import annotations

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from trakk_async.watch._state import (
    Seen,
    first_look,
    known_of,
    newest_completed,
    next_look,
)


@attrs.frozen
class R:
    id: int
    report_number: int
    status: str


def listing(*reports: tuple[int, str]) -> list[R]:
    """Reports given oldest first (id, status); returned newest first, as the API lists."""
    return [R(rid, rid % 26 + 1, status) for rid, status in reversed(reports)]


def test_the_first_look_knows_every_completed_report_and_names_the_newest() -> None:
    reports = listing((1, "completed"), (2, "failed"), (3, "completed"), (4, "pending"))
    assert first_look(reports) == Seen(3, 4, frozenset({1, 3}))
    assert newest_completed(reports) == R(3, 4, "completed")
    assert first_look(listing((1, "pending"))) == Seen.nothing()
    assert first_look([]) == Seen.nothing()


def test_several_completions_are_one_event_each_oldest_first_chained() -> None:
    seen = first_look(listing((6, "completed"), (7, "running"), (8, "pending"), (9, "pending")))
    after = listing((6, "completed"), (7, "completed"), (8, "completed"), (9, "completed"))
    completions, state = next_look(seen, after)
    assert [c.report.id for c in completions] == [7, 8, 9]
    assert [(c.before.report_id, c.after.report_id) for c in completions] == [
        (6, 7),
        (7, 8),
        (8, 9),
    ]
    # each event's state knows exactly what was delivered up to it
    assert [c.after.known for c in completions] == [
        frozenset({6, 7}),
        frozenset({6, 7, 8}),
        frozenset({6, 7, 8, 9}),
    ]
    assert state == completions[-1].after
    assert next_look(state, after) == ([], state)


def test_an_older_report_completing_after_a_newer_one_is_an_event() -> None:
    seen = first_look(listing((5, "failed"), (6, "pending"), (7, "completed")))
    completions, state = next_look(
        seen, listing((5, "completed"), (6, "pending"), (7, "completed"))
    )
    (only,) = completions
    assert only.report.id == 5
    assert (only.before.report_id, only.after.report_id) == (7, 5)  # previous: delivered last
    assert state.known == frozenset({5, 7})


def test_a_report_that_completes_again_is_a_new_event() -> None:
    seen = first_look(listing((1, "completed")))
    _, state = next_look(seen, listing((1, "running")))  # regenerated
    assert state.known == frozenset()
    completions, _ = next_look(state, listing((1, "completed")))
    assert [c.report.id for c in completions] == [1]


def test_ids_no_longer_listed_are_dropped_from_the_record() -> None:
    seen = Seen(9, 10, frozenset({1, 2, 9}))
    completions, state = next_look(seen, listing((2, "completed"), (9, "completed")))
    assert completions == []
    assert state == Seen(9, 10, frozenset({2, 9}))


def test_an_old_record_knows_the_reports_at_or_below_its_report() -> None:
    reports = listing((1, "completed"), (2, "completed"), (3, "completed"), (4, "completed"))
    old = Seen(2, 3)  # written by an earlier version: no known ids
    assert known_of(old, reports) == frozenset({1, 2})
    completions, state = next_look(old, reports)
    assert [c.report.id for c in completions] == [3, 4]
    assert completions[0].before == Seen(2, 3, frozenset({1, 2}))
    assert state.known == frozenset({1, 2, 3, 4})
    # "nothing completed yet" in the old format: every completed report is new
    assert known_of(Seen(None, None), reports) == frozenset()
    # its report is gone from the list: nothing can be told apart, nothing is repeated
    assert known_of(Seen(99, 1), reports) == frozenset({1, 2, 3, 4})


@pytest.mark.parametrize(
    "record",
    [
        Seen(1081, 14, frozenset({3, 1081, 77})),
        Seen(None, None, frozenset()),
        Seen(5, 6),
        Seen(None, None),
        Seen(5, 6, frozenset()),
    ],
)
def test_records_encode_and_decode(record: Seen) -> None:
    assert Seen.decode(record.encode()) == record
    assert Seen.decode(record.encode().encode()) == record


def test_old_two_part_records_decode() -> None:
    assert Seen.decode("12:3") == Seen(12, 3)
    assert Seen.decode("-:-") == Seen(None, None)


@pytest.mark.parametrize("bad", ["", "x:1", "1:2:3:4", "1:2:a,b", "1"])
def test_malformed_records_raise_value_error(bad: str) -> None:
    with pytest.raises(ValueError):
        Seen.decode(bad)


STATUSES = st.sampled_from(["pending", "running", "completed", "failed", "mystery"])


@st.composite
def histories(draw: st.DrawFn) -> list[list[R]]:
    """A project's reports list at successive looks: reports appear (newest last in
    creation) and change status any way, including out of order and back again."""
    looks: list[list[R]] = []
    statuses: dict[int, str] = {}
    for _ in range(draw(st.integers(1, 8))):
        for rid in range(len(statuses) + 1, len(statuses) + 1 + draw(st.integers(0, 3))):
            statuses[rid] = draw(STATUSES)
        for rid in (
            draw(st.lists(st.sampled_from(sorted(statuses)), max_size=5)) if statuses else []
        ):
            statuses[rid] = draw(STATUSES)
        looks.append(listing(*sorted(statuses.items())))
    return looks


@given(histories())
def test_every_completion_between_two_looks_is_delivered_once_in_order(
    looks: list[list[R]],
) -> None:
    state = first_look(looks[0])
    previous_completed = {r.id for r in looks[0] if r.status == "completed"}
    delivered_last = state.report_id
    for reports in looks[1:]:
        completions, state = next_look(state, reports)
        now_completed = {r.id for r in reports if r.status == "completed"}
        assert [c.report.id for c in completions] == sorted(now_completed - previous_completed)
        for completion in completions:
            assert completion.before.report_id == delivered_last
            delivered_last = completion.after.report_id
        assert state.known == frozenset(now_completed)
        previous_completed = now_completed
