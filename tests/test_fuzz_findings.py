"""Bad input gets a 400, never a 500: what the fuzzing (tests/test_fuzz.py) found, and its near relatives."""

import pytest

from tests import bodies

ALEX_PASSWORD = "Test-Password-2026!"


def assert_bad_request(response):
    assert response.status_code == 400, response.body
    assert response.data["Code"] == "BadRequestError"


# --- Text that is not text -----------------------------------------------------------------


def test_a_patient_name_with_half_a_surrogate_pair_is_refused(api, clinic):
    # JSON can escape a lone UTF-16 surrogate, which decodes to a str no AWS service can store.
    response = api.post(
        "/clinic/patients", clinic.staff_token, raw='{"name": "Jo \\udaaa", "email": "jo.surrogate@tests.example"}'
    )

    assert_bad_request(response)
    assert "name" in response.data["Message"]


def test_a_cancel_reason_with_half_a_surrogate_pair_is_refused_and_nothing_is_stored(api, clinic):
    visit_id = clinic.add_visit("Alex")

    response = api.put(
        f"/portal/sessions/{visit_id}/response",
        clinic.token_for("Alex"),
        raw='{"response": "cancelled", "reason": "sick \\udc81"}',
    )

    assert_bad_request(response)
    assert clinic.stored_visit("Alex", visit_id).patient_response is None


def test_a_password_with_half_a_surrogate_pair_is_refused(api, clinic):
    response = api.post("/auth/login", raw=f'{{"username": "{clinic.email_of("Alex")}", "password": "Pass\\ud800"}}')

    assert_bad_request(response)


# --- Values Cognito itself refuses ---------------------------------------------------------


@pytest.mark.parametrize("session", ["too-short", "s" * 4097])
def test_a_new_password_session_outside_cognitos_bounds_is_refused(api, clinic, session):
    response = api.post(
        "/auth/new-password",
        json_body={"username": clinic.email_of("Alex"), "session": session, "new_password": "Another-Password-2026!"},
    )

    assert_bad_request(response)
    assert response.data["Message"].startswith("session is too")


def test_a_patient_email_longer_than_a_cognito_username_is_refused(api, clinic):
    address = "a" * 60 + "@" + "b" * 60 + ".tests.example"  # 135 characters: a valid address, not a login
    assert len(address) > 128

    response = api.post("/clinic/patients", clinic.staff_token, json_body={"name": "Long Address", "email": address})

    assert_bad_request(response)
    assert "128" in response.data["Message"]


# --- Addresses that are not email addresses --------------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "jo..smith@tests.example",  # consecutive dots
        ".jo@tests.example",  # leading dot
        "jo.@tests.example",  # trailing dot
        "jö@tests.example",  # not ASCII: SES and Cognito refuse it
        "jo\u200b@tests.example",  # an invisible character
        "j" * 65 + "@tests.example",  # local part over 64 characters
    ],
)
def test_an_address_mail_servers_would_refuse_is_not_an_email_address(api, clinic, address):
    as_patient = api.post("/clinic/patients", clinic.staff_token, json_body={"name": "Jo", "email": address})
    as_admin = api.patch("/clinic/settings", clinic.staff_token, json_body={"admin_email": address})

    assert_bad_request(as_patient)
    assert_bad_request(as_admin)
    assert as_patient.data["Message"] == "email must be an email address."


def test_an_ordinary_address_with_plus_and_hyphen_is_still_accepted(api, clinic):
    response = api.post(
        "/clinic/patients",
        clinic.staff_token,
        json_body={"name": "Jo Smith", "email": "Jo.Smith+portal@my-mail.tests.example"},
    )

    assert response.status_code == 201, response.data
    assert response.data["email"] == "jo.smith+portal@my-mail.tests.example"


def test_a_patient_email_cognito_does_not_take_as_a_username_is_refused_and_nothing_is_stored(api, clinic):
    # RFC 5322 allows `^` in the local part; Cognito's username rules for email do not.
    response = api.post("/clinic/patients", clinic.staff_token, json_body={"name": "Caret", "email": "^@va.example"})

    assert_bad_request(response)
    assert response.data["Message"] == "This email address cannot be used for a portal login."
    listed = api.get("/clinic/patients", clinic.staff_token).data["patients"]
    assert "Caret" not in [patient["name"] for patient in listed]


