"""The provincial trust list on the wire (issue #13, item 1): how a city's trust material
travels up (`trust.keys`), and how the hub's list is signed and checked.

- A city sends `{"schema": 1, "material": trust_material(), "sm3": …}` on its stream to the hub
  whenever its keys change (rotation, revocation) and on beat when the digest differs from the
  last one sent; the hub keeps one row per library (`provincial_hub.aggregation.trust`).
- The hub publishes `{"trust_list": document, "signature": {"alg", "kid", "token"}}` at
  `GET /api/v1/federation/trust-list/`; the token is signed with the hub's **federation key**
  (the one every node registered as the hub's peer key), and its `sm3` claim is the SM3 of the
  document's canonical JSON, its `ver` the document's version. A node accepts a list only when
  that signature verifies against its registered hub peer key, the digest and version agree,
  and the version is not older than the one it holds.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from shared.core.errors import PermanentError
from shared.crypto.suites import public_key_from_pem, suite_for_key
from shared.crypto.tokens import TokenError, read_token_header, sign_token, verify_token
from shared.domain.canonical import canonical_json, sm3_hex
from shared.exchange.envelopes import EnvelopeError
from shared.federation import ownership
from shared.federation.keys import peer_public_key, signing_key
from shared.files import trust

KIND = "trust.keys"
LIST_TYPE = "ElicenseProvincialTrustList"
TOKEN_TYPE = "provincial-trust-list"
MATERIAL_LISTS = ("ca", "seals", "tsa", "sm2_ca", "sm2_seals")


def material_digest(material: dict[str, Any]) -> str:
    return sm3_hex(canonical_json(material))


def trust_keys_payload() -> dict[str, Any]:
    material = trust.trust_material()
    return {"schema": 1, "material": material, "sm3": material_digest(material)}


def trust_keys_check(payload: dict[str, Any], *, sender: str) -> dict[str, Any]:
    """The material a `trust.keys` event carries, checked: the sender's own (a city sends only
    its own keys), every certificate and key parses, the digest matches. Raises
    `federation.not_owner` or `trust.malformed` (dead-lettered, the stream moves on)."""
    material = payload.get("material")
    if not isinstance(material, dict):
        raise PermanentError("trust.malformed", "信任材料格式错误")
    library = material.get("library")
    if library != sender:
        raise ownership.NotOwnerError(
            ownership.NOT_OWNER,
            "发送方只能报送本库的信任材料",
            {"sender": sender, "record": "trust.keys", "key": str(library), "owner": str(library)},
        )
    if payload.get("sm3") != material_digest(material):
        raise PermanentError("trust.malformed", "信任材料摘要不符")
    try:
        for name in MATERIAL_LISTS:
            for entry in material.get(name, []):
                trust.certificate_sha256(str(entry["certificate"]))
                if str(entry["fingerprint"]) != trust.certificate_sha256(str(entry["certificate"])):
                    raise ValueError("fingerprint")
        for entry in material.get("token_keys", []):
            public_key_from_pem(str(entry["public_key"]).encode())
            if not isinstance(entry["kid"], str) or not entry["kid"]:
                raise ValueError("kid")
        for item in material.get("revocations", []):
            datetime.fromisoformat(str(item["revoked_at"]))
            str(item["fingerprint"])
        base = str(material.get("status_list_base", ""))
        if base and not base.startswith(("http://", "https://")):
            raise ValueError("status_list_base")
    except (KeyError, TypeError, ValueError) as exc:
        raise PermanentError(
            "trust.malformed", "信任材料中的证书或密钥无法解析", {"detail": str(exc)[:200]}
        ) from exc
    return material


def trust_list_sign(document: dict[str, Any]) -> dict[str, Any]:
    """The published form of `document`, signed with this library's federation key."""
    kid, key = signing_key()
    token = sign_token(
        suite=suite_for_key(key),
        key=key,
        kid=kid,
        claims={
            "typ": TOKEN_TYPE,
            "iss": document["issuer"],
            "ver": int(document["version"]),
            "sm3": sm3_hex(canonical_json(document)),
            "iat": int(time.time()),
        },
    )
    header = read_token_header(token)
    return {"trust_list": document, "signature": {"alg": header["alg"], "kid": kid, "token": token}}


def trust_list_verify(body: Any, *, hub_code: str) -> tuple[dict[str, Any], str]:
    """(document, signature token) of a published list, or `PermanentError`
    (`trust_list.malformed`, `trust_list.signature`): signed by the hub's registered federation
    key, over exactly this document and version."""
    try:
        document = body["trust_list"]
        token = str(body["signature"]["token"])
        if not isinstance(document, dict) or not isinstance(document["libraries"], list):
            raise TypeError("document")
        version = int(document["version"])
    except (KeyError, TypeError, ValueError) as exc:
        raise PermanentError("trust_list.malformed", "全省信任列表格式错误") from exc
    try:
        signed = verify_token(token, resolve_key=lambda alg, kid: peer_public_key(hub_code, kid))
    except (TokenError, EnvelopeError) as exc:  # EnvelopeError: the hub's key is retired
        raise PermanentError(
            "trust_list.signature", "全省信任列表签名无效", {"token_error": exc.code}
        ) from exc
    claims = signed.claims
    if (
        claims.get("typ") != TOKEN_TYPE
        or claims.get("iss") != hub_code
        or document.get("issuer") != hub_code
        or claims.get("ver") != version
        or claims.get("sm3") != sm3_hex(canonical_json(document))
    ):
        raise PermanentError("trust_list.signature", "全省信任列表内容与签名不符")
    return document, token


def trust_list_accept(body: Any, *, hub_code: str) -> bool:
    """Verify a published list and keep it (`shared.files.trust.trust_list_store`); False when
    it is older than the one held."""
    document, token = trust_list_verify(body, hub_code=hub_code)
    try:
        issued_at = datetime.fromisoformat(str(document["issued_at"]))
    except (KeyError, ValueError) as exc:
        raise PermanentError("trust_list.malformed", "全省信任列表格式错误") from exc
    return trust.trust_list_store(
        version=int(document["version"]), issued_at=issued_at, document=document, signature=token
    )
