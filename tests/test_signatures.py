"""Inbound webhook signatures: Adobe Commerce (RSA) and the hub's HMAC scheme."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import SecretStr, TypeAdapter, ValidationError

from hub.errors import HubError
from hub.security.signatures import (
    ADOBE_SIGNATURE_HEADER,
    AdobeCommerceSignature,
    AdobeCommerceVerifier,
    HmacSignature,
    HmacVerifier,
    SignatureConfig,
    SignatureError,
    Verifier,
    sign_adobe,
    sign_hmac,
    verifier_for,
)
from tests.conftest import SAMPLES

BODY = (SAMPLES / "order-eu-b2b-vat.json").read_bytes()
NOW = datetime(2025, 3, 14, 9, 26, 53, tzinfo=UTC)
TS = int(NOW.timestamp())
SECRET = "whsec-old-5f1c0d2e9a7b4c3d"
NEW_SECRET = "whsec-new-8e2b7a6c1d0f9e4b"


def _private_pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def _public_pem(key: rsa.RSAPrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


@pytest.fixture(scope="module")
def commerce_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def other_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def adobe(commerce_key: rsa.RSAPrivateKey) -> AdobeCommerceVerifier:
    return AdobeCommerceVerifier(AdobeCommerceSignature(public_key_pem=_public_pem(commerce_key)))


@pytest.fixture(scope="module")
def hmac_verifier() -> HmacVerifier:
    return HmacVerifier(HmacSignature(secrets=[SecretStr(SECRET)]))


def _fails(verifier: Verifier, body: bytes, headers: dict[str, str], now: datetime = NOW) -> str:
    with pytest.raises(SignatureError) as caught:
        verifier.verify(body, headers, now)
    err = caught.value
    assert err.status == 401
    assert isinstance(err, HubError)
    return err.message


# --------------------------------------------------------------------------- Adobe Commerce


def test_adobe_signs_the_base64_text_of_the_body(commerce_key: rsa.RSAPrivateKey) -> None:
    """The documented scheme: RSA PKCS#1 v1.5 / SHA-256 over base64(body), base64 header."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    headers = sign_adobe(_private_pem(commerce_key), BODY)
    signature = base64.b64decode(headers[ADOBE_SIGNATURE_HEADER], validate=True)
    commerce_key.public_key().verify(
        signature, base64.b64encode(BODY), padding.PKCS1v15(), hashes.SHA256()
    )


def test_adobe_valid_signature_verifies(
    adobe: AdobeCommerceVerifier, commerce_key: rsa.RSAPrivateKey
) -> None:
    headers = sign_adobe(_private_pem(commerce_key), BODY)
    adobe.verify(BODY, headers, NOW)
    # Header names are case-insensitive, and the verifier ignores the clock.
    upper = {k.upper(): v for k, v in headers.items()}
    adobe.verify(BODY, upper, NOW + timedelta(days=400))


def test_adobe_tampered_body_fails(
    adobe: AdobeCommerceVerifier, commerce_key: rsa.RSAPrivateKey
) -> None:
    headers = sign_adobe(_private_pem(commerce_key), BODY)
    tampered = BODY.replace(b'"base_grand_total": 520.38', b'"base_grand_total": 5.38')
    assert tampered != BODY
    message = _fails(adobe, tampered, headers)
    assert "does not match" in message
    assert headers[ADOBE_SIGNATURE_HEADER] not in message


def test_adobe_signature_from_another_key_fails(
    adobe: AdobeCommerceVerifier, other_key: rsa.RSAPrivateKey
) -> None:
    headers = sign_adobe(_private_pem(other_key), BODY)
    with pytest.raises(SignatureError) as caught:
        adobe.verify(BODY, headers, NOW)
    assert caught.value.reason == "bad_signature"


