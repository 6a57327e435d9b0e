"""The patient texts' catalogs and templates: no message missing in either language, catalogs in
step with the code, the compiled catalog in step with its source, every template fully filled in
both languages, and dates and times as each locale writes them."""

import io
import re
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import jinja2
import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from chalicelib import i18n, link_pages, rules

ROOT = Path(__file__).resolve().parent.parent
# The same keywords as `make catalogs` (PYBABEL_KEYWORDS in the Makefile).
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}
TRANSLATED = [code for code in rules.LANGUAGES if code != rules.DEFAULT_LANGUAGE]
PATIENT_TEMPLATES = ["reminder.txt", "reminder.html", "link_page.html"]
_PLACEHOLDER = re.compile(r"%\((\w+)\)s")
# What a template or a message left unfilled would show.
_UNFILLED = re.compile(r"\{\{|\}\}|\{%|%\}|%\(\w+\)|\$\w")


def extracted_ids() -> set:
    with (ROOT / "babel.cfg").open() as config:
        method_map, options_map = parse_mapping_cfg(config)
    found = set()
    for _, _, message, _, _ in extract_from_dir(str(ROOT), method_map, options_map, keywords=KEYWORDS):
        found.add(message if isinstance(message, str) else tuple(message))
    return found


def po_catalog(code: str):
    path = i18n.LOCALE_DIR / i18n.LOCALES[code] / "LC_MESSAGES" / f"{i18n.DOMAIN}.po"
    with path.open("rb") as file:
        return read_po(file, locale=i18n.LOCALES[code])


def key(message) -> str | tuple:
    return message.id if isinstance(message.id, str) else tuple(message.id)


@pytest.mark.parametrize("code", TRANSLATED)
def test_the_catalog_has_every_message_of_the_code_and_no_other(code):
    in_code = extracted_ids()
    in_catalog = {key(message) for message in po_catalog(code) if message.id}
    assert in_code, "nothing extracted: is babel.cfg right?"
    assert sorted(map(str, in_code - in_catalog)) == [], "new messages: run `make catalogs` and translate them"
    assert sorted(map(str, in_catalog - in_code)) == [], "messages the code no longer has: run `make catalogs`"


@pytest.mark.parametrize("code", TRANSLATED)
def test_every_message_is_translated_with_the_same_placeholders(code):
    catalog = po_catalog(code)
    for message in catalog:
        if not message.id:
            continue
        ids = [message.id] if isinstance(message.id, str) else list(message.id)
        strings = [message.string] if isinstance(message.string, str) else list(message.string)
        assert not message.fuzzy, f"fuzzy (unchecked) translation: {message.id!r}"
        assert len(strings) == (1 if isinstance(message.id, str) else catalog.num_plurals), message.id
        for string in strings:
            assert string.strip(), f"no {code} translation for {message.id!r}"
            assert set(_PLACEHOLDER.findall(string)) == set(_PLACEHOLDER.findall(ids[-1])), message.id
    assert catalog.plural_forms == "nplurals=2; plural=(n != 1);"


@pytest.mark.parametrize("code", TRANSLATED)
def test_the_compiled_catalog_is_the_source_catalog(code):
    """The .mo is committed (the Lambda bundle, `make run` and the tests read it): never stale."""
    mo_path = i18n.LOCALE_DIR / i18n.LOCALES[code] / "LC_MESSAGES" / f"{i18n.DOMAIN}.mo"
    compiled = {key(message): message.string for message in read_mo(io.BytesIO(mo_path.read_bytes())) if message.id}
    source = {key(message): message.string for message in po_catalog(code) if message.id}
    normalise = {k: tuple(v) if isinstance(v, list | tuple) else v for k, v in compiled.items()}
    assert normalise == {k: tuple(v) if isinstance(v, list | tuple) else v for k, v in source.items()}, (
        "run `make catalogs` (pybabel compile)"
    )


