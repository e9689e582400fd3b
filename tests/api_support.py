"""An API under test: a real SQLite file, real routes and mappings, keys per scope."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fastapi.testclient import TestClient

from hub.api.app import create_app
from hub.config import load_settings
from hub.runtime import Runtime
from hub.security.apikeys import create_key
from tests.pipeline_support import MAPPING_DIRS, write_routes


@dataclass
class Api:
    client: TestClient
    runtime: Runtime
    keys: dict[str, str]

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[who]}"}


def make_api(
    tmp_path: Path, *, extra_env: dict[str, str] | None = None, config_yaml: str | None = None
) -> Api:
    routes = write_routes(tmp_path, "http://127.0.0.1:9", targets=["erp"])
    environ = {
        "O2C_DATABASE_URL": f"sqlite:///{tmp_path / 'hub.db'}",
        "O2C_ROUTES_FILE": str(routes),
        "O2C_MAPPINGS_PATHS": ",".join(str(p) for p in MAPPING_DIRS),
        **(extra_env or {}),
    }
    if config_yaml is not None:
        (tmp_path / "hub.yaml").write_text(config_yaml, encoding="utf-8")
        environ["O2C_CONFIG"] = str(tmp_path / "hub.yaml")
    runtime = Runtime(load_settings(None, environ))
    runtime.upgrade_if_embedded()
    keys = {
        "magento": create_key(runtime.engine, "magento-prod", ["inbound:magento"], actor="test"),
        "reader": create_key(runtime.engine, "ops-reader", ["ops:read"], actor="test"),
        "replayer": create_key(
            runtime.engine, "ops-replayer", ["ops:read", "ops:replay"], actor="test"
        ),
        "admin": create_key(runtime.engine, "root", ["admin"], actor="test"),
        "other": create_key(runtime.engine, "sap-only", ["inbound:sap"], actor="test"),
    }
    client = TestClient(create_app(runtime, lambda: True), raise_server_exceptions=False)
    return Api(client, runtime, keys)