def test_adobe_raw_body_signature_is_not_accepted(
    adobe: AdobeCommerceVerifier, commerce_key: rsa.RSAPrivateKey
) -> None:
    """A signature over the raw bytes (not their base64) is not what Commerce sends."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    raw = commerce_key.sign(BODY, padding.PKCS1v15(), hashes.SHA256())
    headers = {ADOBE_SIGNATURE_HEADER: base64.b64encode(raw).decode()}
    _fails(adobe, BODY, headers)


def test_adobe_missing_header_fails(adobe: AdobeCommerceVerifier) -> None:
    with pytest.raises(SignatureError) as caught:
        adobe.verify(BODY, {"content-type": "application/json"}, NOW)
    assert caught.value.reason == "missing_header"
    assert ADOBE_SIGNATURE_HEADER in caught.value.message


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "   ",
        "not base64 at all!",
        "abc",  # bad padding
        base64.b64encode(b"short").decode(),  # valid base64, wrong length for the key
        "v1=" + "a" * 64,
    ],
)
def test_adobe_garbage_header_fails(adobe: AdobeCommerceVerifier, garbage: str) -> None:
    with pytest.raises(SignatureError) as caught:
        adobe.verify(BODY, {ADOBE_SIGNATURE_HEADER: garbage}, NOW)
    assert caught.value.reason == "malformed_header"
    if garbage.strip():
        assert garbage.strip() not in caught.value.message


def test_adobe_right_length_garbage_is_a_bad_signature(adobe: AdobeCommerceVerifier) -> None:
    junk = base64.b64encode(bytes(range(256))).decode()  # 2048 bits of noise
    with pytest.raises(SignatureError) as caught:
        adobe.verify(BODY, {ADOBE_SIGNATURE_HEADER: junk}, NOW)
    assert caught.value.reason == "bad_signature"


def test_adobe_config_refuses_what_is_not_an_rsa_public_key(
    commerce_key: rsa.RSAPrivateKey,
) -> None:
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    ec_pem = (
        ec_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    for bad, expected in [
        ("hello", "PEM-encoded public key"),
        (_private_pem(commerce_key), "PEM-encoded public key"),  # pasted the private key
        (_public_pem(small), "1024-bit"),
        (ec_pem, "RSA"),
    ]:
        with pytest.raises(ValidationError) as caught:
            AdobeCommerceSignature(public_key_pem=bad)
        assert expected in str(caught.value)
    with pytest.raises(ValidationError):
        AdobeCommerceSignature.model_validate(
            {"public_key_pem": _public_pem(commerce_key), "private_key": "x"}
        )


# --------------------------------------------------------------------------- HMAC


def test_hmac_signature_matches_the_spec() -> None:
    headers = sign_hmac(SECRET, BODY, TS)
    expected = hmac.new(SECRET.encode(), f"{TS}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert headers == {"X-O2C-Timestamp": str(TS), "X-O2C-Signature": f"v1={expected}"}
    assert sign_hmac(SecretStr(SECRET), BODY, NOW) == headers
    assert sign_hmac(SECRET.encode(), BODY, TS) == headers


def test_hmac_valid(hmac_verifier: HmacVerifier) -> None:
    hmac_verifier.verify(BODY, sign_hmac(SECRET, BODY, TS), NOW)
    lower = {k.lower(): v for k, v in sign_hmac(SECRET, BODY, TS).items()}
    hmac_verifier.verify(BODY, lower, NOW)


def test_hmac_wrong_secret_fails(hmac_verifier: HmacVerifier) -> None:
    headers = sign_hmac("some-other-secret", BODY, TS)
    with pytest.raises(SignatureError) as caught:
        hmac_verifier.verify(BODY, headers, NOW)
    assert caught.value.reason == "bad_signature"
    assert "X-O2C-Signature" in caught.value.message


def test_hmac_tampered_body_fails(hmac_verifier: HmacVerifier) -> None:
    headers = sign_hmac(SECRET, BODY, TS)
    _fails(hmac_verifier, BODY + b" ", headers)


def test_hmac_timestamp_is_covered_by_the_signature(hmac_verifier: HmacVerifier) -> None:
    headers = sign_hmac(SECRET, BODY, TS - 3600)
    headers["X-O2C-Timestamp"] = str(TS)  # refresh a stale call's timestamp
    with pytest.raises(SignatureError) as caught:
        hmac_verifier.verify(BODY, headers, NOW)
    assert caught.value.reason == "bad_signature"


def test_hmac_rotated_secrets_second_one_matches() -> None:
    verifier = HmacVerifier(HmacSignature(secrets=[SecretStr(SECRET), SecretStr(NEW_SECRET)]))
    verifier.verify(BODY, sign_hmac(NEW_SECRET, BODY, TS), NOW)
    verifier.verify(BODY, sign_hmac(SECRET, BODY, TS), NOW)
    with pytest.raises(SignatureError):
        verifier.verify(BODY, sign_hmac("retired-secret-123", BODY, TS), NOW)


def test_hmac_several_v1_values_any_may_match(hmac_verifier: HmacVerifier) -> None:
    """A sender in mid-rotation signs with both secrets and sends both values."""
    old = sign_hmac(SECRET, BODY, TS)["X-O2C-Signature"]
    unknown = sign_hmac(NEW_SECRET, BODY, TS)["X-O2C-Signature"]
    for value in (f"{unknown}, {old}", f"{unknown},{old}", f"{old} {unknown}"):
        hmac_verifier.verify(BODY, {"X-O2C-Timestamp": str(TS), "X-O2C-Signature": value}, NOW)
    # Unknown scheme versions next to a v1 value are ignored.
    hmac_verifier.verify(
        BODY, {"X-O2C-Timestamp": str(TS), "X-O2C-Signature": f"v0=abc, {old}"}, NOW
    )


def test_hmac_timestamp_301_s_old_fails_and_names_the_window(
    hmac_verifier: HmacVerifier,
) -> None:
    hmac_verifier.verify(BODY, sign_hmac(SECRET, BODY, TS - 300), NOW)  # edge: accepted
    with pytest.raises(SignatureError) as caught:
        hmac_verifier.verify(BODY, sign_hmac(SECRET, BODY, TS - 301), NOW)
    err = caught.value
    assert err.reason == "timestamp_out_of_window"
    assert "301 s old" in err.message
    assert "±300 s" in err.message


def test_hmac_future_timestamp_beyond_window_fails(hmac_verifier: HmacVerifier) -> None:
    hmac_verifier.verify(BODY, sign_hmac(SECRET, BODY, TS + 300), NOW)  # edge: accepted
    with pytest.raises(SignatureError) as caught:
        hmac_verifier.verify(BODY, sign_hmac(SECRET, BODY, TS + 900), NOW)
    assert caught.value.reason == "timestamp_out_of_window"
    assert "900 s in the future" in caught.value.message


def test_hmac_window_is_configurable() -> None:
    verifier = HmacVerifier(HmacSignature(secrets=[SecretStr(SECRET)], window_seconds=30))
    message = _fails(verifier, BODY, sign_hmac(SECRET, BODY, TS - 31))
    assert "±30 s" in message


def test_hmac_header_names_are_configurable() -> None:
    config = HmacSignature(
        secrets=[SecretStr(SECRET)], signature_header="X-Sig", timestamp_header="X-Time"
    )
    verifier = verifier_for(config)
    headers = sign_hmac(SECRET, BODY, TS, signature_header="X-Sig", timestamp_header="X-Time")
    verifier.verify(BODY, headers, NOW)
    message = _fails(verifier, BODY, sign_hmac(SECRET, BODY, TS))
    assert "X-Time" in message


@pytest.mark.parametrize(
    ("headers", "reason", "names"),
    [
        ({}, "missing_header", "X-O2C-Timestamp"),
        ({"X-O2C-Timestamp": str(TS)}, "missing_header", "X-O2C-Signature"),
        ({"X-O2C-Timestamp": "yesterday", "X-O2C-Signature": "v1=" + "0" * 64},
         "malformed_header", "X-O2C-Timestamp"),
        ({"X-O2C-Timestamp": "-5", "X-O2C-Signature": "v1=" + "0" * 64},
         "malformed_header", "X-O2C-Timestamp"),
        ({"X-O2C-Timestamp": str(TS), "X-O2C-Signature": ""},
         "malformed_header", "X-O2C-Signature"),
        ({"X-O2C-Timestamp": str(TS), "X-O2C-Signature": "deadbeef"},
         "malformed_header", "X-O2C-Signature"),
        ({"X-O2C-Timestamp": str(TS), "X-O2C-Signature": "v1=nothex"},
         "malformed_header", "X-O2C-Signature"),
        ({"X-O2C-Timestamp": str(TS), "X-O2C-Signature": "v1=" + "a" * 63},
         "malformed_header", "X-O2C-Signature"),
        ({"X-O2C-Timestamp": str(TS), "X-O2C-Signature": ",".join(["v1=" + "a" * 64] * 9)},
         "malformed_header", "X-O2C-Signature"),
        ({"X-O2C-Timestamp": str(TS), "X-O2C-Signature": "v2=" + "a" * 64},
         "unknown_scheme", "v2"),
    ],
)  # fmt: skip
def test_hmac_missing_or_malformed_headers(
    hmac_verifier: HmacVerifier, headers: dict[str, str], reason: str, names: str
) -> None:
    with pytest.raises(SignatureError) as caught:
        hmac_verifier.verify(BODY, headers, NOW)
    assert caught.value.reason == reason
    assert names in caught.value.message
    for value in headers.values():
        if len(value) > 3:
            assert value not in caught.value.message


def test_duplicate_header_with_different_values_is_refused(hmac_verifier: HmacVerifier) -> None:
    headers = sign_hmac(SECRET, BODY, TS)
    headers["x-o2c-signature"] = "v1=" + "0" * 64
    with pytest.raises(SignatureError) as caught:
        hmac_verifier.verify(BODY, headers, NOW)
    assert caught.value.reason == "malformed_header"


def test_naive_now_is_a_programming_error(hmac_verifier: HmacVerifier) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        hmac_verifier.verify(BODY, sign_hmac(SECRET, BODY, TS), NOW.replace(tzinfo=None))


def test_no_secret_or_signature_ever_in_the_error_text() -> None:
    secrets = [SECRET, NEW_SECRET]
    config = HmacSignature(secrets=[SecretStr(s) for s in secrets])
    verifier = HmacVerifier(config)
    good = sign_hmac(SECRET, BODY, TS)
    cases = [
        sign_hmac("attacker-guess", BODY, TS),
        sign_hmac(SECRET, BODY, TS - 10_000),
        sign_hmac(NEW_SECRET, BODY, TS + 10_000),
        {**good, "X-O2C-Signature": good["X-O2C-Signature"] + "00"},
        {**good, "X-O2C-Signature": good["X-O2C-Signature"].replace("v1=", "v9=")},
        {"X-O2C-Signature": good["X-O2C-Signature"]},
        {**good, "X-O2C-Timestamp": f"{TS}.5"},
    ]
    for headers in cases:
        with pytest.raises(SignatureError) as caught:
            verifier.verify(BODY, headers, NOW)
        text = f"{caught.value} {caught.value!r} {caught.value.args}"
        for secret in secrets:
            assert secret not in text
        signature = headers["X-O2C-Signature"].split("=", 1)[1]
        assert signature not in text
    assert SECRET not in repr(config)
    assert SECRET not in str(config)
    with pytest.raises(ValidationError) as invalid:
        HmacSignature.model_validate({"secrets": [SECRET], "window_seconds": 0})
    assert SECRET not in str(invalid.value)


def test_hmac_config_validation() -> None:
    with pytest.raises(ValidationError):
        HmacSignature(secrets=[])
    with pytest.raises(ValidationError, match="secret #2 is empty"):
        HmacSignature(secrets=[SecretStr(SECRET), SecretStr("")])
    with pytest.raises(ValidationError):
        HmacSignature.model_validate({"secrets": [SECRET], "secret": SECRET})
    with pytest.raises(ValidationError):
        HmacSignature.model_validate({"secrets": [SECRET], "signature_header": "bad header"})


def test_signature_config_picks_the_scheme(commerce_key: rsa.RSAPrivateKey) -> None:
    adapter: TypeAdapter[AdobeCommerceSignature | HmacSignature] = TypeAdapter(SignatureConfig)
    hmac_config = adapter.validate_python({"scheme": "hmac_sha256", "secrets": [SECRET]})
    adobe_config = adapter.validate_python(
        {"scheme": "adobe_commerce", "public_key_pem": _public_pem(commerce_key)}
    )
    assert isinstance(verifier_for(hmac_config), HmacVerifier)
    assert isinstance(verifier_for(adobe_config), AdobeCommerceVerifier)
    assert isinstance(verifier_for(hmac_config), Verifier)
    with pytest.raises(ValidationError):
        adapter.validate_python({"scheme": "md5", "secrets": [SECRET]})


# --------------------------------------------------------------------------- properties


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_any_single_byte_change_fails_verification(
    data: st.DataObject,
    adobe: AdobeCommerceVerifier,
    commerce_key: rsa.RSAPrivateKey,
    hmac_verifier: HmacVerifier,
) -> None:
    index = data.draw(st.integers(min_value=0, max_value=len(BODY) - 1), label="index")
    new = data.draw(st.integers(0, 255).filter(lambda b: b != BODY[index]), label="byte")
    changed = BODY[:index] + bytes([new]) + BODY[index + 1 :]
    adobe_headers = _adobe_headers(commerce_key)
    with pytest.raises(SignatureError) as caught:
        adobe.verify(changed, adobe_headers, NOW)
    assert caught.value.reason == "bad_signature"
    with pytest.raises(SignatureError) as caught:
        hmac_verifier.verify(changed, sign_hmac(SECRET, BODY, TS), NOW)
    assert caught.value.reason == "bad_signature"


_ADOBE_HEADERS: dict[int, dict[str, str]] = {}


def _adobe_headers(key: rsa.RSAPrivateKey) -> dict[str, str]:
    """Sign BODY once per key: RSA signing is the slow part of the property test."""
    if id(key) not in _ADOBE_HEADERS:
        _ADOBE_HEADERS[id(key)] = sign_adobe(_private_pem(key), BODY)
    return _ADOBE_HEADERS[id(key)]
