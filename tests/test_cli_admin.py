"""`casedigest keys …` and `casedigest audit`, run as real processes on a temporary data file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.auth import hash_secret
from service.settings import Settings

CLI = [sys.executable, "-c", "from service.cli import main; main()"]


def run(args: list[str], data: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CASEDIGEST_DATA_PATH": str(data), "CASEDIGEST_ENGINE": "embedded"}
    return subprocess.run([*CLI, *args], capture_output=True, text=True, env=env, timeout=300, cwd=data.parent)


def create(name: str, role: str, data: Path) -> str:
    result = run(["keys", "create", "--name", name, "--role", role], data)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_keys_create_list_revoke_and_use(tmp_path: Path) -> None:
    data = tmp_path / "db.sqlite3"
    made = run(["keys", "create", "--name", "alice", "--role", "librarian"], data)
    assert made.returncode == 0, made.stderr
    secret = made.stdout.strip()
    assert secret.startswith("cdk_") and len(secret) == 4 + 43 and "\n" not in secret
    assert "not stored" in made.stderr
    admin = create("root", "admin", data)

    listed = run(["keys", "list"], data)
    assert listed.returncode == 0
    assert "alice" in listed.stdout and "librarian" in listed.stdout and "root" in listed.stdout
    rows = [json.loads(line) for line in run(["keys", "list", "--json"], data).stdout.splitlines()]
    assert [(r["name"], r["role"], r["revoked"]) for r in rows] == [("alice", "librarian", None), ("root", "admin", None)]
    for secret_or_hash in (secret, hash_secret(secret), admin, hash_secret(admin)):
        assert secret_or_hash not in listed.stdout + run(["keys", "list", "--json"], data).stdout

    app = create_app(Settings(engine="embedded", data_path=data, load_fixtures=False))
    record = {"id": "cli-1", "title": "戊某走私案", "summary": "被告人戊某走私冻品入境。"}
    with TestClient(app) as client:
        written = client.post("/v1/cases", json=record, headers={"Authorization": f"Bearer {secret}"})
        assert written.status_code == 201, written.text
        # The service runs on while the CLI reads the same store.
        trail = run(["audit"], data)
        assert trail.returncode == 0, trail.stderr
        assert "alice" in trail.stdout and "insert" in trail.stdout and "cli-1" in trail.stdout
        entries = [json.loads(line) for line in run(["audit", "--json", "--id", "cli-1"], data).stdout.splitlines()]
        assert [(e["key_name"], e["action"], e["record_id"], e["hash_before"]) for e in entries] == [
            ("alice", "insert", "cli-1", None)]
        assert len(entries[0]["hash_after"]) == 64
        assert client.get("/v1/audit", headers={"X-API-Key": admin}).json()["entries"][0]["record_id"] == "cli-1"

        revoked = run(["keys", "revoke", "alice"], data)
        assert revoked.returncode == 0, revoked.stderr
        refused = client.post("/v1/cases", json=record, headers={"Authorization": f"Bearer {secret}"})
        assert refused.status_code == 401 and refused.json()["error"]["code"] == "unauthorized"

    rows = [json.loads(line) for line in run(["keys", "list", "--json"], data).stdout.splitlines()]
    assert rows[0]["name"] == "alice" and rows[0]["revoked"]
    assert "revoked" in run(["keys", "list"], data).stdout
    assert run(["audit", "--id", "no-such-record"], data).stdout == ""


@pytest.mark.parametrize(
    "args, message",
    [
        (["keys", "create", "--name", "bad name", "--role", "librarian"], "key name"),
        (["keys", "create", "--name", "bob", "--role", "owner"], "unknown role"),
        (["keys", "create", "--name", "dup", "--role", "admin"], "already exists"),
        (["keys", "revoke", "nobody"], "no active key named 'nobody'"),
    ],
)
def test_errors_are_one_line_and_nonzero(tmp_path: Path, args: list[str], message: str) -> None:
    data = tmp_path / "db.sqlite3"
    create("dup", "admin", data)
    result = run(args, data)
    assert result.returncode != 0
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr and result.stdout == ""
