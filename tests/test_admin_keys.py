"""Admin API keys: known scopes only, expiry, last use, and 401s that say why."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from toolbox_core.admin.auth import create_key
from toolbox_core.admin.models import AdminApiKey
from toolbox_core.db.base import utcnow
from toolbox_core.errors import InvalidInput

TOOLBOX = str(Path(sys.executable).with_name("toolbox"))


def bearer(plain: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {plain}"}


@pytest.mark.parametrize("scopes", [["catalog:wirte"], ["catalgo:read"], ["catalog"], ["*", "orders:delete"], []])
def test_unknown_scopes_are_refused_at_creation(toolbox, scopes):
    with pytest.raises(InvalidInput) as refused:
        create_key(toolbox, "typo", scopes)
    assert refused.value.code == "unknown_scope"


def test_known_scopes_are_accepted(toolbox):
    key, _ = create_key(toolbox, "ops", ["*", "catalog:write", "orders:read", "payments:write"])
    assert key.scopes == ["*", "catalog:write", "orders:read", "payments:write"]


def test_a_revoked_key_answers_revoked_not_required(client, toolbox):
    key, plain = create_key(toolbox, "gone", ["catalog:read"])
    with toolbox.db.transaction() as session:
        session.get(AdminApiKey, key.id).revoked_at = utcnow()
    error = client.get("/admin/products", headers=bearer(plain)).json()["error"]
    assert (error["code"], "revoked" in error["message"]) == ("key_revoked", True)
    unknown = client.get("/admin/products", headers=bearer("tbx_admin_nope")).json()["error"]
    assert unknown["code"] == "unauthorized" and "required" in unknown["message"]


def test_a_key_stops_working_when_it_expires(client, toolbox):
    _, plain = create_key(toolbox, "temp", ["catalog:read"], expires_at=datetime.now(UTC) + timedelta(hours=1))
    assert client.get("/admin/products", headers=bearer(plain)).status_code == 200
    with toolbox.db.transaction() as session:
        session.execute(update(AdminApiKey).values(expires_at=utcnow() - timedelta(seconds=1)))
    response = client.get("/admin/products", headers=bearer(plain))
    assert response.status_code == 401 and response.json()["error"]["code"] == "key_expired"
    with pytest.raises(InvalidInput):
        create_key(toolbox, "late", ["catalog:read"], expires_at=datetime.now(UTC) - timedelta(days=1))


def test_the_last_use_is_recorded(client, toolbox):
    key, plain = create_key(toolbox, "used", ["catalog:read"])
    with toolbox.db.session() as session:
        assert session.get(AdminApiKey, key.id).last_used_at is None
    client.get("/admin/products", headers=bearer(plain))
    with toolbox.db.session() as session:
        used = session.get(AdminApiKey, key.id).last_used_at
    assert used is not None


def run(*args: str, cwd: Path, columns: int = 80) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOOLBOX_")}
    return subprocess.run([TOOLBOX, *args], cwd=cwd, env={**env, "COLUMNS": str(columns)},
                          capture_output=True, text=True, timeout=60)


def test_keys_list_shows_whole_ids_on_a_narrow_terminal_and_create_refuses_typos(tmp_path):
    assert run("migrate", cwd=tmp_path).returncode == 0
    created = run("admin", "keys", "create", "ci", "--scope", "catalog:read", "--expires-in-days", "30", cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    key_id = next(word for word in created.stdout.split() if word.startswith("akey_"))
    listing = run("admin", "keys", "list", cwd=tmp_path, columns=80)
    assert key_id in listing.stdout
    typo = run("admin", "keys", "create", "bad", "--scope", "catalog:wirte", cwd=tmp_path)
    assert typo.returncode == 1 and "unknown scope" in typo.stderr
