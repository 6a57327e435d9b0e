"""Portal logins in the two Cognito user pools: log in (with the staff's second factor), refresh,
log out, first password, invitations.

Patients log in to the patients' pool; staff to the staff pool, which requires TOTP. A login
tries the patients' pool first and then the staff pool, and both refuse with the same message.
The challenge sessions and refresh tokens handed out carry which pool they belong to
(`p.` / `s.` before Cognito's own value), so the next step goes to the right pool's client.

Cognito's errors become domain errors here; wrong password and unknown user read the same,
so the login route cannot be used to find out who has an account.
"""

import secrets
from dataclasses import dataclass
from urllib.parse import quote

from botocore.exceptions import ClientError

from chalicelib import auth, aws, memberships
from chalicelib.auth import STAFF_GROUP, Membership, Role, UserPool
from chalicelib.errors import BadInput, Conflict, NotAuthenticated
from chalicelib.logs import logger

BAD_LOGIN = "Email or password is incorrect."
BAD_CODE = "The code is not correct. Check the time on your phone and try the newest code."
SESSION_GONE = "This sign-in session is no longer valid. Please log in again."
SESSION_EXPIRED = "The session has expired. Please log in again."
NO_ACCESS = "This login no longer has access to the portal. Please contact the clinic."
NO_SECOND_FACTOR = "This staff login has no second factor set up. Ask your administrator to reset it."
# The name authenticator apps show next to the code.
TOTP_ISSUER = "Client portal"
# The user pools' password rules: the stack's template and the emulator use these, and a new
# password that breaks them is refused with PASSWORD_RULES.
PASSWORD_POLICY = {
    "MinimumLength": 12,
    "RequireUppercase": True,
    "RequireLowercase": True,
    "RequireNumbers": True,
    "RequireSymbols": True,
    "TemporaryPasswordValidityDays": 7,
}
PASSWORD_RULES = (
    f"at least {PASSWORD_POLICY['MinimumLength']} characters with upper and lower case letters, a digit and a symbol"
)
NOT_A_LOGIN_EMAIL = "This email address cannot be used for a portal login."
_LOGIN_REFUSED = {
    "NotAuthorizedException",
    "UserNotFoundException",
    "UserNotConfirmedException",
    "PasswordResetRequiredException",
}
# A challenge session that is unknown, expired or someone else's. Cognito says
# NotAuthorizedException; the emulator says ResourceNotFoundException (the pool and the
# client do exist: the login that started the challenge used them).
_SESSION_REFUSED = {
    "CodeMismatchException",
    "ExpiredCodeException",
    "InvalidParameterException",
    "ResourceNotFoundException",
    "EnableSoftwareTokenMFAException",
}
_WRONG_CODE = {"CodeMismatchException", "EnableSoftwareTokenMFAException"}
# What goes before a session or refresh token we hand out: which pool it belongs to.
_PREFIX = {Role.PATIENT: "p", Role.STAFF: "s"}


def _error_code(error: ClientError) -> str:
    return error.response.get("Error", {}).get("Code", "")


def _wrap(pool: UserPool, value: str) -> str:
    return f"{_PREFIX[pool.role]}.{value}"


def _unwrap(value: str) -> tuple[UserPool, str]:
    """The pool a session or refresh token of ours belongs to, and Cognito's own value. A value
    without our prefix is taken as the patients' pool's (refresh tokens from before the split)."""
    prefix, dot, rest = value.partition(".")
    for role, known in _PREFIX.items():
        if dot and prefix == known:
            return auth.user_pool(role), rest
    return auth.user_pool(Role.PATIENT), value


def _tokens(pool: UserPool, result: dict) -> dict:
    tokens = {
        "id_token": result["IdToken"],
        "access_token": result["AccessToken"],
        # The API honours a token at most MAX_TOKEN_AGE_SECONDS, so the page refreshes before that.
        "expires_in": min(int(result.get("ExpiresIn") or auth.MAX_TOKEN_AGE_SECONDS), auth.MAX_TOKEN_AGE_SECONDS),
        "token_type": "Bearer",
    }
    if result.get("RefreshToken"):
        tokens["refresh_token"] = _wrap(pool, result["RefreshToken"])
    return tokens


