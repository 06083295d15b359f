"""Who may call a service started with its own credentials.

API requests must be signed with them (SigV4, checked in sigv4.py): the signature's headers are
checked before the body is read, and the body once it is. Job pages and their artifacts need the
same credentials as HTTP Basic, since a browser cannot sign. Without credentials both let
everything through (the service then only listens on loopback).
"""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.responses import Response
from fastapi.security import HTTPBasic, HTTPBasicCredentials

from airflow_automl.local.api.protocol import error_response
from airflow_automl.local.api.request_body import connection_headers, discard_body
from airflow_automl.local.api.sigv4 import AuthenticationError, SignatureVerifier
from airflow_automl.local.config import ServiceConfig

REALM = "airflow-automl"


def requires_credentials(config: ServiceConfig) -> bool:
    return bool(config.access_key_id and config.secret_access_key)


class SignatureCheck:
    """The SigV4 checks of one request, answered as AWS does; ``verifier`` None checks nothing."""

    def __init__(self, verifier: SignatureVerifier | None):
        self.verifier = verifier

    @classmethod
    def for_config(cls, config: ServiceConfig) -> SignatureCheck:
        if config.access_key_id and config.secret_access_key:
            return cls(SignatureVerifier(config.access_key_id, config.secret_access_key, config.region))
        return cls(None)

    async def refuse_headers(self, request: Request) -> Response | None:
        """The answer refusing a request whose signature's headers cannot be right, or None. Checked
        before the body is read; a refused body is discarded."""
        if self.verifier is None:
            return None
        try:
            self.verifier.check_headers(request.headers)
        except AuthenticationError as error:
            drained = await discard_body(request)
            return error_response(error.status_code, error.code, error.message, connection_headers(drained))
        return None

    def refuse_body(self, request: Request, body: bytes) -> Response | None:
        """The answer refusing a request whose signature does not cover this body, or None."""
        if self.verifier is None:
            return None
        try:
            self.verifier.verify(request.method, request.url.path, request.url.query, request.headers, body)
        except AuthenticationError as error:
            return error_response(error.status_code, error.code, error.message)
        return None


_basic = HTTPBasic(realm=REALM, auto_error=False)


def require_page_credentials(
    request: Request, credentials: Annotated[HTTPBasicCredentials | None, Depends(_basic)]
) -> None:
    """With credentials, job pages and their artifacts (reports, models) need them too: a browser
    cannot sign SigV4, so it sends them as HTTP Basic (user: access key id, password: secret)."""
    config: ServiceConfig = request.app.state.config
    user, password = config.access_key_id, config.secret_access_key
    if (
        credentials is not None
        and user
        and password
        # Both compared, whatever the first answers: the time taken tells nothing.
        and secrets.compare_digest(credentials.username.encode(), user.encode())
        & secrets.compare_digest(credentials.password.encode(), password.encode())
    ):
        return
    raise HTTPException(
        status_code=401,
        detail="job pages need the service's credentials: user = access key id, password = secret access key",
        headers={"WWW-Authenticate": f'Basic realm="{REALM}"'},
    )
