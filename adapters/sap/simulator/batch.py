"""OData V2 ``$batch``: a multipart/mixed request in, a multipart/mixed answer out.

Request (``POST <root>/$batch``, ``Content-Type: multipart/mixed; boundary=batch_…``): each
part is either ``Content-Type: application/http`` with one request (``GET`` only outside
a changeset) or ``Content-Type: multipart/mixed; boundary=changeset_…`` with the changing
requests of one changeset::

    --batch_1
    Content-Type: application/http
    Content-Transfer-Encoding: binary

    GET A_SalesOrder?$top=2 HTTP/1.1
    Accept: application/json


    --batch_1
    Content-Type: multipart/mixed; boundary=changeset_1

    --changeset_1
    Content-Type: application/http
    Content-Transfer-Encoding: binary
    Content-ID: 1

    POST A_SalesOrder HTTP/1.1
    Content-Type: application/json

    {...}
    --changeset_1--
    --batch_1--

Answer: ``202 Accepted``, one part per request part and one per changeset, in order. A
changeset is one logical unit of work: its requests run in order and when one fails,
everything the changeset did is undone and the changeset is answered by that one error
response (not a nested multipart), as SAP Gateway does. ``$<Content-ID>`` at the start of a
later request's URL in the same changeset stands for the entity an earlier request created.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Final
from urllib.parse import parse_qsl, unquote, urlsplit

from adapters.sap.simulator.errors import BUSI_EXCEPTION, SapError
from adapters.sap.simulator.odata import MODIFYING, ODataRequest, ODataResponse, ODataService

__all__ = ["BatchPart", "ChangeSet", "handle_batch", "parse_batch"]

_BOUNDARY = re.compile(r'boundary\s*=\s*(?:"(?P<quoted>[^"]+)"|(?P<plain>[^;\s]+))', re.I)
CRLF: Final = "\r\n"


@dataclass
class BatchPart:
    """One request inside a batch."""

    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    content_id: str = ""


@dataclass
class ChangeSet:
    parts: list[BatchPart]


def boundary_of(content_type: str) -> str | None:
    match = _BOUNDARY.search(content_type or "")
    if match is None:
        return None
    return match["quoted"] or match["plain"]


def _bad(text: str) -> SapError:
    return SapError(400, BUSI_EXCEPTION, text)


def _split(text: str, boundary: str) -> list[str]:
    """The bodies of the parts between ``--boundary`` lines (RFC 2046: the line break
    before a delimiter belongs to the delimiter)."""
    parts: list[str] = []
    current: list[str] | None = None
    for line in text.splitlines(keepends=True):
        stripped = line.rstrip("\r\n").rstrip()
        if stripped == f"--{boundary}":
            if current is not None:
                parts.append("".join(current))
            current = []
            continue
        if stripped == f"--{boundary}--":
            if current is not None:
                parts.append("".join(current))
            current = None
            break
        if current is not None:
            current.append(line)
    else:
        if current is not None:
            raise _bad(f"Batch part without closing delimiter --{boundary}--")
    return [_strip_break(part) for part in parts]


def _strip_break(part: str) -> str:
    if part.endswith("\r\n"):
        return part[:-2]
    if part.endswith("\n"):
        return part[:-1]
    return part


def _headers(block: str) -> tuple[dict[str, str], str]:
    """MIME or HTTP headers up to the first empty line, and what follows."""
    lines = block.split("\n")
    headers: dict[str, str] = {}
    index = 0
    while index < len(lines):
        line = lines[index].rstrip("\r")
        index += 1
        if line == "":
            break
        name, colon, value = line.partition(":")
        if not colon:
            raise _bad(f"Invalid header line in batch part: '{line}'")
        headers[name.strip().lower()] = value.strip()
    return headers, "\n".join(lines[index:])


def _request(block: str, mime: dict[str, str]) -> BatchPart:
    if "application/http" not in mime.get("content-type", "").lower():
        raise _bad("A batch part must have Content-Type application/http")
    stripped = block.lstrip("\r\n")
    request_line, _, rest = stripped.partition("\n")
    words = request_line.strip().split()
    if len(words) != 3 or not words[2].upper().startswith("HTTP/"):
        raise _bad(f"Invalid request line in batch part: '{request_line.strip()}'")
    headers, body = _headers(rest)
    body = body.rstrip("\r\n")
    return BatchPart(
        method=words[0].upper(),
        url=words[1],
        headers=headers,
        body=body.encode(),
        content_id=mime.get("content-id", headers.get("content-id", "")),
    )


def parse_batch(body: bytes, content_type: str) -> list[BatchPart | ChangeSet]:
    boundary = boundary_of(content_type)
    if "multipart/mixed" not in (content_type or "").lower() or boundary is None:
        raise _bad("A $batch request needs Content-Type multipart/mixed with a boundary")
    try:
        text = body.decode()
    except UnicodeDecodeError:
        raise _bad("A $batch request must be UTF-8") from None
    parts: list[BatchPart | ChangeSet] = []
    for block in _split(text, boundary):
        mime, content = _headers(block)
        kind = mime.get("content-type", "").lower()
        if kind.startswith("multipart/mixed"):
            inner = boundary_of(mime["content-type"])
            if inner is None:
                raise _bad("A changeset needs a boundary")
            requests = []
            for inner_block in _split(content, inner):
                inner_mime, inner_content = _headers(inner_block)
                requests.append(_request(inner_content, inner_mime))
            parts.append(ChangeSet(requests))
        else:
            parts.append(_request(content, mime))
    return parts


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def _http_part(response: ODataResponse) -> str:
    lines = [f"HTTP/1.1 {response.status} {_reason(response.status)}".rstrip()]
    for name, value in response.headers.items():
        lines.append(f"{name}: {value}")
    body = response.body.decode()
    lines.append(f"Content-Length: {len(response.body)}")
    return CRLF.join(lines) + CRLF + CRLF + body


def _mime_http(response: ODataResponse) -> str:
    payload = _http_part(response)
    return (
        "Content-Type: application/http"
        + CRLF
        + f"Content-Length: {len(payload.encode())}"
        + CRLF
        + "content-transfer-encoding: binary"
        + CRLF
        + CRLF
        + payload
    )


def _inner_request(
    part: BatchPart, outer: ODataRequest, service_root: str, references: dict[str, str]
) -> ODataRequest:
    url = part.url
    if "://" in url:
        split = urlsplit(url)
        url = split.path + (f"?{split.query}" if split.query else "")
    path, _, query = url.partition("?")
    if path.startswith("/"):
        root = service_root.rstrip("/")
        if not (path == root or path.startswith(root + "/")):
            raise _bad(f"Request '{part.url}' is not in service {root}")
        path = path[len(root) :]
    path = unquote(path).lstrip("/")
    if path.startswith("$") and references:
        head, _, tail = path.partition("/")
        if head[1:] in references:
            path = references[head[1:]] + ("/" + tail if tail else "")
    method = part.headers.get("x-http-method", part.method).upper()
    return ODataRequest(
        method=method,
        path=path,
        query=parse_qsl(query, keep_blank_values=True),
        headers=part.headers,
        body=part.body,
        user=outer.user,
        base_url=outer.base_url,
    )


def handle_batch(
    service: ODataService, request: ODataRequest, content_type: str, service_root: str
) -> ODataResponse:
    """Run a ``$batch`` request; changesets are atomic."""
    try:
        parts = parse_batch(request.body, content_type)
    except SapError as exc:
        return service.error(exc, in_batch=True)
    boundary = uuid.uuid4().hex.upper()
    chunks: list[str] = []
    changed = ""
    for part in parts:
        if isinstance(part, BatchPart):
            inner = _inner_request(part, request, service_root, {})
            if inner.method in MODIFYING:
                answer = service.error(
                    _bad(f"{inner.method} is only allowed inside a changeset"), in_batch=True
                )
            else:
                answer = service.handle(inner, in_batch=True)
            chunks.append(_mime_http(answer))
            continue
        snapshot = service.state.snapshot()
        references: dict[str, str] = {}
        answers: list[ODataResponse] = []
        failed: ODataResponse | None = None
        for item in part.parts:
            try:
                inner = _inner_request(item, request, service_root, references)
            except SapError as exc:
                failed = service.error(exc, in_batch=True)
                break
            if inner.method not in MODIFYING:
                failed = service.error(
                    _bad(f"{inner.method} is not allowed inside a changeset"), in_batch=True
                )
                break
            answer = service.handle(inner, in_batch=True)
            if answer.status >= 400:
                failed = answer
                break
            if item.content_id:
                answer.headers.setdefault("content-id", item.content_id)
                if answer.location:
                    references[item.content_id] = answer.location
            answers.append(answer)
        if failed is not None:
            service.state.restore(snapshot)
            chunks.append(_mime_http(failed))
            continue
        changed = changed or ("batch" if answers else "")
        inner_boundary = uuid.uuid4().hex.upper()
        nested = (
            "".join(f"--{inner_boundary}{CRLF}{_mime_http(answer)}{CRLF}" for answer in answers)
            + f"--{inner_boundary}--{CRLF}"
        )
        chunks.append(
            f"Content-Type: multipart/mixed; boundary={inner_boundary}"
            + CRLF
            + f"Content-Length: {len(nested.encode())}"
            + CRLF
            + CRLF
            + nested
        )
    text = "".join(f"--{boundary}{CRLF}{chunk}{CRLF}" for chunk in chunks) + f"--{boundary}--{CRLF}"
    response = ODataResponse(
        202,
        {
            "content-type": f"multipart/mixed; boundary={boundary}",
            "dataserviceversion": "2.0",
        },
        text.encode(),
    )
    response.change = changed
    return response
