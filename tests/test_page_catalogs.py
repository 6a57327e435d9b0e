"""The page's message catalogs (chalicelib/web/i18n-<language>.js): every language has every key,
with the same placeholders and plural forms, and every key the page's script or HTML names exists.

Read from the files as they are served: a missing word would otherwise show up only in front of
a patient, as the bare key.
"""

import json
import re
from pathlib import Path

import pytest

from chalicelib import accounts, rules

WEB = Path(__file__).resolve().parent.parent / "chalicelib" / "web"
LANGUAGES = ("en", "es")
PLACEHOLDER = re.compile(r"\{(\w+)\}")
# Intl.PluralRules categories each language uses (CLDR): a plural message needs each of them.
PLURAL_CATEGORIES = {"en": {"one", "other"}, "es": {"one", "other"}}


def catalog(language: str) -> dict:
    """The catalog's object: strict JSON between `export default` and the closing `;`."""
    text = (WEB / f"i18n-{language}.js").read_text(encoding="utf-8")
    start = re.search(r"^export default ", text, re.MULTILINE).end()
    return json.loads(text[start : text.rindex("}") + 1])


def forms(message) -> list[str]:
    return list(message.values()) if isinstance(message, dict) else [message]


def placeholders(message) -> set[str]:
    return {name for form in forms(message) for name in PLACEHOLDER.findall(form)}


def script_sources() -> dict[str, str]:
    return {
        path.name: path.read_text(encoding="utf-8") for path in WEB.glob("*.js") if not path.name.startswith("i18n-")
    }


def keys_named_by_the_page() -> dict[str, set[str]]:
    """Every key the page names: quoted 'namespace.key' literals in the script, data-i18n in the HTML."""
    namespaces = {key.split(".")[0] for key in catalog("en")}
    alternatives = "|".join(sorted(namespaces))
    literal = re.compile(r"""['"`]((?:""" + alternatives + r""")\.[A-Za-z_.]+)['"`]""")
    named: dict[str, set[str]] = {}
    for name, source in script_sources().items():
        for key in literal.findall(source):
            named.setdefault(key, set()).add(name)
    html = (WEB / "index.html").read_text(encoding="utf-8")
    for key in re.findall(r'data-i18n="([^"]+)"', html):
        named.setdefault(key, set()).add("index.html")
    for pairs in re.findall(r'data-i18n-attrs="([^"]+)"', html):
        for pair in pairs.split(";"):
            named.setdefault(pair.split(":")[1].strip(), set()).add("index.html")
    return named


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_language_has_every_key_of_every_other(language):
    keys = set(catalog(language))
    for other in LANGUAGES:
        missing = set(catalog(other)) - keys
        assert not missing, f"i18n-{language}.js lacks {sorted(missing)} (in i18n-{other}.js)"


@pytest.mark.parametrize("language", LANGUAGES[1:])
def test_a_translation_fills_the_same_placeholders_as_english(language):
    english, translated = catalog("en"), catalog(language)
    for key, message in english.items():
        assert placeholders(translated[key]) == placeholders(message), f"{key}: placeholders differ in {language}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_plural_messages_have_every_form_the_language_uses(language):
    for key, message in catalog(language).items():
        if isinstance(message, dict):
            assert set(message) >= PLURAL_CATEGORIES[language], f"{key} in {language}: forms {sorted(message)}"
            assert all("{count}" in form for form in message.values()), f"{key} in {language}: a form without {{count}}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_no_message_is_empty_or_left_untranslated_as_a_key(language):
    for key, message in catalog(language).items():
        for form in forms(message):
            assert form.strip() and form != key, f"{key} in {language} is empty"


def test_every_key_the_page_names_is_in_the_catalogs():
    english = catalog("en")
    unknown = {key: sorted(files) for key, files in keys_named_by_the_page().items() if key not in english}
    assert not unknown, f"keys used by the page but in no catalog: {unknown}"


def test_every_catalog_key_is_used_by_the_page():
    unused = set(catalog("en")) - set(keys_named_by_the_page())
    assert not unused, f"keys no script or HTML names (remove them, or name them as a literal): {sorted(unused)}"


def test_the_page_states_the_password_rules_the_user_pools_enforce():
    minimum = accounts.PASSWORD_POLICY["MinimumLength"]
    assert f"PASSWORD_MIN_LENGTH = {minimum};" in script_sources()["messages.js"]
    assert f"data-i18n-params='{{\"min\":{minimum}}}'" in (WEB / "index.html").read_text(encoding="utf-8")


def test_the_page_offers_the_languages_a_patient_can_save():
    offered = re.findall(r'data-language="(\w+)"', (WEB / "index.html").read_text(encoding="utf-8"))
    assert sorted(offered) == sorted(rules.LANGUAGES) == sorted(LANGUAGES)
    assert all((WEB / f"i18n-{language}.js").exists() for language in rules.LANGUAGES)


def test_the_page_knows_the_contracts_default_cancel_notice_to_word_it_in_the_patients_language():
    assert catalog("en")["cancel.noticeDefault"] == rules.DEFAULT_CANCEL_NOTICE
    dialogs = re.sub(r"'\s*\+\s*'", "", script_sources()["dialogs.js"])  # the constant spans two lines
    assert f"'{rules.DEFAULT_CANCEL_NOTICE}'" in dialogs
