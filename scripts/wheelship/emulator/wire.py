"""Requests, responses and errors as the handlers see them.

Handlers never touch sockets: the server reads the body first (JSON into memory, capped; uploads
streamed into a pending blob), calls the handler under the state lock, and then writes the
:class:`Response` (JSON, or a blob streamed from disk). Errors are raised as :class:`ApiError`
and rendered as the standard Databricks error body.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from wheelship.emulator.auth import Principal
    from wheelship.emulator.blobs import PendingBlob
    from wheelship.emulator.multipart import MultipartForm

JSON = dict[str, Any]


class ApiError(Exception):
    """An error answer: ``{"error_code", "message", "details"}`` with an HTTP status."""

    def __init__(
        self,
        status: int,
        error_code: str | int,
        message: str,
        *,
        reason: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error_code = error_code
        self.message = message
        self.reason = reason
        self.headers = dict(headers or {})

    def body(self, request_id: str) -> JSON:
        out: JSON = {"error_code": self.error_code, "message": self.message}
        details: list[JSON] = []
        if self.reason:
            details.append(
                {
                    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                    "reason": self.reason,
                    "domain": "databricks.com",
                    "metadata": {},
                }
            )
        if isinstance(self.error_code, str):
            details.append(
                {
                    "@type": "type.googleapis.com/google.rpc.RequestInfo",
                    "request_id": request_id,
                    "serving_data": "",
                }
            )
        if details:
            out["details"] = details
        return out


def bad_request(message: str, code: str = "INVALID_PARAMETER_VALUE") -> ApiError:
    return ApiError(400, code, message)


def not_found(message: str, code: str = "RESOURCE_DOES_NOT_EXIST") -> ApiError:
    return ApiError(404, code, message)


def malformed(message: str) -> ApiError:
    return ApiError(400, "MALFORMED_REQUEST", f"Could not parse request object: {message}")


@dataclass
class Response:
    status: int = 200
    json: Any = None
    body: bytes | None = None
    stream: IO[bytes] | None = None  # an open blob; the server streams then closes it
    length: int = 0  # bytes to send from ``stream``
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"


@dataclass
class Request:
    method: str
    path: str  # URL-decoded path without the query
    query: dict[str, list[str]]
    headers: Mapping[str, str]
    endpoint: str  # "METHOD /api/x.y/service/verb" (file paths collapsed)
    version: str  # "2.0", "2.1", "2.2" or "" for non-API routes
    rest: str = ""  # the path after a prefix route (Files API, import-file)
    principal: Principal | None = None
    raw_body: bytes = b""
    upload: PendingBlob | None = None
    form: MultipartForm | None = None
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    _json: JSON | None = None

    # -- query string ------------------------------------------------------------------------
    def arg(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else None

    def args(self, name: str) -> list[str]:
        return list(self.query.get(name, []))

    def arg_bool(self, name: str, default: bool = False) -> bool:
        value = self.arg(name)
        if value is None or value == "":
            return default
        low = value.lower()
        if low in {"true", "1"}:
            return True
        if low in {"false", "0"}:
            return False
        raise bad_request(f"Invalid value for parameter {name}: {value!r} is not a boolean")

    def arg_int(self, name: str, default: int | None = None) -> int | None:
        value = self.arg(name)
        if value is None or value == "":
            return default
        try:
            return int(value)
        except ValueError:
            raise bad_request(
                f"Invalid value for parameter {name}: {value!r} is not an integer"
            ) from None

    def require_arg(self, name: str) -> str:
        value = self.arg(name)
        if value is None or value == "":
            raise bad_request(f"Missing required field: {name}")
        return value

    # -- JSON body ---------------------------------------------------------------------------
    def json(self) -> JSON:
        if self._json is None:
            if not self.raw_body.strip():
                self._json = {}
            else:
                try:
                    data = json.loads(self.raw_body)
                except (ValueError, UnicodeDecodeError) as exc:
                    raise malformed(f"invalid JSON: {exc}") from None
                if not isinstance(data, dict):
                    raise malformed(f"expected a JSON object, got {type(data).__name__}")
                self._json = data
        return self._json

    def body_or_form(self) -> JSON:
        """JSON body, or the multipart text fields (workspace import, DBFS put)."""
        if self.form is not None:
            return dict(self.form.fields)
        return self.json()


def field_str(body: JSON, name: str, *, required: bool = True, default: str = "") -> str:
    value = body.get(name)
    if value is None or value == "":
        if required:
            raise bad_request(f"Missing required field: {name}")
        return default
    if not isinstance(value, str):
        raise malformed(f"expected a string for field '{name}', got {json.dumps(value)[:60]}")
    return value


def field_int(body: JSON, name: str, *, required: bool = True, default: int = 0) -> int:
    """int64 fields: numbers or numeric strings (the legacy CLI sends ``"job_id": "1"``)."""
    value = body.get(name)
    if value is None:
        if required:
            raise bad_request(f"Missing required field: {name}")
        return default
    if isinstance(value, bool):
        raise malformed(f"expected an integer for field '{name}', got {json.dumps(value)}")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            pass
    raise malformed(f"expected an integer for field '{name}', got {json.dumps(value)[:60]}")


def field_bool(body: JSON, name: str, *, default: bool = False) -> bool:
    value = body.get(name)
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    # multipart forms carry strings; the legacy CLI sends Python's "True"/"False"
    if isinstance(value, str) and value.lower() in {"true", "false"}:
        return value.lower() == "true"
    raise malformed(f"expected a boolean for field '{name}', got {json.dumps(value)[:60]}")


def field_obj(body: JSON, name: str, *, required: bool = False) -> JSON | None:
    value = body.get(name)
    if value is None:
        if required:
            raise bad_request(f"Missing required field: {name}")
        return None
    if not isinstance(value, dict):
        raise malformed(f"expected an object for field '{name}', got {json.dumps(value)[:60]}")
    return value


def field_list(body: JSON, name: str, *, required: bool = False) -> list[Any] | None:
    value = body.get(name)
    if value is None:
        if required:
            raise bad_request(f"Missing required field: {name}")
        return None
    if not isinstance(value, list):
        raise malformed(f"expected an array for field '{name}', got {json.dumps(value)[:60]}")
    return value


def page_token(offset: int, kind: str) -> str:
    """An opaque continuation token (base64 of the kind and offset)."""
    import base64

    return base64.urlsafe_b64encode(f"{kind}:{offset}".encode()).decode("ascii").rstrip("=")


def read_page_token(token: str | None, kind: str) -> int:
    """The offset in ``token`` (0 when absent); 400 for a token that is not ours."""
    import base64
    import binascii

    if not token:
        return 0
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        prefix, _, number = text.partition(":")
        if prefix != kind:
            raise ValueError(prefix)
        offset = int(number)
        if offset < 0:
            raise ValueError(number)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise bad_request(f"Invalid page token: {token}") from None
    return offset
