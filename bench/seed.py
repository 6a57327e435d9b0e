"""The data the bench runs against.

The bench clinic (its settings, two patients with logins, their visits) is written through
the service's own models with batch writes to the emulator, as the clinic's records. The
filler that makes the visits table 100,000 items goes straight into moto's in-process
backend: through moto's HTTP server it takes minutes, directly it takes seconds, and it is
never what is measured. Filler writes make no stream records (as a bulk import would not).
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from chalicelib import rules, times
from chalicelib.models import Clinic, Patient, Visit
from chalicelib.rules import PatientResponse
from local import records

CLINIC_ID = "cln_bench"
TIMEZONE = "America/New_York"
PASSWORD = "Bench-Password-2026!"
LISTED = ("pat_bench_listed", "Lee Listed", "listed@bench.example")
ANSWERING = ("pat_bench_answering", "Ari Answering", "answering@bench.example")
LISTED_IN_RANGE = 100
LISTED_OUT_OF_RANGE = 50  # half before the range, half after: a Query not bounded by the range would read them
ANSWERABLE = 80  # upcoming visits of the answering patient: each timed answer gets a fresh one
TABLE_VISITS = 100_000
FILLER_PATIENTS = 5_000  # about 20 visits each
FILLER_CLINICS = 500  # the bench clinic is one of them
FILLER_IN_BENCH_CLINIC = 500  # so the measured clinic itself has grown: about 10,000 visits
CANCELLED_BY_CLINIC = "Cancelled by clinic"  # one of the default session classes


@dataclass(frozen=True)
class BenchData:
    clinic_id: str
    listed_patient: str
    answering_patient: str
    logins: dict[str, str]  # patient id -> email
    range_from: date  # the listed range, inclusive, in the clinic's time zone
    range_to: date
    answerable: list[str]  # visit ids, upcoming, awaiting an answer


def seed_bench_clinic(now: datetime) -> BenchData:
    tz = ZoneInfo(TIMEZONE)
    today = times.today_in(tz, now)
    range_from, range_to = rules.date_range(None, None, today)  # the portal's default range
    stamp = times.format_instant(now)
    records.clinic(
        CLINIC_ID, name="Bench Family Therapy", timezone=TIMEZONE, admin_email="frontdesk@bench.example"
    ).save()
    for patient_id, name, email in (LISTED, ANSWERING):
        user_id = records.patient_login(email, CLINIC_ID, patient_id, PASSWORD, now)
        Patient(patient_id, clinic_id=CLINIC_ID, name=name, email=email, created_at=stamp, user_id=user_id).save()

    visits = []
    span = (range_to - range_from).days + 1
    for k in range(LISTED_IN_RANGE):
        day = range_from + timedelta(days=k * span // LISTED_IN_RANGE)
        visits.append(_visit(LISTED, f"vis_bench_l{k:03d}", day, time(9 + k % 8), tz, stamp, variant=k, now=now))
    for k in range(LISTED_OUT_OF_RANGE // 2):
        visits.append(
            _visit(LISTED, f"vis_bench_b{k:03d}", range_from - timedelta(days=1 + 2 * k), time(10), tz, stamp)
        )
        visits.append(_visit(LISTED, f"vis_bench_a{k:03d}", range_to + timedelta(days=1 + 2 * k), time(10), tz, stamp))
    answerable = []
    for k in range(ANSWERABLE):
        visit = _visit(ANSWERING, f"vis_bench_r{k:03d}", today + timedelta(days=2 + k % 60), time(9 + k % 8), tz, stamp)
        visits.append(visit)
        answerable.append(visit.visit_id)
    with Visit.batch_write() as batch:
        for visit in visits:
            batch.save(visit)
    return BenchData(
        CLINIC_ID,
        LISTED[0],
        ANSWERING[0],
        {LISTED[0]: LISTED[2], ANSWERING[0]: ANSWERING[2]},
        range_from,
        range_to,
        answerable,
    )


def _visit(patient, visit_id, day, clock, tz, stamp, variant=None, now=None) -> Visit:
    patient_id, name, _ = patient
    starts_at = times.local_to_utc(day, clock, tz)
    fields = {}
    # The listed patient's visits come in every status, so the list does all of its work.
    kind = variant % 10 if variant is not None else None
    if kind == 0 and starts_at < now:
        fields["completed"] = True
    elif kind == 1:
        fields["session_class"] = CANCELLED_BY_CLINIC
    elif kind == 2:
        fields["response"] = PatientResponse.CONFIRMED.value
    elif kind == 3:
        fields.update(response=PatientResponse.CANCELLED.value, reason="Out of town.")
    return records.visit(
        patient_id,
        visit_id,
        clinic_id=CLINIC_ID,
        patient_name=name,
        starts_at=starts_at,
        now=times.parse_instant(stamp),
        **fields,
    )


# --- Filler, straight into moto's backend --------------------------------------------------


def _moto_table(name: str, region: str):
    from moto.backends import get_backend
    from moto.core import DEFAULT_ACCOUNT_ID

    return get_backend("dynamodb")[DEFAULT_ACCOUNT_ID][region].get_table(name)


def table_size(model, region: str) -> int:
    """Items in a table, read from the emulator's memory (not a Scan, not a request)."""
    table = _moto_table(model.Meta.table_name, region)
    if table.range_key_attr:
        return sum(len(items) for items in table.items.values())
    return len(table.items)