# --- A sign-in session nobody started ---------------------------------------------------------


def test_a_new_password_for_a_session_cognito_does_not_know_is_401(api, clinic):
    response = api.post(
        "/auth/new-password",
        json_body={
            "username": clinic.email_of("Alex"),
            "session": "AYABeJ0c2Vzc2lvbi1mb3ItYWxleC1yaXZlcmE",
            "new_password": "Another-Password-2026!",
        },
    )

    assert response.status_code == 401, response.body
    assert response.data == {
        "Code": "UnauthorizedError",
        "Message": "This sign-in session is no longer valid. Please log in again.",
    }


# --- Dates in the contract's one form ----------------------------------------------------------


def test_a_range_given_as_iso_week_dates_is_refused(api, clinic):
    response = api.get("/portal/sessions?from=2026-W48-1&to=2026-W49-7", clinic.token_for("Alex"))

    assert_bad_request(response)
    assert response.data["Message"] == "from must be a date in the form YYYY-MM-DD."


def test_a_visit_dated_by_iso_week_is_refused(api, clinic):
    response = api.post(
        "/clinic/sessions",
        clinic.staff_token,
        json_body=bodies.new_visit(clinic.patients["Alex"], date="2026-W50-2"),
    )

    assert_bad_request(response)
    assert response.data["Message"] == "date must be a date in the form YYYY-MM-DD."


@pytest.mark.parametrize("first, last", [("9999-01-01", "9999-12-31"), ("0001-01-01", "0001-01-31")])
def test_a_range_at_the_ends_of_the_calendar_is_refused(api, make_clinic, first, last):
    # East of Greenwich, midnight of 0001-01-01 is in the year 0 in UTC; 9999-12-31 has no next day.
    world = make_clinic(timezone_name="Asia/Tokyo")

    response = api.get(f"/portal/sessions?from={first}&to={last}", world.token_for("Alex"))

    assert_bad_request(response)
    assert response.data["Message"] == "from must be between 1900-01-01 and 2999-12-31."


def test_moving_a_visit_to_a_three_digit_year_is_refused_and_the_visit_stays_readable(api, clinic):
    visit_id = clinic.add_visit("Alex")
    before = clinic.stored_visit("Alex", visit_id).starts_at

    response = api.patch(f"/clinic/sessions/{visit_id}", clinic.staff_token, json_body={"date": "0471-10-03"})

    assert_bad_request(response)
    assert clinic.stored_visit("Alex", visit_id).starts_at == before
    assert (
        api.patch(f"/clinic/sessions/{visit_id}", clinic.staff_token, json_body={"location": "Room 3"}).status_code
        == 200
    )


# --- JSON that the parser itself cannot take ------------------------------------------------------


def test_a_body_nested_too_deeply_for_the_json_parser_is_refused(api, clinic):
    response = api.patch("/clinic/settings", clinic.staff_token, raw="[" * 100_000 + "]" * 100_000)

    assert_bad_request(response)
    assert response.data["Message"] == "The request body is nested too deeply."


# --- Numbers as JSON Schema reads them -----------------------------------------------------------


def test_a_whole_number_written_with_a_decimal_point_is_that_number(api, clinic):
    # The description says `integer`, and for JSON Schema 50.0 is one: clients that write it so
    # (Python's json for a float, for one) must not be refused.
    response = api.post(
        "/clinic/sessions",
        clinic.staff_token,
        json_body=bodies.new_visit(clinic.patients["Alex"], duration_minutes=50.0),
    )

    assert response.status_code == 201, response.data
    assert response.data["duration_minutes"] == 50
    assert (
        api.patch("/clinic/settings", clinic.staff_token, json_body={"cancel_cutoff_hours": 24.0}).data[
            "cancel_cutoff_hours"
        ]
        == 24
    )


@pytest.mark.parametrize("value", [50.5, True, "50"])
def test_a_number_that_is_not_whole_is_still_refused(api, clinic, value):
    visit_id = clinic.add_visit("Alex")

    response = api.patch(f"/clinic/sessions/{visit_id}", clinic.staff_token, json_body={"duration_minutes": value})

    assert_bad_request(response)
    assert response.data["Message"] == "duration_minutes must be a whole number."