def _answer(pool: UserPool, response: dict, username: str, second_factor_done: bool = False) -> dict:
    """Cognito's answer to a login step, as the contract's tokens or next challenge."""
    challenge = response.get("ChallengeName")
    if "AuthenticationResult" in response:
        result = response["AuthenticationResult"]
        if pool.role is Role.STAFF and not second_factor_done:
            # The staff pool requires TOTP, so Cognito never answers a staff password with tokens;
            # if it ever did, they are not handed out.
            _revoke(pool, result.get("RefreshToken"))
            raise NotAuthenticated(NO_SECOND_FACTOR)
        return _tokens(pool, result)
    if challenge == "NEW_PASSWORD_REQUIRED":
        return {"challenge": challenge, "session": _wrap(pool, response["Session"])}
    if challenge == "MFA_SETUP" and pool.role is Role.STAFF:
        setup = aws.cognito().associate_software_token(Session=response["Session"])
        secret = setup["SecretCode"]
        label = f"{quote(TOTP_ISSUER)}:{quote(username)}"
        return {
            "challenge": challenge,
            "session": _wrap(pool, setup.get("Session") or response["Session"]),
            "secret_code": secret,
            "otpauth_uri": f"otpauth://totp/{label}?secret={secret}&issuer={quote(TOTP_ISSUER)}",
        }
    if challenge == "SOFTWARE_TOKEN_MFA" and pool.role is Role.STAFF:
        return {"challenge": challenge, "session": _wrap(pool, response["Session"])}
    # No other challenge is enabled on the portal's user pools.
    raise NotAuthenticated(BAD_LOGIN)


def log_in(username: str, password: str) -> dict:
    """The patients' pool first, then the staff pool; refused by both → the same 401."""
    for pool in auth.user_pools():
        try:
            response = aws.cognito().initiate_auth(
                ClientId=pool.client_id,
                AuthFlow="USER_PASSWORD_AUTH",
                AuthParameters={"USERNAME": username, "PASSWORD": password},
            )
        except ClientError as error:
            if _error_code(error) in _LOGIN_REFUSED:
                continue
            raise
        return _answer(pool, response, username)
    raise NotAuthenticated(BAD_LOGIN)


def _respond(pool: UserPool, session: str, challenge: str, responses: dict, wrong_code_message: str) -> dict:
    try:
        return aws.cognito().respond_to_auth_challenge(
            ClientId=pool.client_id, ChallengeName=challenge, Session=session, ChallengeResponses=responses
        )
    except ClientError as error:
        code = _error_code(error)
        if code == "InvalidPasswordException":
            raise BadInput(f"The new password does not meet the password rules: {PASSWORD_RULES}.") from None
        if code in _WRONG_CODE:
            raise NotAuthenticated(wrong_code_message) from None
        if code in _LOGIN_REFUSED | _SESSION_REFUSED:
            raise NotAuthenticated(SESSION_GONE) from None
        raise


def set_first_password(username: str, session: str, new_password: str) -> dict:
    pool, session = _unwrap(session)
    responses = {"USERNAME": username, "NEW_PASSWORD": new_password}
    return _answer(pool, _respond(pool, session, "NEW_PASSWORD_REQUIRED", responses, SESSION_GONE), username)


def complete_mfa_setup(username: str, session: str, code: str) -> dict:
    """The staff member's authenticator app is set up: its first code is checked, then the login completes."""
    pool, session = _unwrap(session)
    if pool.role is not Role.STAFF:
        raise NotAuthenticated(SESSION_GONE)
    try:
        verified = aws.cognito().verify_software_token(Session=session, UserCode=code, FriendlyDeviceName="portal")
    except ClientError as error:
        if _error_code(error) in _WRONG_CODE:
            raise NotAuthenticated(BAD_CODE) from None
        if _error_code(error) in _LOGIN_REFUSED | _SESSION_REFUSED:
            raise NotAuthenticated(SESSION_GONE) from None
        raise
    if verified.get("Status") != "SUCCESS":
        raise NotAuthenticated(BAD_CODE)
    response = _respond(pool, verified.get("Session") or session, "MFA_SETUP", {"USERNAME": username}, BAD_CODE)
    return _answer(pool, response, username, second_factor_done=True)


