// What the page knows about the logged-in patient, in one object shared by the modules
// that load it, show it and forget it on log out.

export const state = {
  me: null, // /portal/me
  visits: [], // the Visits currently listed
  range: null, // { from, to } as the API last answered
  timezone: null,
  // Bumped on log out, so answers to requests sent before it are ignored.
  generation: 0,
};