def template_values(code: str) -> dict[str, dict]:
    words = i18n.words(code)
    answers = [
        {"label": words.gettext("Confirm"), "url": "https://p.example/r/t?do=confirm", "colour": "#1b6e3a"},
        {"label": words.gettext("Cancel"), "url": "https://p.example/r/t?do=cancel", "colour": "#b42318"},
    ]
    reminder = {
        "greeting": words.gettext("Hi %(name)s,", name="Alex"),
        "clinic_name": "Riverside",
        "date": "d",
        "start_time": "t",
        "timezone": "z",
        "location": "Room 2",
        "provider": "Dr. Patel",
        "answers": answers,
        "questions": "q",
        "portal_url": "https://p.example/",
        "unsubscribe_url": "https://p.example/u/t",
    }
    page = {
        "title": "T",
        "clinic_name": "Riverside",
        "stylesheet": "../web/styles.css",
        "messages": [{"text": "m", "kind": "error"}],
        "details": [("Date", "d")],
        "actions": ["confirm", "cancel", "change", "unsubscribe"],
        "paragraphs": ["p"],
        "cancel_closes": "c",
    }
    return {"reminder.txt": reminder, "reminder.html": reminder, "link_page.html": page}


@pytest.mark.parametrize("code", rules.LANGUAGES)
@pytest.mark.parametrize("name", PATIENT_TEMPLATES)
def test_every_template_renders_fully_in_every_language(code, name):
    values = template_values(code)[name]
    rendered = i18n.render(name, code, values)
    assert not _UNFILLED.search(rendered), _UNFILLED.search(rendered)
    if name.endswith(".html"):
        assert f'<html lang="{code}">' in rendered
    for missing in values:  # every value is required: leaving one out is an error, never a blank
        with pytest.raises(jinja2.UndefinedError):
            i18n.render(name, code, {k: v for k, v in values.items() if k != missing})


def test_the_spanish_templates_have_no_english_left():
    rendered = i18n.render("link_page.html", "es", template_values("es")["link_page.html"])
    for english in ("Confirm<", "Cancel this appointment", "Change my answer", "Reason", "Stop reminder"):
        assert english not in rendered
    assert "Cancelar esta cita" in rendered and "Motivo (opcional)" in rendered


def test_plural_forms_follow_the_count():
    singular, plural = (
        "Online cancellation closes %(count)s hour before the appointment.",
        "Online cancellation closes %(count)s hours before the appointment.",
    )
    spanish = i18n.words("es")
    assert spanish.ngettext(singular, plural, 1) == "La cancelación en línea cierra 1 hora antes de la cita."
    assert spanish.ngettext(singular, plural, 24) == "La cancelación en línea cierra 24 horas antes de la cita."
    assert i18n.words("en").ngettext(singular, plural, 1) == singular % {"count": 1}


def test_dates_and_times_are_written_as_each_locale_writes_them_in_the_clinics_zone():
    moment = datetime(2026, 12, 8, 16, 30, tzinfo=UTC).astimezone(ZoneInfo("America/New_York"))
    english, spanish = i18n.words("en"), i18n.words("es")
    assert english.when(moment) == "Tue, Dec 8, 2026 · 11:30 AM"
    assert spanish.when(moment) == "mar, 8 dic 2026 · 11:30 a. m."
    assert english.short_date(moment) == "Tue, Dec 8"
    assert (english.zone(moment.tzinfo), spanish.zone(moment.tzinfo)) == ("Eastern Time", "hora oriental")
    evening = datetime(2026, 7, 1, 1, 5, tzinfo=UTC).astimezone(ZoneInfo("America/Los_Angeles"))
    assert (english.time(evening), spanish.time(evening)) == ("6:05 PM", "6:05 p. m.")


def test_an_unknown_language_reads_english():
    assert i18n.words("fr").code == "en" and i18n.words(None).code == "en"


@pytest.mark.parametrize(
    ("header", "language"),
    [
        ("es-US,es;q=0.9,en;q=0.8", "es"),
        ("en-US,en;q=0.9,es;q=0.5", "en"),
        ("fr-FR, es;q=0.4", "es"),
        ("de", "en"),
        ("", "en"),
        ("es;q=0", "en"),
        ("es;q=junk, en", "en"),
    ],
)
def test_a_page_for_an_unknown_reader_follows_accept_language(header, language):
    assert i18n.from_accept_language(header) == language


def test_the_default_cancel_notice_is_the_one_translated():
    assert link_pages.DEFAULT_CANCEL_NOTICE == rules.DEFAULT_CANCEL_NOTICE
