"""An embedded Databricks workspace emulator: a real HTTP server on loopback.

It speaks the REST endpoints wheelship uses — auth (PAT, OAuth M2M, OIDC token exchange,
discovery documents, SCIM Me), Files API (volumes), Workspace, DBFS, Libraries, Clusters 2.0/2.1,
Jobs 2.1/2.2, the Permissions API for jobs and clusters, Unity Catalog grants — with the
behaviour, errors and limits of the real service, including who may see and change what
(identities, groups and access lists: :mod:`wheelship.emulator.acl`, :mod:`wheelship.emulator.uc`). The official
``databricks-sdk`` cannot tell it from a workspace (see the conformance suite).

Contract (other modules and tests build on these names)::

    from wheelship.emulator import Emulator

    with Emulator(seed={...} or "workspace.yml", token=None, state_dir=None,
                  clock_speed=1.0, latency=None, rate_limits=None, faults=(),
                  fault_seed=0, host="127.0.0.1", port=0, durations=None,
                  jobs_list_omits=(), watch_invariants=False) as emu:
        emu.url, emu.token             # http://127.0.0.1:PORT and the admin PAT
        emu.tokens["reader"]           # PATs from the seed, by name (a user's own token by
                                       # its user name, a service principal's by its id)
        emu.invariants()               # [] or violation lines: a job/cluster library that
                                       # points at a missing file; a cluster with two versions
                                       # of one package
        emu.violations                 # with watch_invariants: violations seen right after
                                       # any state-changing request, named by its endpoint
        emu.requests                   # [RequestRecord(method, path, query, status, token
                                       #   (the token's name, never its value), endpoint, ...,
                                       #   body: the JSON of an API call; .json())]
        emu.counters                   # {"GET /api/2.1/clusters/get": 3, ...}
        emu.job_settings(job_id), emu.jobs(), emu.runs(job_id)
        emu.cluster(cluster_id), emu.cluster_state(cid), emu.cluster_libraries(cid)
        emu.read_file(path), emu.file_exists(path), emu.files(prefix), emu.file_sha256(path)
        emu.put_file(path, data), emu.delete_file(path)      # direct test setup
        emu.clock.advance(s) / emu.advance(s) / emu.settle() # simulated time
        emu.clock.speed = 100                                # faster than real time
        emu.set_latency(0.05[, endpoint]), emu.set_rate_limit(endpoint, per_second,
                                       #   burst=None, retry_after=True)
        emu.add_fault("503", rate=0.2, endpoint="/api/*/jobs/*", count=3), emu.clear_faults()
                                       # kinds: 500 503 429 429-no-retry-after 403
                                       # transient (a message the SDK retries) reset slow
        emu.internal_errors            # handler crashes (tests keep this empty)
        with emu.state() as ws: ...    # the live Workspace under its lock (call ws.changed())

``rate_limits`` may be ``"databricks"`` (the published per-workspace limits). For clients in
another process the server also answers ``GET /_emulator/invariants`` and ``POST
/_emulator/clock`` (``advance_seconds``, ``speed``, ``settle``).

``start()`` returns when the server accepts connections; ``stop()`` (or leaving the ``with``
block) shuts it down and joins every thread. Endpoint names and glob patterns for the knobs are
described in :mod:`wheelship.emulator.faults`; the seed format in :mod:`wheelship.emulator.seed`;
the state machines in :mod:`wheelship.emulator.lifecycle`; the invariants in
:mod:`wheelship.emulator.invariants`. The CLI is ``wheelship emulator``.
"""

from __future__ import annotations

from wheelship.emulator.app import Emulator
from wheelship.emulator.faults import Fault
from wheelship.emulator.server import RequestRecord
from wheelship.emulator.state import Durations

__all__ = ["Durations", "Emulator", "Fault", "RequestRecord"]
