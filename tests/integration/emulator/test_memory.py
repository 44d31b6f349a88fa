"""File bodies stream through the blob store: a 100 MB upload and download do not grow the
process (emulator and client in one process, as in the deploy benchmark) by anything close to
100 MB. Measured as the peak RSS (VmHWM) of a fresh subprocess."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

SCRIPT = textwrap.dedent(
    """
    import os, sys, requests
    from requests_toolbelt.multipart.encoder import MultipartEncoder
    from wheelship.emulator import Emulator

    def peak_kb():
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1])

    src, out = sys.argv[1], sys.argv[2]
    with Emulator() as emu:
        s = requests.Session()
        s.headers["Authorization"] = "Bearer " + emu.token
        s.get(emu.url + "/api/2.1/clusters/list").raise_for_status()
        before = peak_kb()
        with open(src, "rb") as fh:
            s.put(emu.url + "/api/2.0/fs/files/Volumes/m/s/v/big.whl", data=fh).raise_for_status()
        after_put = peak_kb()
        with open(src, "rb") as fh:
            # requests' own files= builds the body in memory: stream it with the toolbelt
            form = MultipartEncoder({"path": "/FileStore/big.whl", "overwrite": "true",
                                     "file": ("big.whl", fh, "application/octet-stream")})
            s.post(emu.url + "/api/2.0/dbfs/put", data=form,
                   headers={"Content-Type": form.content_type}).raise_for_status()
        after_form = peak_kb()
        with s.get(emu.url + "/api/2.0/fs/files/Volumes/m/s/v/big.whl", stream=True) as r, open(out, "wb") as fh:
            r.raise_for_status()
            for chunk in r.iter_content(1 << 20):
                fh.write(chunk)
        print(after_put - before, after_form - before, peak_kb() - before)
    """
)


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc (Linux)")
def test_100_mb_upload_and_download_do_not_grow_the_process(tmp_path: Path) -> None:
    src = tmp_path / "big.whl"
    with src.open("wb") as fh:
        for _ in range(100):
            fh.write(b"\x5a" * (1 << 20))
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(src), str(tmp_path / "back.whl")],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    put, form, total = (int(x) / 1024 for x in result.stdout.split())
    print(f"growth: PUT {put:.1f} MB, multipart {form:.1f} MB, total {total:.1f} MB")
    assert total < 25, (
        f"peak RSS grew by {put:.1f} / {form:.1f} / {total:.1f} MB (PUT / multipart / GET)"
    )
    assert (tmp_path / "back.whl").stat().st_size == 100 << 20
