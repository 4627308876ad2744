"""`edgelab control` as a command: starts, answers, keeps its state dir, refuses bad flags."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest

from edgelab.cli import main
from edgelab.testing.servers import running_process


def test_beyond_loopback_without_a_token_is_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("EDGELAB_CONTROL_TOKEN", raising=False)
    with pytest.raises(SystemExit) as e:
        main(["control", "--host", "0.0.0.0", "--port", "0"])
    err = capsys.readouterr().err
    assert e.value.code == 2
    assert err.startswith("edgelab: error: control --host 0.0.0.0:") and err.count("\n") == 1


async def test_the_command_serves_and_writes_versions_to_its_state_dir(
    tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    # Reading them back after a restart is tested in-process (tests/controlplane/test_store.py,
    # tests/integration/test_control.py); one process start here keeps the suite quick.
    async with running_process("control", "--state-dir", str(tmp_path)) as proc:
        url = proc.addresses["http"]
        async with http.get(f"{url}/healthz") as r:
            assert (await r.json())["component"] == "control"
        async with http.post(f"{url}/v1/artifacts/waf-rules", json={"content": "rules: []"}) as r:
            assert (await r.json())["version"]["version"] == 1
    assert [p.name for p in (tmp_path / "waf-rules").iterdir()] == ["00000001.json"]
