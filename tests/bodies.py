"""Request bodies the tests send, valid unless a test changes a field."""


def new_visit(patient_id: str, **changes) -> dict:
    """A `POST /clinic/sessions` body: a 50-minute individual session at 09:30 on 2030-01-07."""
    return {
        "patient_id": patient_id,
        "date": "2030-01-07",
        "start_time": "09:30",
        "duration_minutes": 50,
        "provider": "Dr. Maya Patel",
        "location": "Room 2",
        "session_class": "Individual therapy",
        **changes,
    }
