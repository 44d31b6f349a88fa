"""Server core: errors, authentication, permissions, request log, HTTP framing, shutdown."""

from __future__ import annotations

import socket
import threading

import pytest
import requests

from support.emulator_api import Api, error_of
from wheelship.emulator import Emulator
from wheelship.errors import ConfigurationError

SEED = {
    "tokens": [
        {"name": "reader", "value": "dapi-reader-0001", "permission": "read-only"},
        {"name": "nobody", "value": "dapi-nobody-0001", "permission": "none"},
    ],
    "clusters": [{"cluster_id": "0101-000000-aaaaaaaa", "cluster_name": "c", "state": "RUNNING"}],
}


def test_starts_on_a_free_loopback_port_and_answers(emulator: Emulator, api: Api) -> None:
    assert emulator.url.startswith("http://127.0.0.1:")
    assert emulator.port > 0
    assert emulator.token.startswith("dapi") and len(emulator.token) == 36
    response = api.get("/api/2.1/clusters/list")
    assert response.status_code == 200
    assert response.json() == {}


def test_unknown_endpoint_is_404_endpoint_not_found(api: Api) -> None:
    response = api.get("/api/2.0/clusters/frobnicate")
    assert error_of(response) == (
        404,
        "ENDPOINT_NOT_FOUND",
        "No API found for 'GET /clusters/frobnicate'",
    )
    # a known path with the wrong method is unknown too
    assert error_of(api.delete("/api/2.1/clusters/get"))[:2] == (404, "ENDPOINT_NOT_FOUND")
    assert error_of(api.get("/not/an/api"))[:2] == (404, "ENDPOINT_NOT_FOUND")


def test_error_body_carries_request_info(api: Api) -> None:
    body = api.get("/api/2.1/clusters/get", cluster_id="nope").json()
    assert body["error_code"] == "INVALID_PARAMETER_VALUE"
    assert body["message"] == "Cluster nope does not exist"
    assert body["details"][0]["@type"] == "type.googleapis.com/google.rpc.RequestInfo"


def test_missing_credentials_are_401(emulator: Emulator, make_api) -> None:  # type: ignore[no-untyped-def]
    anonymous = make_api(emulator, None)
    response = anonymous.get("/api/2.1/clusters/list")
    assert response.status_code == 401
    assert response.json()["error_code"] == 401


def test_invalid_token_is_403_with_numeric_code_and_reason_header(
    emulator: Emulator, make_api
) -> None:  # type: ignore[no-untyped-def]
    response = make_api(emulator, "dapi-not-a-token").get("/api/2.1/clusters/list")
    assert response.status_code == 403
    assert response.json() == {"error_code": 403, "message": "Invalid access token."}
    assert response.headers["X-Databricks-Reason-Phrase"] == "Invalid access token."
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"


def test_read_only_token_reads_but_cannot_mutate(emulator_factory, make_api) -> None:  # type: ignore[no-untyped-def]
    emu = emulator_factory(SEED)
    reader = make_api(emu, emu.tokens["reader"])
    assert reader.get("/api/2.1/clusters/get", cluster_id="0101-000000-aaaaaaaa").status_code == 200
    for path, body in [
        ("/api/2.1/clusters/restart", {"cluster_id": "0101-000000-aaaaaaaa"}),
        ("/api/2.2/jobs/create", {"name": "x"}),
        ("/api/2.0/libraries/install", {"cluster_id": "0101-000000-aaaaaaaa", "libraries": []}),
    ]:
        status, code, message = error_of(reader.post(path, body))
        assert (status, code) == (403, "PERMISSION_DENIED")
        assert "does not have permission" in message
    put = reader.put("/api/2.0/fs/files/Volumes/a/b/c/x.whl", b"data")
    assert put.status_code == 403
    assert emu.files() == {}
    assert emu.cluster_state("0101-000000-aaaaaaaa") == "RUNNING"


def test_none_token_gets_403_on_everything(emulator_factory, make_api) -> None:  # type: ignore[no-untyped-def]
    emu = emulator_factory(SEED)
    nobody = make_api(emu, emu.tokens["nobody"])
    assert error_of(nobody.get("/api/2.1/clusters/list"))[:2] == (403, "PERMISSION_DENIED")
    assert error_of(nobody.post("/api/2.2/jobs/create", {}))[:2] == (403, "PERMISSION_DENIED")


