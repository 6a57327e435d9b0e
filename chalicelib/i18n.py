"""What a patient reads, in their language: translated messages (gettext catalogs in
`chalicelib/locale/`, made with Babel) and dates, times and time zones written as the locale
writes them (Babel's CLDR data), never hand-written month or weekday names.

The English text in the code is the message id; `locale/es/LC_MESSAGES/messages.po` is its
Spanish, compiled to `messages.mo` beside it (committed, so `make run`, the tests and the Lambda
bundle read the same file; tests/test_translations.py fails when it is stale, incomplete or out
of step with the code). README "Languages" says how to add one.

Babel and Jinja2 are imported on first use: a cold start that sends no patient text pays nothing.
"""

import functools
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from chalicelib import rules

LOCALE_DIR = Path(__file__).parent / "locale"
TEMPLATES = Path(__file__).parent / "templates"
DOMAIN = "messages"
# The CLDR locale each language is written in. US English; Spanish as CLDR's `es` writes dates
# (`mar, 8 dic 2026`), with the 12-hour clock US patients read (`11:30 a. m.`) forced below.
LOCALES = {"en": "en_US", "es": "es"}
# CLDR skeletons (the fields wanted; the locale orders and punctuates them).
_DATE = "yMMMEd"  # Tue, Dec 8, 2026 · mar, 8 dic 2026
_SHORT_DATE = "MMMEd"  # Tue, Dec 8 · mar, 8 dic
_TIME = "hmm"  # 11:30 AM · 11:30 a. m. (12-hour in both)
# CLDR separates a time from AM/PM with a narrow no-break space (U+202F): written as a plain
# space, so a patient (or their mail client's search) finds "9:00 AM" as they would type it.
_SPACES = str.maketrans({"\u202f": " ", "\u00a0": " "})


def N_(message: str) -> str:
    """Marks text for the catalog that is translated where it is shown (`pybabel extract -k N_`)."""
    return message


def language(value: str | None) -> str:
    """A supported language code; English for anything else."""
    code = (value or "").strip().lower()
    return code if code in rules.LANGUAGES else rules.DEFAULT_LANGUAGE


def from_accept_language(header: str | None) -> str:
    """The language a browser asks for (`Accept-Language`), for a page whose patient is unknown."""
    from babel import negotiate_locale

    wanted = []
    for part in (header or "").split(",")[:20]:
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        if tag and quality > 0:
            wanted.append((quality, tag.strip().replace("_", "-")))
    preferred = [tag.split("-")[0].lower() for _, tag in sorted(wanted, key=lambda item: -item[0])]
    return negotiate_locale(preferred, list(rules.LANGUAGES)) or rules.DEFAULT_LANGUAGE


@functools.cache
def translations(code: str):
    """The compiled catalog of a language (English is the code's own text: no catalog)."""
    from babel.support import NullTranslations, Translations

    if code == rules.DEFAULT_LANGUAGE:
        return NullTranslations()
    found = Translations.load(str(LOCALE_DIR), [LOCALES[code]], DOMAIN)
    if not isinstance(found, Translations):  # Babel answers NullTranslations for a missing file
        raise RuntimeError(f"The {code} message catalog is missing: {LOCALE_DIR}/{LOCALES[code]}")
    return found


@dataclass(frozen=True)
class Words:
    """One language's messages, dates and times. `gettext`/`ngettext` are what `pybabel extract`
    looks for; values are filled in after translation (`%(name)s`), so a translation can move them."""

    code: str

    @property
    def locale(self) -> str:
        return LOCALES[self.code]

    def gettext(self, message: str, **values) -> str:
        text = translations(self.code).ugettext(message)
        return text % values if values else text

    def ngettext(self, singular: str, plural: str, count: int, **values) -> str:
        text = translations(self.code).ungettext(singular, plural, count)
        return text % dict(values, count=count)

    def date(self, moment: datetime) -> str:
        """`Tue, Dec 8, 2026` · `mar, 8 dic 2026`"""
        return self._skeleton(_DATE, moment)

    def short_date(self, moment: datetime) -> str:
        """`Tue, Dec 8` · `mar, 8 dic` (an email subject)"""
        return self._skeleton(_SHORT_DATE, moment)

    def time(self, moment: datetime) -> str:
        """`11:30 AM` · `11:30 a. m.`"""
        return self._skeleton(_TIME, moment)

    def when(self, moment: datetime) -> str:
        """`Tue, Dec 8, 2026 · 11:30 AM` · `mar, 8 dic 2026 · 11:30 a. m.`"""
        return f"{self.date(moment)} · {self.time(moment)}"

    def zone(self, tz: ZoneInfo) -> str:
        """The clinic's time zone as the locale names it: `Eastern Time` · `hora oriental`; the
        IANA name (`America/New_York`) when CLDR has no name for it."""
        from babel.dates import get_timezone_name

        try:
            name = get_timezone_name(tz, "long", locale=self.locale, return_zone=False)
        except (LookupError, ValueError):
            return tz.key
        return (name or tz.key).translate(_SPACES)

    def _skeleton(self, skeleton: str, moment: datetime) -> str:
        from babel.dates import format_skeleton

        return format_skeleton(skeleton, moment, locale=self.locale).translate(_SPACES)


def words(code: str | None) -> Words:
    return Words(language(code))


@functools.cache
def _environment(code: str):
    """The Jinja environment for a language's templates: HTML escaped (the `.html` ones), every
    variable required (StrictUndefined: a value left out is an error, never a blank), gettext
    installed new-style (values filled in after translation, and escaped)."""
    import jinja2

    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        keep_trailing_newline=True,
    )
    environment.install_gettext_translations(translations(code), newstyle=True)
    return environment


def render(name: str, code: str, values: dict) -> str:
    """A template of `templates/` in a language; `lang` (the page's `lang` attribute) is given."""
    return _environment(language(code)).get_template(name).render(values, lang=language(code))
