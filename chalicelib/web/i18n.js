// The page's languages: which one is in use, its words (the catalogs i18n-<code>.js) and the
// browser's Intl for everything a locale writes its own way (plurals, dates, times, zones).
//
// Static text in index.html names its key in data-i18n (text) or data-i18n-attrs ("attr:key;…");
// text the modules set through setText() carries its key and parameters the same way, so a
// change of language re-words the whole page in place, without a reload.

import en from './i18n-en.js';
import es from './i18n-es.js';

// `intl` is the locale handed to Intl. Spanish as "es" with a 12-hour clock: patients of US
// clinics read "11:30 a. m." (es-US would write "8 de dic de 2026", longer in every table row).
export const LANGUAGES = {
  en: { catalog: en, intl: 'en-US', hour12: true, name: 'English' },
  es: { catalog: es, intl: 'es', hour12: true, name: 'Español' },
};
export const DEFAULT_LANGUAGE = 'en';
// The choice made on this tab (switch or saved preference) survives a reload, like the login.
const STORAGE_KEY = 'portal.language';

let current = DEFAULT_LANGUAGE;
const listeners = [];

export const language = () => current;
export const intlLocale = () => LANGUAGES[current].intl;
export const hour12 = () => LANGUAGES[current].hour12;

export function isLanguage(code) {
  return Object.hasOwn(LANGUAGES, code);
}

/** This tab's earlier choice, else the first of the browser's languages (Accept-Language) we have. */
export function preferredLanguage() {
  let stored = null;
  try {
    stored = sessionStorage.getItem(STORAGE_KEY);
  } catch {
    // Storage refused (a privacy setting): the browser's languages decide.
  }
  if (isLanguage(stored)) return stored;
  const wanted = navigator.languages?.length ? navigator.languages : [navigator.language];
  for (const tag of wanted) {
    const primary = String(tag || '').toLowerCase().split('-')[0];
    if (isLanguage(primary)) return primary;
  }
  return DEFAULT_LANGUAGE;
}

// Mistakes in the page's own use of a message say so on the console ("i18n: …"); the browser
// tests fail on any such line, so a missing word or an unfilled {placeholder} never ships.
function fill(key, template, params) {
  return template.replace(/\{(\w+)\}/g, (whole, name) => {
    if (!Object.hasOwn(params, name)) {
      console.error(`i18n: {${name}} left unfilled in ${key}`);
      return whole;
    }
    const value = params[name];
    if (typeof value === 'number') return new Intl.NumberFormat(intlLocale()).format(value);
    // A parameter may itself be a message ({ key, params }), worded in the same language.
    if (value && typeof value === 'object' && value.key) return t(value.key, value.params);
    return String(value ?? '');
  });
}

/** The message `key` in the current language, its {placeholders} filled from `params`. */
export function t(key, params = {}) {
  let message = LANGUAGES[current].catalog[key] ?? en[key];
  if (message === undefined) {
    console.error(`i18n: no message for ${key}`);
    return key;
  }
  if (typeof message === 'object') {
    const category = new Intl.PluralRules(intlLocale()).select(Number(params.count));
    message = message[category] ?? message.other;
  }
  return fill(key, message, params);
}

/**
 * Sets a node's text to a message and remembers which, so a change of language re-words it.
 * A plain string (words that are data, e.g. the clinic's own cancel notice) is set as it is.
 */
export function setText(node, key, params) {
  if (key && typeof key === 'object') ({ key, params } = key);
  if (key === null || key === undefined) {
    delete node.dataset.i18n;
    delete node.dataset.i18nParams;
    node.textContent = '';
    return;
  }
  if (params === undefined && !isKnownKey(key)) {
    delete node.dataset.i18n;
    delete node.dataset.i18nParams;
    node.textContent = String(key);
    return;
  }
  node.dataset.i18n = key;
  if (params && Object.keys(params).length) node.dataset.i18nParams = JSON.stringify(params);
  else delete node.dataset.i18nParams;
  node.textContent = t(key, params);
}

function isKnownKey(key) {
  return Object.hasOwn(en, key);
}

function readParams(node) {
  try {
    return JSON.parse(node.dataset.i18nParams || '{}');
  } catch {
    return {};
  }
}

/** Re-words every node under `root` that names its message (index.html's and setText()'s). */
export function translate(root = document) {
  for (const node of root.querySelectorAll('[data-i18n]')) node.textContent = t(node.dataset.i18n, readParams(node));
  for (const node of root.querySelectorAll('[data-i18n-attrs]')) {
    for (const pair of node.dataset.i18nAttrs.split(';')) {
      const [attr, key] = pair.split(':').map((s) => s.trim());
      if (attr && key) node.setAttribute(attr, t(key));
    }
  }
}

/** Runs `listener(code)` after every change of language (modules re-draw what they built). */
export function onLanguageChange(listener) {
  listeners.push(listener);
}

/** Puts the page in `code`: <html lang>, every worded node, the modules' own drawings. */
export function setLanguage(code) {
  if (!isLanguage(code)) return;
  current = code;
  try {
    sessionStorage.setItem(STORAGE_KEY, code);
  } catch {
    // Not kept across a reload; the page still switches.
  }
  document.documentElement.lang = code;
  translate(document);
  // The <template>'s content is a separate document fragment: word it too, for its next use.
  for (const template of document.querySelectorAll('template')) translate(template.content);
  for (const listener of listeners) listener(code);
}