def test_request_log_names_tokens_never_their_values(emulator_factory, make_api) -> None:  # type: ignore[no-untyped-def]
    emu = emulator_factory(SEED)
    make_api(emu, emu.token).get("/api/2.1/clusters/list", page_size=5)
    make_api(emu, emu.tokens["reader"]).get("/api/2.0/libraries/all-cluster-statuses")
    make_api(emu, "dapi-bogus-value").get("/api/2.1/clusters/list")
    records = emu.requests
    assert [(r.method, r.path, r.status, r.token) for r in records] == [
        ("GET", "/api/2.1/clusters/list", 200, "admin"),
        ("GET", "/api/2.0/libraries/all-cluster-statuses", 200, "reader"),
        ("GET", "/api/2.1/clusters/list", 403, None),
    ]
    assert records[0].query == {"page_size": ["5"]}
    text = repr(records) + repr(emu.counters)
    for secret in (emu.token, "dapi-reader-0001", "dapi-bogus-value"):
        assert secret not in text
    assert emu.counters == {
        "GET /api/2.1/clusters/list": 2,
        "GET /api/2.0/libraries/all-cluster-statuses": 1,
    }
    emu.clear_log()
    assert emu.requests == [] and emu.counters == {}


def test_fixed_token_and_seed_tokens(emulator_factory) -> None:  # type: ignore[no-untyped-def]
    emu = emulator_factory(SEED, token="dapi-fixed-admin")
    assert emu.token == "dapi-fixed-admin"
    assert emu.tokens == {
        "reader": "dapi-reader-0001",
        "nobody": "dapi-nobody-0001",
        "admin": "dapi-fixed-admin",
    }


def test_keep_alive_connection_serves_many_requests(api: Api, emulator: Emulator) -> None:
    for _ in range(20):
        assert api.get("/api/2.1/clusters/list").status_code == 200
    # one TCP connection: the server saw every request on it
    assert emulator.counters["GET /api/2.1/clusters/list"] == 20


def test_chunked_request_body_is_read(api: Api, emulator: Emulator) -> None:
    def parts():  # type: ignore[no-untyped-def]
        yield b"hello "
        yield b"chunked "
        yield b"world"

    response = api.put("/api/2.0/fs/files/Volumes/m/d/v/c.txt", parts())
    assert response.status_code == 204
    assert emulator.read_file("/Volumes/m/d/v/c.txt") == b"hello chunked world"


def test_expect_100_continue_is_answered(emulator: Emulator) -> None:
    body = b'{"path": "/Shared/x"}'
    head = (
        f"POST /api/2.0/workspace/mkdirs HTTP/1.1\r\nHost: x\r\n"
        f"Authorization: Bearer {emulator.token}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nExpect: 100-continue\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", emulator.port), timeout=10) as sock:
        sock.sendall(head)
        interim = sock.recv(1024)
        assert interim.startswith(b"HTTP/1.1 100")
        sock.sendall(body)
        final = sock.recv(65536)
    assert b"HTTP/1.1 200" in final
    assert emulator.files("/Workspace") == {}  # a folder, not a file


def test_stop_joins_threads_even_with_open_keep_alive_connections() -> None:
    emu = Emulator().start()
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {emu.token}"
    assert session.get(emu.url + "/api/2.1/clusters/list", timeout=5).status_code == 200
    before = {t.name for t in threading.enumerate()}
    assert "wheelship-emulator" in before
    emu.stop()
    session.close()
    names = [t.name for t in threading.enumerate()]
    assert "wheelship-emulator" not in names
    assert "wheelship-emulator-conn" not in names
    with pytest.raises(requests.ConnectionError):
        requests.get(emu.url + "/api/2.1/clusters/list", timeout=2)


def test_port_in_use_is_a_clear_configuration_error(emulator: Emulator) -> None:
    with pytest.raises(ConfigurationError, match=r"cannot listen on 127\.0\.0\.1:\d+"):
        Emulator(port=emulator.port).start()


def test_discovery_document_points_at_the_emulator(emulator: Emulator) -> None:
    meta = requests.get(emulator.url + "/.well-known/databricks-config", timeout=5).json()
    assert meta["oidc_endpoint"] == emulator.url + "/oidc"
    assert meta["workspace_id"] == str(emulator.workspace_id)
    oidc = requests.get(
        meta["oidc_endpoint"] + "/.well-known/oauth-authorization-server", timeout=5
    )
    assert oidc.json()["token_endpoint"] == emulator.url + "/oidc/v1/token"


