"""AWS Signature Version 4 verification for a service started with its own credentials.

The signature is recomputed with botocore's own signer from the request as received (the
headers the client says it signed, the body, the date it signed at) and compared in constant
time. Errors carry the codes AWS answers with.

A signature only authorizes what it covers, so, as AWS requires, the signed headers must include
``host``, the content type and every ``x-amz-*`` header sent (``x-amz-target`` names the
operation), the payload hash is always the body's own (no ``UNSIGNED-PAYLOAD``), and the
credential scope must name this service's region and service.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from botocore.auth import SIGV4_TIMESTAMP, UNSIGNED_PAYLOAD, SigV4Auth
from botocore.awsrequest import AWSRequest, HTTPHeaders
from botocore.credentials import Credentials

SERVICE_NAME = "sagemaker"
# AWS refuses a signature made more than five minutes before or after it receives the request.
MAX_CLOCK_SKEW = timedelta(minutes=5)

_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
_AUTHORIZATION = re.compile(
    r"^AWS4-HMAC-SHA256\s+"
    r"Credential=(?P<key>[^/,\s]+)/(?P<date>\d{8})/(?P<region>[^/,\s]+)/(?P<service>[^/,\s]+)/aws4_request,\s*"
    r"SignedHeaders=(?P<signed>[a-z0-9;_.-]+),\s*"
    r"Signature=(?P<signature>[0-9a-f]{64})$"
)


@dataclass
class AuthenticationError(Exception):
    code: str
    message: str
    status_code: int = 403

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class _ReceivedRequestSigner(SigV4Auth):
    """botocore's signer, signing exactly the headers the client listed (botocore itself leaves
    some, like User-Agent, out, but other SDKs may sign them)."""

    def headers_to_sign(self, request: AWSRequest) -> HTTPHeaders:
        headers = HTTPHeaders()
        for name, value in request.headers.items():
            headers[name.lower()] = value
        return headers


@dataclass(frozen=True)
class SignedRequest:
    """What the Authorization header says was signed, once its form and scope are checked."""

    headers: list[str]
    amz_date: str
    region: str
    signature: str


def headers_that_must_be_signed(headers: Mapping[str, str]) -> list[str]:
    """host, x-amz-date and, when sent, content-type and every x-amz-* header (lower case)."""
    required = {"host", "x-amz-date"}
    for name in headers:
        name = name.lower()
        if name == "content-type" or name.startswith("x-amz-"):
            required.add(name)
    return sorted(required)


class SignatureVerifier:
    def __init__(self, access_key_id: str, secret_access_key: str, region: str):
        self._credentials = Credentials(access_key_id, secret_access_key)
        self.region = region

    def verify(
        self, method: str, path: str, query: str, headers: Mapping[str, str], body: bytes, now: datetime | None = None
    ) -> None:
        """Raise AuthenticationError unless the request is signed with this service's credentials."""
        signed = self.check_headers(headers, now)
        declared_hash = headers.get("x-amz-content-sha256")
        if declared_hash is not None and declared_hash != hashlib.sha256(body).hexdigest():
            raise AuthenticationError("InvalidSignatureException", "X-Amz-Content-SHA256 does not match the body")
        expected = self._signature(method, path, query, headers, signed.headers, body, signed.amz_date, signed.region)
        if not hmac.compare_digest(expected, signed.signature):
            raise AuthenticationError(
                "InvalidSignatureException",
                "The request signature we calculated does not match the signature you provided. "
                "Check your AWS Secret Access Key and signing method.",
            )

    def check_headers(self, headers: Mapping[str, str], now: datetime | None = None) -> SignedRequest:
        """Everything that can be checked before the body is read: the Authorization header's
        form, key, scope, signed headers and date. The service runs this first, so a request
        that cannot be authentic is refused without reading its body."""
        authorization = self._authorization(headers)
        signed_headers = _signed_headers(authorization, headers)
        amz_date = headers["x-amz-date"]
        _check_date(amz_date, authorization["date"], now or datetime.now(UTC))
        _check_payload_hash_form(headers.get("x-amz-content-sha256"))
        return SignedRequest(signed_headers, amz_date, authorization["region"], authorization["signature"])

    def _authorization(self, headers: Mapping[str, str]) -> re.Match[str]:
        """The Authorization header's parts, once its form, key and credential scope are right."""
        authorization = headers.get("authorization")
        if not authorization:
            raise AuthenticationError("MissingAuthenticationTokenException", "Missing Authentication Token")
        match = _AUTHORIZATION.match(authorization.strip())
        if match is None:
            raise AuthenticationError(
                "IncompleteSignatureException",
                "Authorization header: expected 'AWS4-HMAC-SHA256 Credential=<key>/<date>/<region>/<service>/"
                "aws4_request, SignedHeaders=<headers>, Signature=<hex>'",
                400,
            )
        if not hmac.compare_digest(match["key"], self._credentials.access_key):
            raise AuthenticationError(
                "UnrecognizedClientException", "The security token included in the request is invalid."
            )
        if match["service"] != SERVICE_NAME:
            raise AuthenticationError(
                "InvalidSignatureException",
                f"Credential should be scoped to correct service: '{SERVICE_NAME}' (got '{match['service']}')",
            )
        if match["region"] != self.region:
            raise AuthenticationError(
                "InvalidSignatureException",
                f"Credential should be scoped to a valid region: '{self.region}' (got '{match['region']}')",
            )
        return match

    def _signature(
        self,
        method: str,
        path: str,
        query: str,
        headers: Mapping[str, str],
        signed_headers: list[str],
        body: bytes,
        amz_date: str,
        region: str,
    ) -> str:
        url = f"http://{headers['host']}{path}" + (f"?{query}" if query else "")
        request = AWSRequest(
            method=method,
            url=url,
            data=body,
            headers={name: headers[name] for name in signed_headers if name in headers},
        )
        request.context["timestamp"] = amz_date
        signer = _ReceivedRequestSigner(self._credentials, SERVICE_NAME, region)
        canonical_request = signer.canonical_request(request)
        return signer.signature(signer.string_to_sign(request, canonical_request), request)


