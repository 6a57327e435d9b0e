"""At most 6 answer changes per visit: the 7th is 429 and changes nothing, so one patient can
never flood the clinic's inbox. The count is kept and checked in the conditional write itself.
"""

from datetime import date, timedelta

from chalicelib import scheduling
from tests.console import set_attributes

LIMIT = scheduling.MAX_ANSWER_CHANGES


def respond(api, world, visit_id, word):
    return api.put(f"/portal/sessions/{visit_id}/response", world.token_for("Alex"), json_body={"response": word})


def change(api, world, visit_id):
    return api.delete(f"/portal/sessions/{visit_id}/response", world.token_for("Alex"))


def test_twenty_cancel_toggles_make_six_changes_and_at_most_six_clinic_emails(
    api, clinic, stream_records_of, deliver, inbox
):
    visit_id = clinic.add_visit("Alex")

    statuses = []
    for toggle in range(20):
        response = respond(api, clinic, visit_id, "cancelled") if toggle % 2 == 0 else change(api, clinic, visit_id)
        statuses.append(response.status_code)
    records = stream_records_of(visit_id)
    deliver(*records)

    # Past the limit every cancel is 429; the changes between them find no answer to remove (200, a no-op).
    assert statuses == [200] * LIMIT + [429, 200] * ((20 - LIMIT) // 2)
    assert [r["eventName"] for r in records] == ["INSERT"] + ["MODIFY"] * LIMIT  # refused requests wrote nothing
    emails = inbox(clinic.admin_email)
    assert len(emails) == LIMIT
    assert [e.subject.split(":")[0] for e in emails] == ["Cancellation request", "Un-cancellation request"] * 3
    stored = clinic.stored_visit("Alex", visit_id)
    assert (stored.answer_changes, stored.patient_response) == (LIMIT, None)


def test_the_seventh_change_is_429_in_the_contracts_shape_and_changes_nothing(api, clinic):
    visit_id = clinic.add_visit("Alex")
    for toggle in range(LIMIT):
        answer = respond(api, clinic, visit_id, "confirmed") if toggle % 2 == 0 else change(api, clinic, visit_id)
        assert answer.status_code == 200
    before = clinic.stored_visit("Alex", visit_id)

    response = respond(api, clinic, visit_id, "cancelled")

    assert response.status_code == 429
    assert response.data["Code"] == "TooManyRequestsError"
    assert "call the clinic" in response.data["Message"]
    after = clinic.stored_visit("Alex", visit_id)
    assert (after.patient_response, after.change_id, after.answer_changes) == (
        before.patient_response,
        before.change_id,
        LIMIT,
    )


def test_answers_that_change_nothing_do_not_count(api, clinic):
    visit_id = clinic.add_visit("Alex")
    for _ in range(10):
        assert respond(api, clinic, visit_id, "confirmed").status_code == 200  # the same answer again
    for _ in range(10):
        assert change(api, clinic, visit_id).status_code == 200
        assert change(api, clinic, visit_id).status_code == 200  # no answer to remove

    assert clinic.stored_visit("Alex", visit_id).answer_changes == 2


def test_the_same_answer_again_after_the_limit_is_still_200(api, clinic):
    visit_id = clinic.add_visit("Alex")
    set_attributes(clinic, visit_id, answer_changes={"N": str(LIMIT)}, patient_response={"S": "CLIENT_CONFIRMED"})
    assert respond(api, clinic, visit_id, "confirmed").status_code == 200
    assert change(api, clinic, visit_id).status_code == 429


def test_staff_moving_the_visit_starts_a_new_count(api, clinic):
    visit_id = clinic.add_visit("Alex", timedelta(days=3))
    set_attributes(clinic, visit_id, answer_changes={"N": str(LIMIT)})
    assert respond(api, clinic, visit_id, "confirmed").status_code == 429
    new_day = (date.today() + timedelta(days=9)).isoformat()

    moved = api.patch(f"/clinic/sessions/{visit_id}", clinic.staff_token, json_body={"date": new_day})

    assert moved.status_code == 200
    assert clinic.stored_visit("Alex", visit_id).answer_changes is None
    assert respond(api, clinic, visit_id, "confirmed").status_code == 200


def test_a_staff_edit_that_is_not_a_move_keeps_the_count(api, clinic):
    visit_id = clinic.add_visit("Alex")
    set_attributes(clinic, visit_id, answer_changes={"N": str(LIMIT)})
    api.patch(f"/clinic/sessions/{visit_id}", clinic.staff_token, json_body={"location": "Room 7"})
    assert respond(api, clinic, visit_id, "confirmed").status_code == 429


def test_a_change_from_another_tab_landing_first_uses_up_the_last_change_and_ours_is_429(
    api, clinic, before_next_write
):
    """Both requests read 5 changes; the other tab's write lands between our read and our write.
    The conditional write refuses ours: the limit holds however the requests interleave."""
    visit_id = clinic.add_visit("Alex")
    set_attributes(clinic, visit_id, answer_changes={"N": str(LIMIT - 1)})

    def other_tab_confirms_and_changes_back():
        set_attributes(clinic, visit_id, answer_changes={"N": str(LIMIT)}, change_id={"S": "chg_other_tab"})

    before_next_write(other_tab_confirms_and_changes_back)

    response = respond(api, clinic, visit_id, "cancelled")

    assert response.status_code == 429
    stored = clinic.stored_visit("Alex", visit_id)
    assert (stored.patient_response, stored.answer_changes, stored.change_id) == (None, LIMIT, "chg_other_tab")


def test_a_count_typed_by_hand_as_text_is_still_read(api, clinic):
    visit_id = clinic.add_visit("Alex")
    set_attributes(clinic, visit_id, answer_changes={"S": " 6 "})
    assert respond(api, clinic, visit_id, "confirmed").status_code == 429


def test_a_count_typed_by_hand_as_text_below_the_limit_still_counts_and_is_stored_as_a_number_again(api, clinic):
    visit_id = clinic.add_visit("Alex")
    set_attributes(clinic, visit_id, answer_changes={"S": "2"})

    assert respond(api, clinic, visit_id, "confirmed").status_code == 200
    assert clinic.stored_visit("Alex", visit_id).answer_changes == 3  # a number again, counted from the text

    statuses = [change(api, clinic, visit_id).status_code, respond(api, clinic, visit_id, "confirmed").status_code]
    statuses += [change(api, clinic, visit_id).status_code, respond(api, clinic, visit_id, "confirmed").status_code]
    assert statuses == [200, 200, 200, 429]  # changes 4, 5 and 6, then the limit
