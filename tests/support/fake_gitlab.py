"""A FAKE of a few GitLab API endpoints, on loopback — not GitLab.

GitLab itself cannot run here, so this small server stands in for the endpoints ``wheelship tag``
and ``wheelship publish`` call, following docs.gitlab.com (api/releases, api/packages/pypi,
user/packages/pypi_repository) and GitLab's ``lib/api/pypi_packages.rb``:

Releases API (``JOB-TOKEN`` or ``PRIVATE-TOKEN`` header, else 401; another project: 404):

* ``POST /api/v4/projects/:id/releases`` (JSON ``tag_name``, ``ref``, ``name``, ``description``,
  ``tag_message``): 201 with the release; 409 ``Release already exists``; 400 when ``ref`` is
  missing and the tag does not exist. With ``bare_repo`` set it creates the tag there as GitLab
  does (annotated when ``tag_message`` is given), so a later ``git fetch --tags`` sees it.
* ``GET /api/v4/projects/:id/releases/:tag_name``: 200 or 404.

Merge request notes (same token headers): ``GET``/``POST /api/v4/projects/:id/merge_requests/
:iid/notes`` (list newest first; create 201) and ``PUT .../notes/:note_id`` (edit 200).

Issues (api/issues; ``PRIVATE-TOKEN`` only — the CI job token may not use the Issues API: 401):

* ``GET /api/v4/projects/:id/issues`` — ``labels`` (comma-separated, an issue must have all),
  ``state`` (``opened``, ``closed``, ``all``; default all), ``search`` (in title and
  description), ``order_by=created_at`` + ``sort`` (default desc), ``per_page``.
* ``POST /api/v4/projects/:id/issues`` (``title`` required, else 400; ``description``;
  ``labels`` comma-separated): 201 with the issue (``iid``, ``state: opened``, ``labels`` as a
  list, ``web_url``).
* ``PUT /api/v4/projects/:id/issues/:iid`` (``title``, ``description``, ``labels``,
  ``state_event`` ``close`` or ``reopen``): 200 with the issue; 404 for an unknown iid.
  A state change adds a system note (``system: true``, "closed" / "reopened") as GitLab does.
* ``GET``/``POST /api/v4/projects/:id/issues/:iid/notes`` — list (``sort``, default desc),
  create (``body`` required) 201.

PyPI package registry (HTTP Basic auth: user ``gitlab-ci-token`` with the job token, or any user
with the private token; else 401):

* ``POST /api/v4/projects/:id/packages/pypi`` — twine's multipart upload; 201, or 400 when the
  file name exists already.
* ``GET /api/v4/projects/:id/packages/pypi/simple/:name/`` — PEP 503 HTML with ``#sha256=``
  links, or PEP 691 JSON when asked for it and ``pypi_pep691`` is on (GitLab's
  ``pypi_pep_691_json`` feature flag). An unknown package redirects to pypi.org when
  ``pypi_forwarding`` is on (GitLab's package forwarding, on by default), else 404.
* ``GET /api/v4/projects/:id/packages/pypi/files/:sha256/:file_name`` — the file.

Every request is recorded (method, path, headers, JSON body) so tests check exactly what wheelship
sent. ``fail_next`` injects one canned response for a ``"METHOD /path"`` key.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import os
import re
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from support.net import serving

PEP691 = "application/vnd.pypi.simple.v1+json"


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class Response:
    status: int
    body: Any = None  # JSON-able, or bytes/str sent as is
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass
class FakeGitLab:
    project_id: str = "42"
    project_path: str = "group/project"
    tokens: dict[str, str] = field(
        default_factory=lambda: {"JOB-TOKEN": "job-token-value", "PRIVATE-TOKEN": "glpat-value"}
    )
    bare_repo: Path | None = None
    pypi_forwarding: bool = True
    pypi_pep691: bool = False
    requests: list[Recorded] = field(default_factory=list)
    releases: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: canonical project name -> file name -> bytes
    packages: dict[str, dict[str, bytes]] = field(default_factory=dict)
    fail_next: dict[str, tuple[int, Any]] = field(default_factory=dict)
    #: merge request iid -> its notes (``wheelship plan --mr-note``)
    notes: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    #: issue iid -> the issue (``labels`` a list, ``state`` opened/closed)
    issues: dict[int, dict[str, Any]] = field(default_factory=dict)
    #: issue iid -> its notes, oldest first
    issue_notes: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    port: int = 0
    _note_ids: int = 5000

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v4"

    @property
    def pypi_url(self) -> str:
        return f"{self.api_url}/projects/{self.project_id}/packages/pypi"

    # --- auth ------------------------------------------------------------------------------------

    def _header_token_ok(self, headers: dict[str, str]) -> bool:
        lowered = {k.lower(): v for k, v in headers.items()}
        return any(lowered.get(h.lower()) == v for h, v in self.tokens.items())

    def _basic_ok(self, headers: dict[str, str]) -> bool:
        auth = {k.lower(): v for k, v in headers.items()}.get("authorization", "")
        if not auth.startswith("Basic "):
            return False
        user, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
        if user == "gitlab-ci-token":
            return secret == self.tokens["JOB-TOKEN"]
        return secret == self.tokens["PRIVATE-TOKEN"]

    # --- dispatch --------------------------------------------------------------------------------

    def handle(
        self, method: str, path: str, headers: dict[str, str], raw: bytes, query: str = ""
    ) -> Response:
        ctype = {k.lower(): v for k, v in headers.items()}.get("content-type", "")
        body: Any = raw
        if raw and ctype.startswith("application/json"):
            body = json.loads(raw)
        elif raw and ctype.startswith("multipart/"):
            body = "<multipart upload>"
        self.requests.append(Recorded(method, path, headers, body))
        key = f"{method} {path}"
        if key in self.fail_next:
            status, obj = self.fail_next.pop(key)
            return Response(status, obj)
        prefix = "/api/v4/projects/"
        if not path.startswith(prefix):
            return Response(404, {"error": "404 Not Found"})
        project, _, sub = path[len(prefix) :].partition("/")
        if unquote(project) not in (self.project_id, self.project_path):
            return Response(404, {"message": "404 Project Not Found"})
        if sub == "packages/pypi" or sub.startswith("packages/pypi/"):
            if not self._basic_ok(headers):
                return Response(
                    401,
                    {"message": "401 Unauthorized"},
                    headers={"WWW-Authenticate": 'Basic realm="GitLab Packages Registry"'},
                )
            return self._pypi(method, sub[len("packages/pypi") :], headers, raw, ctype)
        if not self._header_token_ok(headers):
            return Response(401, {"message": "401 Unauthorized"})
        issue = re.fullmatch(r"issues(?:/(\d+))?(/notes)?", sub)
        if issue:
            lowered = {k.lower(): v for k, v in headers.items()}
            if lowered.get("private-token") != self.tokens["PRIVATE-TOKEN"]:
                return Response(401, {"message": "401 Unauthorized"})
            iid = int(issue.group(1)) if issue.group(1) else None
            params = {k: v[-1] for k, v in parse_qs(query).items()}
            if issue.group(2):
                return self._issue_notes(method, iid, params, body)
            return self._issues(method, iid, params, body)
        if method == "POST" and sub == "releases":
            return self._create_release(body)
        if method == "GET" and sub.startswith("releases/"):
            tag = unquote(sub[len("releases/") :])
            if tag in self.releases:
                return Response(200, self.releases[tag])
            return Response(404, {"message": "404 Not Found"})
        notes = re.fullmatch(r"merge_requests/(\d+)/notes(?:/(\d+))?", sub)
        if notes:
            return self._notes(method, int(notes.group(1)), notes.group(2), body)
        return Response(404, {"error": "404 Not Found"})

    # --- merge request notes (api/notes: list newest first, create 201, edit 200) ---------------

    def _notes(self, method: str, iid: int, note_id: str | None, body: Any) -> Response:
        notes = self.notes.setdefault(iid, [])
        if method == "GET" and note_id is None:
            return Response(200, sorted(notes, key=lambda n: -int(n["id"])))
        if method == "POST" and note_id is None and isinstance(body, dict) and body.get("body"):
            note = {"id": 1000 + sum(len(v) for v in self.notes.values()), "body": body["body"]}
            notes.append(note)
            return Response(201, note)
        if method == "PUT" and note_id is not None and isinstance(body, dict):
            for note in notes:
                if str(note["id"]) == note_id:
                    note["body"] = body.get("body", note["body"])
                    return Response(200, note)
            return Response(404, {"message": "404 Note Not Found"})
        return Response(400, {"message": "400 Bad request"})

    # --- issues (api/issues) and issue notes -------------------------------------------------

    def _issue_view(self, issue: dict[str, Any]) -> dict[str, Any]:
        return {
            **issue,
            "project_id": int(self.project_id) if self.project_id.isdigit() else self.project_id,
            "web_url": f"http://127.0.0.1:{self.port}/{self.project_path}/-/issues/{issue['iid']}",
        }

    def _issues(self, method: str, iid: int | None, params: dict[str, str], body: Any) -> Response:
        if method == "GET" and iid is None:
            wanted = {x.strip() for x in params.get("labels", "").split(",") if x.strip()}
            state = params.get("state", "all")
            search = params.get("search", "").lower()
            found = [
                i
                for i in self.issues.values()
                if wanted <= set(i["labels"])
                and state in ("all", i["state"])
                and (not search or search in f"{i['title']} {i['description']}".lower())
            ]
            found.sort(key=lambda i: i["iid"], reverse=params.get("sort", "desc") == "desc")
            per_page = int(params.get("per_page", "20"))
            return Response(200, [self._issue_view(i) for i in found[:per_page]])
        if method == "GET" and iid is not None:
            if iid not in self.issues:
                return Response(404, {"message": "404 Not found"})
            return Response(200, self._issue_view(self.issues[iid]))
        if not isinstance(body, dict):
            return Response(400, {"message": "400 Bad request"})
        if method == "POST" and iid is None:
            if not body.get("title"):
                return Response(400, {"error": "title is missing"})
            new = max(self.issues, default=0) + 1
            self.issues[new] = {
                "id": 9000 + new,
                "iid": new,
                "title": str(body["title"]),
                "description": str(body.get("description") or ""),
                "labels": [x for x in str(body.get("labels") or "").split(",") if x],
                "state": "opened",
            }
            self.issue_notes[new] = []
            return Response(201, self._issue_view(self.issues[new]))
        if method == "PUT" and iid is not None:
            if iid not in self.issues:
                return Response(404, {"message": "404 Not found"})
            issue = self.issues[iid]
            for key in ("title", "description"):
                if key in body:
                    issue[key] = str(body[key])
            if "labels" in body:
                issue["labels"] = [x for x in str(body["labels"]).split(",") if x]
            event = body.get("state_event")
            if event not in (None, "close", "reopen"):
                return Response(400, {"error": "state_event does not have a valid value"})
            new_state = {"close": "closed", "reopen": "opened"}.get(str(event))
            if new_state and new_state != issue["state"]:
                issue["state"] = new_state
                self._add_note(iid, new_state, system=True)
            return Response(200, self._issue_view(issue))
        return Response(405, {"message": "405 Method Not Allowed"})

    def _add_note(self, iid: int, body: str, *, system: bool = False) -> dict[str, Any]:
        self._note_ids += 1
        note = {"id": self._note_ids, "body": body, "system": system, "noteable_iid": iid}
        self.issue_notes.setdefault(iid, []).append(note)
        return note

    def _issue_notes(
        self, method: str, iid: int | None, params: dict[str, str], body: Any
    ) -> Response:
        if iid is None or iid not in self.issues:
            return Response(404, {"message": "404 Not found"})
        if method == "GET":
            notes = list(self.issue_notes.get(iid, []))
            if params.get("sort", "desc") == "desc":
                notes.reverse()
            return Response(200, notes[: int(params.get("per_page", "20"))])
        if method == "POST":
            if not isinstance(body, dict) or not body.get("body"):
                return Response(400, {"error": "body is missing"})
            return Response(201, self._add_note(iid, str(body["body"])))
        return Response(405, {"message": "405 Method Not Allowed"})

    def user_notes(self, iid: int) -> list[str]:
        """The bodies of an issue's comments (not system notes), oldest first."""
        return [n["body"] for n in self.issue_notes.get(iid, []) if not n["system"]]

    # --- releases --------------------------------------------------------------------------------

    def _resolve(self, ref: str) -> str | None:
        if self.bare_repo is None:
            return ref if len(ref) == 40 else None
        proc = subprocess.run(
            ["git", "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"],
            cwd=self.bare_repo,
            capture_output=True,
            text=True,
            check=False,
        )
        return proc.stdout.strip() or None

    def _create_release(self, body: Any) -> Response:
        if not isinstance(body, dict) or not body.get("tag_name"):
            return Response(400, {"error": "tag_name is missing"})
        tag = str(body["tag_name"])
        if tag in self.releases:
            return Response(409, {"message": "Release already exists"})
        commit = self._resolve(f"refs/tags/{tag}") if self.bare_repo is not None else None
        if commit is None:
            ref = body.get("ref")
            if not ref:
                return Response(400, {"message": "Ref is not specified"})
            commit = self._resolve(str(ref))
            if commit is None:
                return Response(400, {"message": "Ref is invalid"})
            if self.bare_repo is not None:
                args = ["git", "tag"]
                if body.get("tag_message"):
                    args += ["-a", "-m", str(body["tag_message"])]
                subprocess.run(
                    [*args, tag, commit],
                    cwd=self.bare_repo,
                    check=True,
                    capture_output=True,
                    env={
                        **os.environ,
                        "GIT_COMMITTER_NAME": "GitLab",
                        "GIT_COMMITTER_EMAIL": "gitlab@example.com",
                    },
                )
        release = {
            "tag_name": tag,
            "name": body.get("name") or tag,
            "description": body.get("description") or "",
            "commit": {"id": commit},
        }
        self.releases[tag] = release
        return Response(201, release)

    # --- PyPI registry ---------------------------------------------------------------------------

    def _pypi(
        self, method: str, sub: str, headers: dict[str, str], raw: bytes, ctype: str
    ) -> Response:
        if method == "POST" and sub in ("", "/"):
            return self._upload(raw, ctype)
        if method == "GET" and sub.startswith("/simple/"):
            name = sub[len("/simple/") :].strip("/")
            accept = {k.lower(): v for k, v in headers.items()}.get("accept", "")
            return self._simple(name, accept)
        if method == "GET" and sub.startswith("/files/"):
            _, filename = sub[len("/files/") :].split("/", 1)
            for files in self.packages.values():
                if filename in files:
                    return Response(200, files[filename], "application/octet-stream")
        return Response(404, {"message": "404 Package Not Found"})

    def _upload(self, raw: bytes, ctype: str) -> Response:
        message = BytesParser(policy=HTTP).parsebytes(
            f"Content-Type: {ctype}\r\n\r\n".encode() + raw
        )
        fields: dict[str, Any] = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            fields[str(name)] = (part.get_filename(), part.get_payload(decode=True))
        name = fields.get("name", (None, b""))[1].decode()
        filename, content = fields["content"]
        project = self.packages.setdefault(_canonical(name), {})
        if filename in project:
            return Response(400, {"message": "Validation failed: File name has already been taken"})
        project[filename] = content
        return Response(201, {"message": "201 Created"})

    def _simple(self, name: str, accept: str) -> Response:
        files = self.packages.get(_canonical(name))
        if not files:
            if self.pypi_forwarding:
                return Response(
                    302, b"", "text/html", {"Location": f"https://pypi.org/simple/{name}/"}
                )
            return Response(404, {"message": "404 Package Not Found"})
        entries = []
        for filename, content in sorted(files.items()):
            sha = hashlib.sha256(content).hexdigest()
            entries.append((filename, f"{self.pypi_url}/files/{sha}/{filename}", sha))
        if self.pypi_pep691 and PEP691 in accept:
            data = {
                "meta": {"api-version": "1.1"},
                "name": _canonical(name),
                "files": [
                    {"filename": f, "url": u, "hashes": {"sha256": s}} for f, u, s in entries
                ],
            }
            return Response(200, json.dumps(data).encode(), f"{PEP691}; charset=utf-8")
        links = "".join(
            f'<a href="{html.escape(u)}#sha256={s}" data-requires-python="">{html.escape(f)}</a><br>'
            for f, u, s in entries
        )
        page = (
            f"<!DOCTYPE html>\n<html>\n  <head>\n    <title>Links for {html.escape(name)}</title>\n"
            f"  </head>\n  <body>\n    <h1>Links for {html.escape(name)}</h1>\n    {links}\n"
            "  </body>\n</html>\n"
        )
        return Response(200, page.encode(), "text/html; charset=utf-8")


def _handler(fake: FakeGitLab) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        wbufsize = -1  # one send per response (avoids Nagle/delayed-ACK stalls)

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            url = urlsplit(self.path)
            resp = fake.handle(self.command, url.path, dict(self.headers.items()), raw, url.query)
            if isinstance(resp.body, bytes):
                payload = resp.body
            elif isinstance(resp.body, str):
                payload = resp.body.encode()
            else:
                payload = json.dumps(resp.body).encode()
            self.send_response(resp.status)
            self.send_header("Content-Type", resp.content_type)
            for name, value in resp.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_DELETE = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def run_fake_gitlab(fake: FakeGitLab | None = None) -> Iterator[FakeGitLab]:
    fake = fake or FakeGitLab()
    with serving(_handler(fake)) as port:
        fake.port = port
        yield fake