def answer_mfa(username: str, session: str, code: str) -> dict:
    pool, session = _unwrap(session)
    if pool.role is not Role.STAFF:
        raise NotAuthenticated(SESSION_GONE)
    responses = {"USERNAME": username, "SOFTWARE_TOKEN_MFA_CODE": code}
    response = _respond(pool, session, "SOFTWARE_TOKEN_MFA", responses, BAD_CODE)
    return _answer(pool, response, username, second_factor_done=True)


def refresh(refresh_token: str) -> dict:
    """New ID and access tokens, only while the login still has its role: a user removed from
    `clinic-staff` (or a patient whose membership is gone) is refused, and the refresh token revoked.
    Cognito itself refuses disabled, deleted and signed-out users."""
    pool, token = _unwrap(refresh_token)
    try:
        response = aws.cognito().initiate_auth(
            ClientId=pool.client_id, AuthFlow="REFRESH_TOKEN_AUTH", AuthParameters={"REFRESH_TOKEN": token}
        )
    except ClientError as error:
        if _error_code(error) in _LOGIN_REFUSED | {"InvalidParameterException", "ResourceNotFoundException"}:
            raise NotAuthenticated(SESSION_EXPIRED) from None
        raise
    result = response["AuthenticationResult"]
    try:
        identity = memberships.resolve(auth.verify_id_token(result["IdToken"], pool))
    except auth.InvalidToken:
        identity = None
    if identity is None or identity.role is not pool.role:
        _revoke(pool, token)
        logger.info("Refresh refused: the login lost its role", extra={"user_id": getattr(identity, "subject", None)})
        raise NotAuthenticated(NO_ACCESS)
    tokens = _tokens(pool, result)
    tokens.pop("refresh_token", None)
    return tokens


def log_out(refresh_token: str) -> None:
    """Revokes the refresh token (and the access tokens issued from it). A token that is not
    ours, or no longer valid, has nothing left to revoke: that is not an error."""
    pool, token = _unwrap(refresh_token)
    _revoke(pool, token)


def _revoke(pool: UserPool, token: str | None) -> None:
    if not token:
        return
    try:
        aws.cognito().revoke_token(Token=token, ClientId=pool.client_id)
    except ClientError as error:
        if _error_code(error) in {"ThrottlingException", "InternalErrorException", "TooManyRequestsException"}:
            raise
        logger.info("Nothing to revoke", extra={"reason": _error_code(error)})


# --- Logins ----------------------------------------------------------------------------


@dataclass(frozen=True)
class PatientLogin:
    """A person's login in the patients' pool: its `sub` (the memberships' key), whether it was
    made just now, and the one membership a login from before memberships were data carries in its
    attributes (None for any other)."""

    user_id: str
    new: bool
    legacy: Membership | None = None


class LoginExists(Exception):
    """The email has a login already (made meanwhile by someone else)."""


def _login(user: dict, new: bool) -> PatientLogin:
    attributes = {a["Name"]: a["Value"] for a in user.get("Attributes") or user.get("UserAttributes") or []}
    clinic_id, patient_id = attributes.get("custom:clinic_id"), attributes.get("custom:patient_id")
    legacy = Membership(clinic_id, patient_id) if clinic_id and patient_id else None
    return PatientLogin(attributes["sub"], new, legacy)


def patient_login(email: str) -> PatientLogin | None:
    """The email's login in the patients' pool, or None."""
    try:
        user = aws.cognito().admin_get_user(UserPoolId=auth.user_pool(Role.PATIENT).pool_id, Username=email)
    except ClientError as error:
        if _error_code(error) == "UserNotFoundException":
            return None
        if _error_code(error) == "InvalidParameterException":
            raise BadInput(NOT_A_LOGIN_EMAIL) from None
        raise
    return _login(user, new=False)


def invite_patient(email: str) -> PatientLogin:
    """Creates a person's login; Cognito emails the invitation with a temporary password. Which
    clinics they are a patient of is data (`memberships`), not the login's."""
    try:
        created = aws.cognito().admin_create_user(
            UserPoolId=auth.user_pool(Role.PATIENT).pool_id,
            Username=email,
            UserAttributes=[{"Name": "email", "Value": email}, {"Name": "email_verified", "Value": "true"}],
            DesiredDeliveryMediums=["EMAIL"],
        )
    except ClientError as error:
        if _error_code(error) == "UsernameExistsException":
            raise LoginExists() from None
        if _error_code(error) == "InvalidParameterException":
            # Cognito's own rules for a username that is an email are stricter than RFC 5322.
            raise BadInput(NOT_A_LOGIN_EMAIL) from None
        raise
    return _login(created["User"], new=True)


