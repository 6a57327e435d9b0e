"""Portal logins in the Cognito user pool: log in, refresh, first password, invitations.

Cognito's errors become domain errors here; wrong password and unknown user read the same,
so the login route cannot be used to find out who has an account.
"""

from botocore.exceptions import ClientError

from chalicelib import aws, config
from chalicelib.auth import STAFF_GROUP
from chalicelib.errors import BadInput, Conflict, NotAuthenticated

BAD_LOGIN = "Email or password is incorrect."
# The user pool's password rules: the stack's template and the emulator use these, and a new
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
}


def _error_code(error: ClientError) -> str:
    return error.response.get("Error", {}).get("Code", "")


def _tokens(result: dict, refresh_token: str | None = None) -> dict:
    tokens = {
        "id_token": result["IdToken"],
        "access_token": result["AccessToken"],
        "expires_in": result.get("ExpiresIn", 3600),
        "token_type": "Bearer",
    }
    refresh = result.get("RefreshToken") or refresh_token
    if refresh:
        tokens["refresh_token"] = refresh
    return tokens


def _answer(response: dict) -> dict:
    if "AuthenticationResult" in response:
        return _tokens(response["AuthenticationResult"])
    if response.get("ChallengeName") == "NEW_PASSWORD_REQUIRED":
        return {"challenge": "NEW_PASSWORD_REQUIRED", "session": response["Session"]}
    # MFA and other challenges are not enabled on the portal's user pool.
    raise NotAuthenticated(BAD_LOGIN)


def log_in(username: str, password: str) -> dict:
    try:
        response = aws.cognito().initiate_auth(
            ClientId=config.current().app_client_id,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": username, "PASSWORD": password},
        )
    except ClientError as error:
        if _error_code(error) in _LOGIN_REFUSED:
            raise NotAuthenticated(BAD_LOGIN) from None
        raise
    return _answer(response)


def set_first_password(username: str, session: str, new_password: str) -> dict:
    try:
        response = aws.cognito().respond_to_auth_challenge(
            ClientId=config.current().app_client_id,
            ChallengeName="NEW_PASSWORD_REQUIRED",
            Session=session,
            ChallengeResponses={"USERNAME": username, "NEW_PASSWORD": new_password},
        )
    except ClientError as error:
        code = _error_code(error)
        if code == "InvalidPasswordException":
            raise BadInput(f"The new password does not meet the password rules: {PASSWORD_RULES}.") from None
        if code in _LOGIN_REFUSED | _SESSION_REFUSED:
            raise NotAuthenticated("This sign-in session is no longer valid. Please log in again.") from None
        raise
    return _answer(response)


def refresh(refresh_token: str) -> dict:
    try:
        response = aws.cognito().initiate_auth(
            ClientId=config.current().app_client_id,
            AuthFlow="REFRESH_TOKEN_AUTH",
            AuthParameters={"REFRESH_TOKEN": refresh_token},
        )
    except ClientError as error:
        if _error_code(error) in _LOGIN_REFUSED | {"InvalidParameterException"}:
            raise NotAuthenticated("The session has expired. Please log in again.") from None
        raise
    tokens = _tokens(response["AuthenticationResult"])
    tokens.pop("refresh_token", None)
    return tokens


def invite_patient(email: str, clinic_id: str, patient_id: str) -> None:
    """Creates the patient's login; Cognito emails the invitation with a temporary password."""
    try:
        aws.cognito().admin_create_user(
            UserPoolId=config.current().user_pool_id,
            Username=email,
            UserAttributes=[
                {"Name": "email", "Value": email},
                {"Name": "email_verified", "Value": "true"},
                {"Name": "custom:clinic_id", "Value": clinic_id},
                {"Name": "custom:patient_id", "Value": patient_id},
            ],
            DesiredDeliveryMediums=["EMAIL"],
        )
    except ClientError as error:
        if _error_code(error) == "UsernameExistsException":
            raise Conflict("A portal login with this email already exists.") from None
        if _error_code(error) == "InvalidParameterException":
            # Cognito's own rules for a username that is an email are stricter than RFC 5322.
            raise BadInput(NOT_A_LOGIN_EMAIL) from None
        raise


def remove_login(email: str) -> None:
    """Undoes `invite_patient` when the patient record could not be stored."""
    aws.cognito().admin_delete_user(UserPoolId=config.current().user_pool_id, Username=email)


def create_staff_login(email: str, clinic_id: str, password: str | None = None) -> None:
    """A staff login for the clinic (bootstrap and demo). Without a password Cognito invites by email."""
    pool = config.current().user_pool_id
    cognito = aws.cognito()
    extra = {"MessageAction": "SUPPRESS"} if password else {"DesiredDeliveryMediums": ["EMAIL"]}
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
    if password:
        cognito.admin_set_user_password(UserPoolId=pool, Username=email, Password=password, Permanent=True)
    cognito.admin_add_user_to_group(UserPoolId=pool, Username=email, GroupName=STAFF_GROUP)


def invite_staff(email: str, clinic_id: str) -> bool:
    """Invites a staff login for the clinic (Cognito emails a temporary password). False when
    that login exists already for this clinic; it is then made sure to be in the staff group.
    Conflict when the email is a login of another clinic or a patient's."""
    try:
        create_staff_login(email, clinic_id)
        return True
    except ClientError as error:
        if _error_code(error) != "UsernameExistsException":
            raise
    pool = config.current().user_pool_id
    user = aws.cognito().admin_get_user(UserPoolId=pool, Username=email)
    attributes = {a["Name"]: a["Value"] for a in user.get("UserAttributes", [])}
    if attributes.get("custom:clinic_id") != clinic_id or attributes.get("custom:patient_id"):
        raise Conflict(f"{email} already has a login for another clinic or as a patient.")
    aws.cognito().admin_add_user_to_group(UserPoolId=pool, Username=email, GroupName=STAFF_GROUP)
    return False


def set_permanent_password(email: str, password: str) -> None:
    """Demo data only: lets a seeded patient log in without the invitation step."""
    aws.cognito().admin_set_user_password(
        UserPoolId=config.current().user_pool_id, Username=email, Password=password, Permanent=True
    )
