"""The scheduling rules, table-driven, as pure functions (no AWS)."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from chalicelib import rules, times
from chalicelib.errors import BadInput, Conflict, Forbidden, NotOpen
from chalicelib.rules import Action, PatientResponse, Status

NOW = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)
CANCELLED_CLASSES = frozenset({"Cancelled by client"})

# The visit's shape for each status: (session_class, completed, response)
SHAPES = {
    Status.CANCELLED: ("Cancelled by client", False, PatientResponse.CANCELLED),
    Status.COMPLETED: ("Individual therapy", True, None),
    Status.PENDING_CANCEL: ("Individual therapy", False, PatientResponse.CANCELLED),
    Status.PATIENT_CONFIRMED: ("Individual therapy", False, PatientResponse.CONFIRMED),
    Status.AWAITING_RESPONSE: ("Individual therapy", False, None),
}
OPEN_ACTIONS = {
    (Status.CANCELLED, True): [],
    (Status.CANCELLED, False): [],
    (Status.COMPLETED, True): [],
    (Status.COMPLETED, False): [],
    (Status.PENDING_CANCEL, True): [Action.CHANGE],
    (Status.PENDING_CANCEL, False): [Action.CHANGE],
    (Status.PATIENT_CONFIRMED, True): [Action.CHANGE],
    (Status.PATIENT_CONFIRMED, False): [Action.CHANGE],
    (Status.AWAITING_RESPONSE, True): [Action.CONFIRM, Action.CANCEL],
    (Status.AWAITING_RESPONSE, False): [Action.CONFIRM],
}


def visit(status: Status, starts_in: timedelta) -> rules.VisitState:
    session_class, completed, response = SHAPES[status]
    return rules.VisitState(NOW + starts_in, session_class, completed, response)


def policy(cancel_enabled=True, cutoff=0) -> rules.ClinicPolicy:
    return rules.ClinicPolicy(CANCELLED_CLASSES, cancel_enabled, cutoff)


@pytest.mark.parametrize("status", list(Status))
@pytest.mark.parametrize("cancel_enabled", [True, False])
@pytest.mark.parametrize("cutoff", [0, 24])
@pytest.mark.parametrize(
    "starts_in, open_for_cutoff",
    [
        (timedelta(days=3), {0: True, 24: True}),
        (timedelta(hours=12), {0: True, 24: False}),
        (timedelta(minutes=1), {0: True, 24: False}),
        (timedelta(0), {0: False, 24: False}),
        (timedelta(hours=-2), {0: False, 24: False}),
    ],
)
def test_status_and_actions(status, cancel_enabled, cutoff, starts_in, open_for_cutoff):
    state, clinic = visit(status, starts_in), policy(cancel_enabled, cutoff)

    assert rules.visit_status(state, clinic) is status
    is_open = open_for_cutoff[cutoff] and status not in (Status.CANCELLED, Status.COMPLETED)
    assert rules.is_open(state, clinic, NOW) is is_open
    expected = OPEN_ACTIONS[(status, cancel_enabled)] if is_open else []
    assert rules.available_actions(state, clinic, NOW) == expected


def test_cancelled_class_wins_over_completed_and_responses():
    state = rules.VisitState(NOW + timedelta(days=1), "Cancelled by client", True, PatientResponse.CONFIRMED)
    assert rules.visit_status(state, policy()) is Status.CANCELLED


def test_a_response_value_typed_by_hand_counts_as_none():
    assert PatientResponse.from_stored("maybe") is None
    assert PatientResponse.from_stored(None) is None
    assert PatientResponse.from_stored("CLIENT_CANCELLED") is PatientResponse.CANCELLED


@pytest.mark.parametrize(
    "status, wanted, outcome",
    [
        (Status.AWAITING_RESPONSE, PatientResponse.CONFIRMED, True),
        (Status.AWAITING_RESPONSE, PatientResponse.CANCELLED, True),
        (Status.PATIENT_CONFIRMED, PatientResponse.CONFIRMED, False),
        (Status.PENDING_CANCEL, PatientResponse.CANCELLED, False),
        (Status.PATIENT_CONFIRMED, PatientResponse.CANCELLED, Conflict),
        (Status.PENDING_CANCEL, PatientResponse.CONFIRMED, Conflict),
        (Status.COMPLETED, PatientResponse.CONFIRMED, NotOpen),
        (Status.CANCELLED, PatientResponse.CANCELLED, NotOpen),
    ],
)
def test_check_can_respond(status, wanted, outcome):
    state = visit(status, timedelta(days=2))
    if isinstance(outcome, bool):
        assert rules.check_can_respond(state, policy(), NOW, wanted) is outcome
    else:
        with pytest.raises(outcome):
            rules.check_can_respond(state, policy(), NOW, wanted)


def test_cancel_while_clinic_turned_it_off_is_forbidden_but_confirm_is_not():
    state = visit(Status.AWAITING_RESPONSE, timedelta(days=2))
    with pytest.raises(Forbidden):
        rules.check_can_respond(state, policy(cancel_enabled=False), NOW, PatientResponse.CANCELLED)
    assert rules.check_can_respond(state, policy(cancel_enabled=False), NOW, PatientResponse.CONFIRMED)


def test_a_closed_visit_refuses_even_the_same_answer_again():
    state = visit(Status.PATIENT_CONFIRMED, timedelta(hours=-1))
    with pytest.raises(NotOpen):
        rules.check_can_respond(state, policy(), NOW, PatientResponse.CONFIRMED)


@pytest.mark.parametrize(
    "status, starts_in, outcome",
    [
        (Status.PENDING_CANCEL, timedelta(days=1), True),
        (Status.PATIENT_CONFIRMED, timedelta(days=1), True),
        (Status.AWAITING_RESPONSE, timedelta(days=1), False),
        (Status.PENDING_CANCEL, timedelta(hours=-1), NotOpen),
        (Status.COMPLETED, timedelta(days=1), NotOpen),
    ],
)
def test_check_can_clear(status, starts_in, outcome):
    state = visit(status, starts_in)
    if isinstance(outcome, bool):
        assert rules.check_can_clear(state, policy(), NOW) is outcome
    else:
        with pytest.raises(outcome):
            rules.check_can_clear(state, policy(), NOW)


TODAY = date(2026, 11, 26)


@pytest.mark.parametrize(
    "given, expected",
    [
        ((None, None), (date(2026, 10, 27), date(2027, 2, 24))),
        (("2026-11-01", None), (date(2026, 11, 1), date(2027, 2, 24))),
        ((None, "2026-12-31"), (date(2026, 10, 27), date(2026, 12, 31))),
        (("2026-11-26", "2026-11-26"), (TODAY, TODAY)),
        (("2026-01-01", "2027-01-02"), (date(2026, 1, 1), date(2027, 1, 2))),
    ],
)
def test_date_range_defaults_and_bounds(given, expected):
    assert rules.date_range(*given, today=TODAY) == expected


@pytest.mark.parametrize(
    "given",
    [
        ("2026-12-01", "2026-11-30"),
        ("2026-01-01", "2027-01-03"),
        ("2026-13-01", None),
        ("26-11-01", None),
        (None, "2026-02-30"),
        ("2026-11-01T00:00", None),
        ("", None),
        ("2026-W48-4", None),  # an ISO week date: Python reads it, the contract does not
        ("9999-01-01", "9999-12-31"),  # the day after `to` does not exist
        ("0001-01-01", "0001-01-31"),  # before the year 1 in UTC, east of Greenwich
        ("1899-12-31", None),
        (None, "2026-11-2\u0666"),  # a digit that is not ASCII
    ],
)
def test_bad_date_ranges_are_bad_input(given):
    with pytest.raises(BadInput):
        rules.date_range(*given, today=TODAY)


def test_range_bounds_cover_whole_local_days():
    tz = ZoneInfo("America/New_York")
    first, last = times.day_bounds_utc(date(2026, 11, 26), date(2026, 11, 27), tz)
    assert times.format_instant(first) == "2026-11-26T05:00:00Z"
    assert times.format_instant(last) == "2026-11-28T04:59:59Z"


def test_local_times_across_daylight_saving():
    tz = ZoneInfo("America/New_York")
    summer = times.local_to_utc(date(2026, 7, 1), time(9, 0), tz)
    winter = times.local_to_utc(date(2026, 12, 1), time(9, 0), tz)
    assert times.format_instant(summer) == "2026-07-01T13:00:00Z"
    assert times.format_instant(winter) == "2026-12-01T14:00:00Z"
    assert times.utc_to_local(winter, tz) == ("2026-12-01", "09:00")


def test_a_local_time_skipped_by_the_clock_change_is_bad_input():
    with pytest.raises(BadInput):
        times.local_to_utc(date(2026, 3, 8), time(2, 30), ZoneInfo("America/New_York"))


@pytest.mark.parametrize(
    "typed", ["2026-12-01T14:00:00Z", "2026-12-01T14:00:00.000Z", "2026-12-01T09:00:00-05:00", "2026-12-01T14:00:00"]
)
def test_instants_typed_in_the_console_are_read(typed):
    assert times.format_instant(times.parse_instant(typed)) == "2026-12-01T14:00:00Z"


@pytest.mark.parametrize("name", ["Mars/Olympus", "", "../etc/passwd", "/usr/share/zoneinfo/UTC", 5])
def test_unknown_time_zones_are_bad_input(name):
    with pytest.raises(BadInput):
        times.parse_timezone(name)


# --- Staff changes ---------------------------------------------------------------------

NEW_YORK = ZoneInfo("America/New_York")
AT_NINE = rules.VisitState(datetime(2026, 12, 10, 14, 0, tzinfo=UTC), "Individual therapy", False, None)  # 9:00 local


@pytest.mark.parametrize(
    "patch, local_start, moved",
    [
        ({"date": date(2026, 12, 11)}, "2026-12-11 09:00", True),  # a new day keeps the time
        ({"start_time": time(16, 30)}, "2026-12-10 16:30", True),  # a new time keeps the day
        ({"date": date(2026, 12, 10), "start_time": time(9, 0)}, "2026-12-10 09:00", False),  # the same start
        ({"location": "Room 5"}, "2026-12-10 09:00", False),
    ],
)
def test_a_staff_change_moves_the_visit_only_when_its_start_changes(patch, local_start, moved):
    change = rules.decide_staff_change(AT_NINE, patch, NEW_YORK, NOW)
    assert change.starts_at.astimezone(NEW_YORK).strftime("%Y-%m-%d %H:%M") == local_start
    assert change.moved is moved


def test_a_move_across_the_clock_change_keeps_the_local_time():
    summer = rules.VisitState(datetime(2026, 10, 30, 13, 0, tzinfo=UTC), "Individual therapy", False, None)  # 9:00
    change = rules.decide_staff_change(summer, {"date": date(2026, 11, 6)}, NEW_YORK, NOW)
    assert times.format_instant(change.starts_at) == "2026-11-06T14:00:00Z"  # still 9:00, now EST


def test_completing_a_visit_before_it_starts_is_a_conflict_even_when_moved_into_the_past():
    with pytest.raises(Conflict):
        rules.decide_staff_change(AT_NINE, {"completed": True}, NEW_YORK, NOW)
    moved_back = rules.decide_staff_change(AT_NINE, {"completed": True, "date": date(2026, 11, 20)}, NEW_YORK, NOW)
    assert moved_back.moved and moved_back.starts_at < NOW


def test_a_session_class_must_be_one_of_the_clinics():
    clinic = rules.ClinicPolicy(CANCELLED_CLASSES, True, 0, frozenset({"Individual therapy", "Cancelled by client"}))
    rules.check_known_class(clinic, "Individual therapy")
    with pytest.raises(BadInput):
        rules.check_known_class(clinic, "Yoga")


# --- Reminders: when each is due --------------------------------------------------------

NIGHT = rules.QuietHours(time(21, 0), time(8, 0))


def at_clinic(day: str, clock: str, tz=NEW_YORK) -> datetime:
    return times.local_to_utc(date.fromisoformat(day), time.fromisoformat(clock), tz)


def due_at_clinic(due_times, tz=NEW_YORK):
    return [(lead, due.astimezone(tz).strftime("%Y-%m-%d %H:%M")) for lead, due in due_times]


def test_each_lead_time_is_due_that_many_hours_before_the_start_longest_first():
    policy = rules.ReminderPolicy(enabled=True, hours_before=(2, 48), quiet_hours=rules.QuietHours(time(0), time(0)))
    due = rules.reminder_due_times(at_clinic("2026-12-10", "14:00"), policy, NEW_YORK, armed_at=NOW)
    assert due_at_clinic(due) == [(48, "2026-12-08 14:00"), (2, "2026-12-10 12:00")]


@pytest.mark.parametrize(
    "start, lead, due",
    [
        ("2026-12-10 09:00", 2, "2026-12-10 08:00"),  # due 07:00: the end of the night is nearer, and before the visit
        ("2026-12-10 07:30", 1, "2026-12-09 20:59"),  # due 06:30: 08:00 would be after the visit
        ("2026-12-11 00:00", 2, "2026-12-10 20:59"),  # due 22:00: the evening before is nearer than the morning
        ("2026-12-10 10:30", 2, "2026-12-10 08:30"),  # due 08:30: not quiet
        ("2026-12-10 23:00", 1, "2026-12-10 20:59"),  # due 22:00, the visit itself in the night
    ],
)
def test_a_reminder_due_in_the_quiet_hours_moves_to_the_nearest_moment_outside_them_before_the_visit(start, lead, due):
    policy = rules.ReminderPolicy(enabled=True, hours_before=(lead,), quiet_hours=NIGHT)
    day, clock = start.split()
    assert due_at_clinic(rules.reminder_due_times(at_clinic(day, clock), policy, NEW_YORK, NOW)) == [(lead, due)]


def test_quiet_hours_that_do_not_cross_midnight():
    lunch = rules.ReminderPolicy(enabled=True, hours_before=(3,), quiet_hours=rules.QuietHours(time(12), time(13)))
    due = rules.reminder_due_times(at_clinic("2026-12-10", "15:30"), lunch, NEW_YORK, NOW)
    assert due_at_clinic(due) == [(3, "2026-12-10 13:00")]


def test_equal_start_and_end_mean_no_quiet_hours():
    policy = rules.ReminderPolicy(enabled=True, hours_before=(5,), quiet_hours=rules.QuietHours(time(0), time(0)))
    due = rules.reminder_due_times(at_clinic("2026-12-10", "06:00"), policy, NEW_YORK, NOW)
    assert due_at_clinic(due) == [(5, "2026-12-10 01:00")]


def test_a_lead_time_already_past_when_the_visit_was_scheduled_is_skipped_the_later_ones_still_apply():
    policy = rules.ReminderPolicy(enabled=True, hours_before=(48, 2), quiet_hours=rules.QuietHours(time(0), time(0)))
    start = NOW + timedelta(hours=30)
    assert [lead for lead, _ in rules.reminder_due_times(start, policy, NEW_YORK, armed_at=NOW)] == [2]


def test_hours_before_a_visit_on_a_daylight_saving_day_are_real_hours_and_quiet_hours_are_local():
    # Spring forward in New York: 2026-03-08 02:00 EST becomes 03:00 EDT.
    policy = rules.ReminderPolicy(enabled=True, hours_before=(24, 3), quiet_hours=NIGHT)
    due = rules.reminder_due_times(at_clinic("2026-03-08", "10:00"), policy, NEW_YORK, armed_at=NOW.replace(month=1))
    # 24 real hours before 10:00 EDT is 09:00 EST the day before; 3 hours before is 07:00 EDT,
    # inside the night, so it moves to 08:00 EDT.
    assert due_at_clinic(due) == [(24, "2026-03-07 09:00"), (3, "2026-03-08 08:00")]