def test_scim_me_names_the_caller_and_the_org(api: Api, emulator: Emulator) -> None:
    response = api.get("/api/2.0/preview/scim/v2/Me")
    assert response.json()["userName"] == "admin@example.com"
    assert response.headers["x-databricks-org-id"] == str(emulator.workspace_id)


def test_concurrent_clients_get_consistent_state(emulator: Emulator) -> None:
    from concurrent.futures import ThreadPoolExecutor

    def client(n: int) -> list[int]:
        api = Api(emulator, emulator.token)
        try:
            ids = []
            for i in range(25):
                ids.append(api.post("/api/2.2/jobs/create", {"name": f"c{n}-{i}"}).json()["job_id"])
                assert (
                    api.put(
                        f"/api/2.0/fs/files/Volumes/m/s/v/{n}/{i}.bin", bytes([n]) * 1000
                    ).status_code
                    == 204
                )
            return ids
        finally:
            api.close()

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(client, range(8)))
    ids = [i for r in results for i in r]
    assert len(set(ids)) == 200
    assert len(emulator.jobs()) == 200
    files = emulator.files("/Volumes/m/s/v")
    assert len(files) == 200 and set(files.values()) == {1000}
    assert emulator.read_file("/Volumes/m/s/v/3/7.bin") == bytes([3]) * 1000


def test_request_log_keeps_json_bodies_but_never_a_credential(
    emulator_factory,
    make_api,  # type: ignore[no-untyped-def]
) -> None:
    sp = {"application_id": "5f1c6a2e-0000-4000-8000-0000000000aa", "secret": "sp-secret-log-1"}
    emu = emulator_factory(
        {
            "service_principals": [sp],
            "jobs": [{"job_id": 5, "settings": {"name": "a"}}],
            "volumes": ["/Volumes/c/s/v"],
        }
    )
    token = requests.post(
        f"{emu.url}/oidc/v1/token",
        data={"grant_type": "client_credentials", "scope": "all-apis"},
        auth=(sp["application_id"], sp["secret"]),
        timeout=10,
    ).json()["access_token"]
    api = make_api(emu, token)
    assert api.post("/api/2.2/jobs/update", {"job_id": 5, "new_settings": {"name": "b"}}).ok
    assert api.put("/api/2.0/fs/files/Volumes/c/s/v/x.whl", b"raw-bytes-not-logged").ok
    update, upload = emu.requests[-2:]
    assert update.json() == {"job_id": 5, "new_settings": {"name": "b"}}
    assert upload.body == b"" and upload.json() is None
    logged = repr(emu.requests)
    for secret in (sp["secret"], token, emu.token):
        assert secret not in logged


def test_jobs_list_can_leave_settings_out(emulator_factory, make_api) -> None:  # type: ignore[no-untyped-def]
    settings = {
        "name": "s",
        "environments": [{"environment_key": "e", "spec": {"environment_version": "2"}}],
        "tasks": [
            {"task_key": "t", "environment_key": "e", "notebook_task": {"notebook_path": "/x"}}
        ],
    }
    for omits, present in (((), True), (("environments",), False)):
        emu = emulator_factory(
            {"jobs": [{"job_id": 1, "settings": settings}]}, jobs_list_omits=omits
        )
        api = make_api(emu, emu.token)
        listed = api.get("/api/2.2/jobs/list", expand_tasks="true").json()["jobs"][0]["settings"]
        assert ("environments" in listed) is present and listed["tasks"][0]["task_key"] == "t"
        full = api.get("/api/2.2/jobs/get", job_id=1).json()["settings"]
        assert "environments" in full  # get always returns them


def test_invariants_can_be_watched_after_every_change(emulator_factory, make_api) -> None:  # type: ignore[no-untyped-def]
    wheel = "/Volumes/c/s/v/pkg-1.0.0-py3-none-any.whl"
    task = {"task_key": "t", "new_cluster": {"num_workers": 1}, "libraries": [{"whl": wheel}]}
    emu = emulator_factory(
        {
            "files": [{"path": wheel, "content": "w"}],
            "jobs": [{"job_id": 1, "settings": {"name": "j", "tasks": [task]}}],
        },
        watch_invariants=True,
    )
    api = make_api(emu, emu.token)
    assert api.get("/api/2.2/jobs/get", job_id=1).ok  # reads are not checked
    assert api.delete(f"/api/2.0/fs/files{wheel}").status_code == 204
    assert emu.violations == [
        f"after DELETE /api/2.0/fs/files: job 1 (j): task t.libraries[0] references missing "
        f"file {wheel}"
    ]