def remove_login(email: str) -> None:
    """Undoes `invite_patient` when the patient record could not be stored."""
    aws.cognito().admin_delete_user(UserPoolId=auth.user_pool(Role.PATIENT).pool_id, Username=email)


def create_staff_login(email: str, clinic_id: str, temporary_password: str | None = None) -> None:
    """A staff login for the clinic, in the staff pool. Cognito emails the invitation with a
    temporary password, unless one is given (demo data and tests, which then log in themselves).
    The first login sets a password, then the authenticator app (MFA_SETUP)."""
    pool = auth.user_pool(Role.STAFF).pool_id
    cognito = aws.cognito()
    extra = (
        {"MessageAction": "SUPPRESS", "TemporaryPassword": temporary_password}
        if temporary_password
        else {"DesiredDeliveryMediums": ["EMAIL"]}
    )
    cognito.admin_create_user(
        UserPoolId=pool,
        Username=email,
        UserAttributes=[
            {"Name": "email", "Value": email},
            {"Name": "email_verified", "Value": "true"},
            {"Name": "custom:clinic_id", "Value": clinic_id},
        ],
        **extra,
    )
    cognito.admin_add_user_to_group(UserPoolId=pool, Username=email, GroupName=STAFF_GROUP)


def invite_staff(email: str, clinic_id: str) -> bool:
    """Invites a staff login for the clinic (Cognito emails a temporary password). False when
    that login exists already for this clinic; it is then made sure to be in the staff group.
    Conflict when the email is a staff login of another clinic. Patients' logins live in the
    other pool, so no patient login ever becomes staff."""
    try:
        create_staff_login(email, clinic_id)
        return True
    except ClientError as error:
        if _error_code(error) != "UsernameExistsException":
            raise
    pool = auth.user_pool(Role.STAFF).pool_id
    user = aws.cognito().admin_get_user(UserPoolId=pool, Username=email)
    attributes = {a["Name"]: a["Value"] for a in user.get("UserAttributes", [])}
    if attributes.get("custom:clinic_id") != clinic_id:
        raise Conflict(f"{email} already has a staff login for another clinic.")
    aws.cognito().admin_add_user_to_group(UserPoolId=pool, Username=email, GroupName=STAFF_GROUP)
    return False


def reset_staff_mfa(email: str) -> str:
    """For a staff member who lost their authenticator: their sessions end, their second factor is
    removed and their password replaced by a temporary one, returned for the operator to give them
    by phone once they have confirmed who is calling. At the next login they choose a password and
    set up the authenticator again (MFA_SETUP): a second factor is never reset on a password alone."""
    pool = auth.user_pool(Role.STAFF).pool_id
    cognito = aws.cognito()
    try:
        cognito.admin_get_user(UserPoolId=pool, Username=email)
    except ClientError as error:
        if _error_code(error) == "UserNotFoundException":
            raise Conflict(f"{email} is not a staff login.") from None
        raise
    cognito.admin_user_global_sign_out(UserPoolId=pool, Username=email)
    cognito.admin_set_user_mfa_preference(
        UserPoolId=pool, Username=email, SoftwareTokenMfaSettings={"Enabled": False, "PreferredMfa": False}
    )
    temporary = temporary_password()
    cognito.admin_set_user_password(UserPoolId=pool, Username=email, Password=temporary, Permanent=False)
    return temporary


def temporary_password() -> str:
    """Random, and within the pools' password rules (upper and lower case, digits, symbols)."""
    return f"Tmp-{secrets.token_urlsafe(12)}-{secrets.randbelow(90) + 10}a!"


def set_permanent_password(email: str, password: str) -> None:
    """Demo data only: lets a seeded patient log in without the invitation step."""
    aws.cognito().admin_set_user_password(
        UserPoolId=auth.user_pool(Role.PATIENT).pool_id, Username=email, Password=password, Permanent=True
    )
