"""Signed sources: unsigned, badly signed and replayed calls are refused; nothing stored."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import func, select

from hub.security.signatures import sign_adobe, sign_hmac
from hub.store.tables import message_table, quarantined_table
from tests.api_support import Api, make_api
from tests.pipeline_support import order

SECRET = "whsec-test-7f3c9a1e5b2d4c6a8e0f"
URL_MAGENTO = "/v1/inbound/magento/order"


def _pem_pair() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


@pytest.fixture(scope="module")
def pem() -> tuple[str, str]:
    return _pem_pair()


@pytest.fixture
def api(tmp_path: Path, pem: tuple[str, str]) -> Api:
    config = (
        "security:\n  inbound_signatures:\n"
        f"    magento:\n      scheme: adobe_commerce\n      public_key_pem: {json.dumps(pem[1])}\n"
        "    shop:\n      scheme: hmac_sha256\n      secrets: [{$env: TEST_WMS_SECRET}]\n"
        "      window_seconds: 300\n"
    )
    return make_api(tmp_path, config_yaml=config, extra_env={"TEST_WMS_SECRET": SECRET})


def counts(api: Api) -> tuple[int, int]:
    with api.runtime.engine.connect() as conn:
        return (
            conn.execute(select(func.count()).select_from(message_table)).scalar_one(),
            conn.execute(select(func.count()).select_from(quarantined_table)).scalar_one(),
        )


def post(api: Api, body: bytes, extra: dict[str, str], url: str = URL_MAGENTO) -> int:
    headers = {"Content-Type": "application/json", **api.auth("admin"), **extra}
    return api.client.post(url, content=body, headers=headers).status_code


def test_adobe_signed_call_is_accepted(api: Api, pem: tuple[str, str]) -> None:
    body = order(1)
    assert post(api, body, sign_adobe(pem[0], body)) == 202
    assert counts(api) == (1, 0)


@pytest.mark.parametrize("case", ["missing", "garbage", "other body", "other key"])
def test_bad_adobe_signatures_store_nothing(api: Api, pem: tuple[str, str], case: str) -> None:
    body = order(2)
    headers = {
        "missing": {},
        "garbage": {"x-adobe-commerce-webhook-signature": "not base64 !!"},
        "other body": sign_adobe(pem[0], order(3)),
        "other key": sign_adobe(_pem_pair()[0], body),
    }[case]
    assert post(api, body, headers) == 401
    assert counts(api) == (0, 0)


def test_hmac_signed_call_and_replay_window(api: Api) -> None:
    # the hmac source posts through the same endpoint under its own system name; the
    # mapping lookup happens after the signature, so an unknown mapping answers 404
    body = order(4)
    now = int(time.time())
    assert post(api, body, {}, "/v1/inbound/shop/order") == 401  # unsigned
    stale = sign_hmac(SECRET, body, now - 301)
    assert post(api, body, stale, "/v1/inbound/shop/order") == 401  # replayed too late
    wrong = sign_hmac("another-secret-value-123456", body, now)
    assert post(api, body, wrong, "/v1/inbound/shop/order") == 401
    good = sign_hmac(SECRET, body, now)
    assert post(api, body, good, "/v1/inbound/shop/order") in (202, 404)
    assert counts(api) == (0, 0)
