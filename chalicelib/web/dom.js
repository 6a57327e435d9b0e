// Small DOM helpers used by every part of the page.
//
// el() is how API data gets into new elements: as textContent and through setAttribute,
// never innerHTML, so nothing the API sends can become markup.

import { setText } from './i18n.js';

export const $ = (selector) => document.querySelector(selector);

/** Creates an element with optional class and text (text is always set as textContent). */
export function el(tag, { className, text, attrs } = {}) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, value);
  return node;
}

/**
 * Shows a message ({ key, params } from the catalogs; a plain string only for words that are
 * data, such as a clinic's own notice) in a live region. kind: 'error' | 'notice'. The region sits above the
 * visits, so it is scrolled into view: after acting on a visit far down the list (or on a
 * phone), the cancel notice or "call the clinic" would otherwise appear off screen.
 */
export function showMessage(region, message, kind = 'error') {
  setText(region, message);
  region.dataset.kind = kind;
  region.scrollIntoView({ block: 'nearest' });
}

export function clearMessage(region) {
  setText(region, null);
  delete region.dataset.kind;
}
