"""openEO-coded errors of the HTTP API (authentication, jobs, user-defined processes, requests).

They extend :class:`s1stac.openeo.errors.OpenEOError`, so the API turns every error, from the
engine or from the API itself, into the same openEO error JSON
(``{"id", "code", "message", "links"}``) with the HTTP status of ``errors.json``.
``PayloadTooLarge`` (413) and ``MethodNotAllowed`` (405) are s1stac codes: ``errors.json``
has no code for them.

References
----------
openEO API 1.2.0, errors, https://api.openeo.org/1.2.0/errors.json
"""

from __future__ import annotations

from s1stac.openeo.errors import Internal, OpenEOError

__all__ = [
    "AuthenticationRequired",
    "AuthenticationSchemeInvalid",
    "BadRequest",
    "CredentialsInvalid",
    "FeatureUnsupported",
    "FileNotFound",
    "InfrastructureBusy",
    "Internal",
    "JobLocked",
    "JobNotFinished",
    "JobNotFound",
    "MethodNotAllowed",
    "NoDataForUpdate",
    "NotFound",
    "OpenEOError",
    "PayloadTooLarge",
    "PredefinedProcessExists",
    "ProcessGraphNotFound",
    "PropertyNotEditable",
    "TokenInvalid",
]


class NotFound(OpenEOError):
    """No resource at this path."""

    code = "NotFound"
    status_code = 404


class MethodNotAllowed(OpenEOError):
    """The path exists but not for this HTTP method."""

    code = "MethodNotAllowed"
    status_code = 405


class BadRequest(OpenEOError):
    """The request body or a query parameter is malformed."""

    code = "BadRequest"
    status_code = 400


class PayloadTooLarge(OpenEOError):
    """The request body exceeds the server's size limit."""

    code = "PayloadTooLarge"
    status_code = 413


class AuthenticationRequired(OpenEOError):
    """No ``Authorization`` header on an endpoint that needs one."""

    code = "AuthenticationRequired"
    status_code = 401


class AuthenticationSchemeInvalid(OpenEOError):
    """The ``Authorization`` header uses a scheme the endpoint does not accept."""

    code = "AuthenticationSchemeInvalid"
    status_code = 403


class CredentialsInvalid(OpenEOError):
    """Unknown user name or wrong password."""

    code = "CredentialsInvalid"
    status_code = 403


class TokenInvalid(OpenEOError):
    """The bearer token is unknown or has expired."""

    code = "TokenInvalid"
    status_code = 403


class JobNotFound(OpenEOError):
    """No job of this id belongs to the user."""

    code = "JobNotFound"
    status_code = 404


class JobNotFinished(OpenEOError):
    """Results were requested before the job finished."""

    code = "JobNotFinished"
    status_code = 400


class JobLocked(OpenEOError):
    """The job cannot be modified while it is queued or running."""

    code = "JobLocked"
    status_code = 400


class NoDataForUpdate(OpenEOError):
    """A PATCH request without any property to update."""

    code = "NoDataForUpdate"
    status_code = 400


class PropertyNotEditable(OpenEOError):
    """A PATCH request names a read-only property."""

    code = "PropertyNotEditable"
    status_code = 400


class ProcessGraphNotFound(OpenEOError):
    """No user-defined process of this id belongs to the user."""

    code = "ProcessGraphNotFound"
    status_code = 404


class PredefinedProcessExists(OpenEOError):
    """A user-defined process may not take the id of a predefined process."""

    code = "PredefinedProcessExists"
    status_code = 400


class FileNotFound(OpenEOError):
    """An asset of a job result or of the catalog is not available."""

    code = "FileNotFound"
    status_code = 404


class FeatureUnsupported(OpenEOError):
    """The request uses a feature the server does not implement."""

    code = "FeatureUnsupported"
    status_code = 501


class InfrastructureBusy(OpenEOError):
    """No capacity for the request now."""

    code = "InfrastructureBusy"
    status_code = 503
