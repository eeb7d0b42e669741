"""Errors of the emulator.

Most of these are not failures of the emulator itself: they are the refusals real Bedrock would
send, raised inside the pure handler and turned into AWS-shaped error responses (status code,
``x-amzn-ErrorType`` header, JSON body) in one place, ``emulator/service.py``. Each class pins the
status, the error type and the body key Bedrock uses, so a test can compare the wire bytes.

    EmulatorError
    ├── ServiceError
    │   ├── AuthenticationError
    │   │   ├── MissingAuthenticationToken
    │   │   ├── IncompleteSignature
    │   │   ├── UnrecognizedClient
    │   │   ├── InvalidSignature
    │   │   └── ExpiredToken
    │   ├── AccessDenied
    │   ├── ValidationError
    │   ├── ResourceNotFound
    │   ├── UnknownOperation
    │   ├── RoleNotAssumable
    │   ├── StsValidationError
    │   ├── InvalidAction
    │   └── InjectedFault
    │       ├── Throttling
    │       ├── ModelNotReady
    │       ├── ModelError
    │       └── ServiceUnavailable
    ├── ConfigurationError
    └── StartupError
"""

from __future__ import annotations

from typing import ClassVar

from envelope import BatonError

#: Bedrock's wording for a body that does not match the operation's schema; ``detail`` is a
#: JSON-pointer-like path and what was wrong there.
MALFORMED = "Malformed input request: {detail}, please reformat your input and try again."


class EmulatorError(BatonError):
    """Raised for any failure the emulator explains itself; the root of this package's errors."""

    code = "emulator_error"


class ServiceError(EmulatorError):
    """Raised when a call must be answered with an AWS error response instead of a result."""

    code = "service_error"
    #: HTTP status Bedrock answers with.
    status: ClassVar[int] = 400
    #: The AWS error type, sent in ``x-amzn-ErrorType`` and surfaced by botocore as the code.
    error_type: ClassVar[str] = "ValidationException"
    #: Bedrock spells the body key ``message`` except for AccessDenied, where it is ``Message``.
    body_key: ClassVar[str] = "message"

    def __init__(self, message: str, *, headers: tuple[tuple[str, str], ...] = ()) -> None:
        super().__init__(message)
        self.message = message
        #: Response headers besides ``x-amzn-ErrorType``: what only the emulator adds.
        self.headers = headers


class AuthenticationError(ServiceError):
    """Raised when the caller cannot be identified from the request's signature."""

    code = "authentication_error"
    status = 403


class MissingAuthenticationToken(AuthenticationError):
    """Raised when a request carries no Authorization header at all."""

    code = "missing_authentication_token"
    error_type = "MissingAuthenticationTokenException"


class IncompleteSignature(AuthenticationError):
    """Raised when the Authorization header is not a well-formed SigV4 header."""

    code = "incomplete_signature"
    error_type = "IncompleteSignatureException"


class UnrecognizedClient(AuthenticationError):
    """Raised when the access key (or a bearer token) is not one the emulator knows."""

    code = "unrecognized_client"
    error_type = "UnrecognizedClientException"


class InvalidSignature(AuthenticationError):
    """Raised when the signature does not match, or its date or scope is out of bounds."""

    code = "invalid_signature"
    error_type = "InvalidSignatureException"


class ExpiredToken(AuthenticationError):
    """Raised when temporary credentials are used after their expiration."""

    code = "expired_token"
    error_type = "ExpiredTokenException"


class AccessDenied(ServiceError):
    """Raised when the identity's region-scoped policy does not allow the resource."""

    code = "access_denied"
    status = 403
    error_type = "AccessDeniedException"
    body_key = "Message"


class ValidationError(ServiceError):
    """Raised when the model ID, or the request body, is not one Bedrock would accept."""

    code = "validation_error"


class UnknownOperation(ServiceError):
    """Raised when the method and path name no operation the emulator serves."""

    code = "unknown_operation"
    status = 404
    error_type = "UnknownOperationException"


class ResourceNotFound(ServiceError):
    """Raised when a control-plane call names an inference profile that does not exist."""

    code = "resource_not_found"
    status = 404
    error_type = "ResourceNotFoundException"


class RoleNotAssumable(ServiceError):
    """Raised when STS refuses AssumeRole: a role of another account, or one denied by trust."""

    code = "role_not_assumable"
    status = 403
    error_type = "AccessDenied"


class StsValidationError(ServiceError):
    """Raised when an STS request lacks a parameter or has one out of range."""

    code = "sts_validation_error"
    error_type = "ValidationError"


class InvalidAction(ServiceError):
    """Raised when an STS request names an action the emulator does not serve."""

    code = "invalid_action"
    error_type = "InvalidAction"


class InjectedFault(ServiceError):
    """Raised when a fault the emulator was told to inject (a rate) picks this call.

    Each subclass carries Bedrock's status, error type and wording, so a client's retry logic
    sees exactly what it would see from a struggling Bedrock.
    """

    code = "injected_fault"
    #: The message Bedrock sends with this error.
    default_message: ClassVar[str] = ""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.default_message)


class Throttling(InjectedFault):
    """Raised when an injected throttle picks the call: 429, which SDKs retry with backoff."""

    code = "throttling"
    status = 429
    error_type = "ThrottlingException"
    default_message = "Too many requests, please wait before trying again."


class ModelNotReady(InjectedFault):
    """Raised when the injected "model not ready" fault picks the call: 429, retried by SDKs."""

    code = "model_not_ready"
    status = 429
    error_type = "ModelNotReadyException"
    default_message = (
        "Model is not ready for serving inference requests. The AWS SDK will automatically "
        "retry the operation up to 5 times."
    )


class ModelError(InjectedFault):
    """Raised when an injected model error picks the call: 424, which SDKs do not retry."""

    code = "model_error"
    status = 424
    error_type = "ModelErrorException"
    default_message = "The model returned an error while processing the request. Try again."


class ServiceUnavailable(InjectedFault):
    """Raised when an injected outage picks the call: 503, retried by SDKs."""

    code = "service_unavailable"
    status = 503
    error_type = "ServiceUnavailableException"
    default_message = "Bedrock is unable to process your request."


class ConfigurationError(EmulatorError):
    """Raised when an option (policy file, application profile, fault rate) cannot be used."""

    code = "emulator_configuration_error"


class StartupError(EmulatorError):
    """Raised when the HTTP server cannot start, for instance because the port is taken."""

    code = "emulator_startup_error"