def _signed_headers(authorization: re.Match[str], headers: Mapping[str, str]) -> list[str]:
    """The headers the signature covers, once they include every header that must be signed."""
    signed_headers = authorization["signed"].split(";")
    missing = [
        name for name in headers_that_must_be_signed(headers) if name not in signed_headers or name not in headers
    ]
    if missing:
        raise AuthenticationError(
            "IncompleteSignatureException",
            f"SignedHeaders: must include {', '.join(missing)} (host, x-amz-date, the content type and "
            "every x-amz-* header sent must be signed and sent)",
            400,
        )
    return signed_headers


def _check_date(amz_date: str, credential_date: str, now: datetime) -> None:
    """X-Amz-Date is well formed, is the credential scope's day, and within the clock skew of now."""
    try:
        signed_at = datetime.strptime(amz_date, SIGV4_TIMESTAMP).replace(tzinfo=UTC)
    except ValueError as error:
        raise AuthenticationError(
            "IncompleteSignatureException", f"X-Amz-Date: {amz_date!r} is not in the form YYYYMMDDTHHMMSSZ", 400
        ) from error
    if credential_date != amz_date[:8]:
        raise AuthenticationError(
            "InvalidSignatureException",
            f"Credential date {credential_date} does not match X-Amz-Date {amz_date}",
        )
    if signed_at < now - MAX_CLOCK_SKEW:
        raise AuthenticationError(
            "InvalidSignatureException",
            f"Signature expired: {amz_date} is now earlier than {(now - MAX_CLOCK_SKEW).strftime(SIGV4_TIMESTAMP)}",
        )
    if signed_at > now + MAX_CLOCK_SKEW:
        raise AuthenticationError(
            "InvalidSignatureException",
            f"Signature not yet current: {amz_date} is still later than "
            f"{(now + MAX_CLOCK_SKEW).strftime(SIGV4_TIMESTAMP)}",
        )


def _check_payload_hash_form(declared_hash: str | None) -> None:
    if declared_hash is not None and _SHA256_HEX.fullmatch(declared_hash) is None:
        # UNSIGNED-PAYLOAD (and the streaming variants) would let a body be swapped under a
        # valid signature; over this protocol the body is always signed.
        raise AuthenticationError(
            "InvalidSignatureException",
            f"X-Amz-Content-SHA256: {declared_hash[:40]!r} is not accepted; this service needs the body's "
            f"SHA-256 in hex (not {UNSIGNED_PAYLOAD} or a streaming payload)",
        )
