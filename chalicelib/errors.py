"""The domain's own errors. `app.py` maps each to an HTTP status in one place."""


class DomainError(Exception):
    """Base class: the message is safe to show to the user."""


class BadInput(DomainError):
    """Malformed or out-of-range input (400)."""


class NotAuthenticated(DomainError):
    """Bad login, refresh token or session (401)."""


class Forbidden(DomainError):
    """Not allowed for this role or by a clinic setting (403)."""


class NotFound(DomainError):
    """Unknown resource, or one that belongs to another patient or clinic (404)."""


class Conflict(DomainError):
    """The resource's state does not allow the change (409)."""


class TooManyChanges(DomainError):
    """A limit on how often something may change was reached (429)."""


class NotOpen(Conflict):
    """The visit has started, is past the clinic's cutoff, completed or cancelled."""

    def __init__(self, message: str = "This visit can no longer be changed online. Please call the clinic."):
        super().__init__(message)