def _put_direct(model, raw_items, region: str) -> None:
    from moto.dynamodb.models.dynamo_type import DynamoType, Item

    table = _moto_table(model.Meta.table_name, region)
    for raw in raw_items:
        hash_key = DynamoType(raw[table.hash_key_attr])
        range_key = DynamoType(raw[table.range_key_attr]) if table.range_key_attr else None
        item = Item(hash_key, range_key, {})
        # Skips moto's per-attribute item-size check (quadratic in attributes); these items are small.
        dict.update(item.attrs, {name: DynamoType(value) for name, value in raw.items()})
        if range_key is None:
            table.items[hash_key] = item
        else:
            table.items[hash_key][range_key] = item


def seed_filler(now: datetime, region: str, total_visits: int = TABLE_VISITS) -> int:
    """Other clinics and patients (and more patients of the bench clinic) until the visits
    table holds `total_visits` items. Returns how many visits were added."""
    stamp = times.format_instant(now)
    clinics = [CLINIC_ID] + [f"cln_fill_{n:03d}" for n in range(1, FILLER_CLINICS)]
    clinic_template = records.clinic(
        "x", name="Filler Clinic", timezone=TIMEZONE, admin_email="frontdesk@filler.example"
    ).serialize()
    _put_direct(Clinic, ({**clinic_template, "clinic_id": {"S": c}} for c in clinics[1:]), region)

    patients = [
        (f"pat_fill_{n:05d}", CLINIC_ID if n < FILLER_IN_BENCH_CLINIC else clinics[1 + n % (FILLER_CLINICS - 1)])
        for n in range(FILLER_PATIENTS)
    ]
    patient_template = Patient(
        "x", clinic_id="x", name="Filler Patient", email="patient@filler.example", created_at=stamp
    ).serialize()
    _put_direct(
        Patient, ({**patient_template, "patient_id": {"S": p}, "clinic_id": {"S": c}} for p, c in patients), region
    )

    missing = total_visits - table_size(Visit, region)
    visit_template = records.visit(
        "x",
        "x",
        clinic_id="x",
        patient_name="Filler Patient",
        starts_at=now,
        now=now,
        provider="Jordan Lee, LMFT",
        location="Telehealth (video)",
    ).serialize()
    first = now - timedelta(days=365)

    def filler_visits():
        for n in range(missing):
            patient_id, clinic_id = patients[n % FILLER_PATIENTS]
            starts_at = first + timedelta(days=(n * 7) % 730, hours=(n % 9))  # two years around today
            yield {
                **visit_template,
                "patient_id": {"S": patient_id},
                "visit_id": {"S": f"vis_fill_{total_visits}_{n:06d}"},  # a second top-up adds, never overwrites
                "clinic_id": {"S": clinic_id},
                "starts_at": {"S": times.format_instant(starts_at)},
            }

    _put_direct(Visit, filler_visits(), region)
    return missing


# --- A big clinic, for paging its year -------------------------------------------------------

BIG_CLINIC_ID = "cln_bench_big"
BIG_CLINIC_VISITS = 20_000
BIG_CLINIC_PATIENTS = 400
BIG_STAFF = ("staff@big.bench.example", "Bench-Staff-Password-2026!")


@dataclass(frozen=True)
class BigClinic:
    clinic_id: str
    staff_email: str
    staff_password: str
    totp_secret: str
    range_from: date  # a year, in the clinic's time zone, holding every one of its visits
    range_to: date
    visits: int


def seed_big_clinic(now: datetime, region: str) -> BigClinic:
    """A clinic with 20,000 visits over one year (its settings and staff login through the
    service; its patients and visits straight into moto's backend, as the filler is)."""
    tz = ZoneInfo(TIMEZONE)
    today = times.today_in(tz, now)
    range_from, range_to = today - timedelta(days=182), today + timedelta(days=182)
    stamp = times.format_instant(now)
    records.clinic(
        BIG_CLINIC_ID, name="Big Bench Counseling", timezone=TIMEZONE, admin_email="frontdesk@big.bench.example"
    ).save()
    secret = records.staff_login(BIG_STAFF[0], BIG_CLINIC_ID, BIG_STAFF[1])
    patient_template = Patient(
        "x", clinic_id=BIG_CLINIC_ID, name="Big Clinic Patient", email="patient@big.bench.example", created_at=stamp
    ).serialize()
    patients = [f"pat_big_{n:04d}" for n in range(BIG_CLINIC_PATIENTS)]
    _put_direct(Patient, ({**patient_template, "patient_id": {"S": p}} for p in patients), region)
    visit_template = records.visit(
        "x", "x", clinic_id=BIG_CLINIC_ID, patient_name="Big Clinic Patient", starts_at=now, now=now
    ).serialize()
    first = times.local_to_utc(range_from, time(8), tz)
    span_minutes = (range_to - range_from).days * 24 * 60  # the last day's visits stay inside the range

    def visits():
        for n in range(BIG_CLINIC_VISITS):
            starts_at = first + timedelta(minutes=(n * span_minutes) // BIG_CLINIC_VISITS)
            yield {
                **visit_template,
                "patient_id": {"S": patients[n % BIG_CLINIC_PATIENTS]},
                "visit_id": {"S": f"vis_big_{n:05d}"},
                "starts_at": {"S": times.format_instant(starts_at)},
            }

    _put_direct(Visit, visits(), region)
    return BigClinic(BIG_CLINIC_ID, *BIG_STAFF, secret, range_from, range_to, BIG_CLINIC_VISITS)
