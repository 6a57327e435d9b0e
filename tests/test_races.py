"""Races at the write: someone changes the visit after the patient's request read it and
before its conditional write lands. The write must fail rather than record an answer the
rules forbid, and the patient gets an honest answer.

The interleaving is made exact with a botocore hook that runs the other party's change
just before the patient's UpdateItem is sent.
"""

from datetime import UTC, date, datetime, timedelta

import boto3

from chalicelib import config, times
from tests.console import set_attributes


def instant_from_now(delta):
    return times.format_instant(datetime.now(UTC) + delta)


def raw_dynamodb():
    return boto3.client("dynamodb", endpoint_url=config.current().endpoint)


def answer(api, world, visit_id, word):
    return api.put(f"/portal/sessions/{visit_id}/response", world.token_for("Alex"), json_body={"response": word})


def test_clinic_cancels_the_visit_while_the_patient_confirms(api, clinic, before_next_write):
    visit_id = clinic.add_visit("Alex")
    before_next_write(lambda: set_attributes(clinic, visit_id, session_class={"S": "Cancelled by clinic"}))

    response = answer(api, clinic, visit_id, "confirmed")

    assert response.status_code == 409
    stored = clinic.stored_visit("Alex", visit_id)
    assert stored.session_class == "Cancelled by clinic"
    assert stored.patient_response is None


def test_clinic_completes_the_visit_while_the_patient_cancels(api, clinic, before_next_write):
    visit_id = clinic.add_visit("Alex", timedelta(hours=1))
    before_next_write(lambda: set_attributes(clinic, visit_id, completed={"BOOL": True}))

    response = answer(api, clinic, visit_id, "cancelled")

    assert response.status_code == 409
    assert clinic.stored_visit("Alex", visit_id).patient_response is None


def test_clinic_moves_the_visit_while_the_patient_confirms_the_old_time(api, clinic, before_next_write):
    visit_id = clinic.add_visit("Alex", timedelta(days=3))
    moved_to = instant_from_now(timedelta(days=4))
    before_next_write(lambda: set_attributes(clinic, visit_id, starts_at={"S": moved_to}))

    response = answer(api, clinic, visit_id, "confirmed")

    assert response.status_code == 409
    stored = clinic.stored_visit("Alex", visit_id)
    assert (stored.starts_at, stored.patient_response) == (moved_to, None)


def test_the_visit_is_moved_into_the_past_while_the_patient_answers(api, clinic, before_next_write):
    visit_id = clinic.add_visit("Alex", timedelta(days=1))
    started = instant_from_now(-timedelta(minutes=1))
    before_next_write(lambda: set_attributes(clinic, visit_id, starts_at={"S": started}))

    response = answer(api, clinic, visit_id, "confirmed")

    assert response.status_code == 409
    assert clinic.stored_visit("Alex", visit_id).patient_response is None


def test_the_same_cancel_from_two_tabs_is_recorded_once(api, clinic, before_next_write):
    visit_id = clinic.add_visit("Alex")
    other_tab = {}

    def other_tab_cancels():
        set_attributes(
            clinic,
            visit_id,
            patient_response={"S": "CLIENT_CANCELLED"},
            changed_by={"S": "patient"},
            change_id={"S": "chg_other_tab"},
            responded_at={"S": "2026-11-26T12:00:00Z"},
        )
        other_tab["done"] = True

    before_next_write(other_tab_cancels)

    response = answer(api, clinic, visit_id, "cancelled")

    assert other_tab["done"]
    assert response.status_code == 200
    assert response.data["status"] == "pending_cancel"
    stored = clinic.stored_visit("Alex", visit_id)
    assert stored.change_id == "chg_other_tab"  # one action, so one email


def test_confirm_in_one_tab_and_cancel_in_another_keeps_exactly_one(api, clinic, before_next_write):
    visit_id = clinic.add_visit("Alex")
    before_next_write(
        lambda: set_attributes(
            clinic,
            visit_id,
            patient_response={"S": "CLIENT_CONFIRMED"},
            changed_by={"S": "patient"},
            change_id={"S": "chg_confirm_tab"},
        )
    )

    response = answer(api, clinic, visit_id, "cancelled")

    assert response.status_code == 409
    assert clinic.stored_visit("Alex", visit_id).patient_response == "CLIENT_CONFIRMED"


def test_staff_reschedule_after_the_patient_answered_clears_the_answer(api, clinic, before_next_write):
    visit_id = clinic.add_visit("Alex", timedelta(days=3))
    before_next_write(
        lambda: set_attributes(
            clinic, visit_id, patient_response={"S": "CLIENT_CONFIRMED"}, changed_by={"S": "patient"}
        )
    )
    new_day = (date.today() + timedelta(days=9)).isoformat()

    response = api.patch(f"/clinic/sessions/{visit_id}", clinic.staff_token, json_body={"date": new_day})

    assert response.status_code == 200
    assert clinic.stored_visit("Alex", visit_id).patient_response is None


def test_staff_edit_racing_another_staff_reschedule_is_409_not_a_lost_update(api, clinic, before_next_write):
    visit_id = clinic.add_visit("Alex", timedelta(days=3))
    moved_to = "2027-01-05T15:00:00Z"
    before_next_write(lambda: set_attributes(clinic, visit_id, starts_at={"S": moved_to}))

    response = api.patch(f"/clinic/sessions/{visit_id}", clinic.staff_token, json_body={"start_time": "08:00"})

    assert response.status_code == 409
    assert clinic.stored_visit("Alex", visit_id).starts_at == moved_to
