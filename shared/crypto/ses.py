"""GB/T 38540-2020 electronic seals (电子印章) and signatures (电子签章), version 4, SM2/SM3.

Pure (no Django). The ASN.1 structures of the standard, with ``asn1crypto``:

- ``SESeal``: ``SES_SealInfo`` (header "ES"/4, esID, property with the signer certificates, the
  seal picture) plus the seal maker's certificate and its SM2 signature over
  ``SEQUENCE { eSealInfo, cert, signAlgID }``. Here the seal maker (制章者) is the library's SM2
  CA: it certifies that the agency's SM2 seal certificate may use this seal.
- ``SES_Signature``: ``TBS_Sign`` (version 4, the seal, the signing time, ``dataHash`` = SM3 of the
  signed data, ``propertyInfo`` = what was signed) plus the signer's certificate and the SM2
  signature over the DER of ``TBS_Sign``. For OFD the signed data is ``Signature.xml``.

Signatures are SM2-with-SM3 (1.2.156.10197.1.501) with the default user ID ``1234567812345678``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from asn1crypto import core

from shared.crypto import _sm2
from shared.crypto._sm2 import Sm2PrivateKey, Sm2PublicKey
from shared.crypto.sm2x509 import SM2_WITH_SM3

__all__ = [
    "SESeal",
    "SES_ESPictrueInfo",
    "SES_ESPropertyInfo",
    "SES_Header",
    "SES_SealInfo",
    "SES_Signature",
    "SM2_WITH_SM3",
    "SM3_OID",
    "TBS_Sign",
    "SealSpec",
    "seal_make",
    "seal_signed_part",
    "signature_make",
    "sm3",
]

SM3_OID = "1.2.156.10197.1.401"
SES_VERSION = 4
SEAL_ID = "ES"


def sm3(data: bytes) -> bytes:
    from cryptography.hazmat.primitives import hashes

    h = hashes.Hash(hashes.SM3())
    h.update(data)
    return h.finalize()


class ExtData(core.Sequence):
    _fields = [
        ("extnID", core.ObjectIdentifier),
        ("critical", core.Boolean, {"default": False}),
        ("extnValue", core.OctetString),
    ]


class ExtensionDatas(core.SequenceOf):
    _child_spec = ExtData


class SES_Header(core.Sequence):  # noqa: N801 - the standard's names
    _fields = [
        ("ID", core.IA5String),
        ("version", core.Integer),
        ("Vid", core.IA5String),
    ]


class CertInfoList(core.SequenceOf):
    _child_spec = core.OctetString


class SES_ESPropertyInfo(core.Sequence):  # noqa: N801
    """``certListType`` 1: ``certList`` is a ``CertInfoList`` (DER certificates)."""

    _fields = [
        ("type", core.Integer),  # 1 单位印章
        ("name", core.UTF8String),
        ("certListType", core.Integer),
        ("certList", CertInfoList),
        ("createDate", core.GeneralizedTime),
        ("validStart", core.GeneralizedTime),
        ("validEnd", core.GeneralizedTime),
    ]


class SES_ESPictrueInfo(core.Sequence):  # noqa: N801 - "Pictrue" is the standard's spelling
    _fields = [
        ("type", core.IA5String),  # "PNG"
        ("data", core.OctetString),
        ("width", core.Integer),  # millimetres
        ("height", core.Integer),
    ]


class SES_SealInfo(core.Sequence):  # noqa: N801
    _fields = [
        ("header", SES_Header),
        ("esID", core.IA5String),
        ("property", SES_ESPropertyInfo),
        ("picture", SES_ESPictrueInfo),
        ("extDatas", ExtensionDatas, {"optional": True}),
    ]


class SESeal(core.Sequence):
    _fields = [
        ("eSealInfo", SES_SealInfo),
        ("cert", core.OctetString),  # the seal maker's certificate (DER)
        ("signAlgID", core.ObjectIdentifier),
        ("signedValue", core.OctetBitString),
    ]


class _SealSigned(core.Sequence):
    """What the seal maker signs: ``SEQUENCE { eSealInfo, cert, signAlgID }``."""

    _fields = [
        ("eSealInfo", SES_SealInfo),
        ("cert", core.OctetString),
        ("signAlgID", core.ObjectIdentifier),
    ]


class TBS_Sign(core.Sequence):  # noqa: N801
    _fields = [
        ("version", core.Integer),
        ("eseal", SESeal),
        ("timeInfo", core.GeneralizedTime),
        ("dataHash", core.OctetBitString),
        ("propertyInfo", core.IA5String),
        ("extDatas", ExtensionDatas, {"optional": True}),
    ]


class SES_Signature(core.Sequence):  # noqa: N801
    _fields = [
        ("toSign", TBS_Sign),
        ("cert", core.OctetString),  # the signer's certificate (DER)
        ("signatureAlgID", core.ObjectIdentifier),
        ("signature", core.OctetBitString),
        ("timeStamp", core.OctetBitString, {"explicit": 0, "optional": True}),
    ]


@dataclass(frozen=True, slots=True, kw_only=True)
class SealSpec:
    es_id: str  # ASCII identifier of the seal, e.g. the agency code + key id
    name: str  # 印章名称
    signer_certificates: list[bytes]  # DER certificates allowed to sign with this seal
    picture_png: bytes
    width_mm: int
    height_mm: int
    valid_start: dt.datetime
    valid_end: dt.datetime
    created: dt.datetime
    vendor_id: str = "HAELIC"


def _utc(value: dt.datetime) -> dt.datetime:
    return value.astimezone(dt.UTC).replace(microsecond=0)


def seal_signed_part(seal: SESeal) -> bytes:
    part = _SealSigned(
        {"eSealInfo": seal["eSealInfo"], "cert": seal["cert"], "signAlgID": seal["signAlgID"]}
    )
    der: bytes = part.dump()
    return der


def seal_make(spec: SealSpec, *, maker_key: Sm2PrivateKey, maker_cert: bytes) -> bytes:
    """The DER ``SESeal`` for ``spec``, signed by the seal maker."""
    info = SES_SealInfo(
        {
            "header": {"ID": SEAL_ID, "version": SES_VERSION, "Vid": spec.vendor_id},
            "esID": spec.es_id,
            "property": {
                "type": 1,
                "name": spec.name,
                "certListType": 1,
                "certList": list(spec.signer_certificates),
                "createDate": _utc(spec.created),
                "validStart": _utc(spec.valid_start),
                "validEnd": _utc(spec.valid_end),
            },
            "picture": {
                "type": "PNG",
                "data": spec.picture_png,
                "width": spec.width_mm,
                "height": spec.height_mm,
            },
        }
    )
    unsigned = SESeal(
        {"eSealInfo": info, "cert": maker_cert, "signAlgID": SM2_WITH_SM3, "signedValue": b""}
    )
    signature = _sm2.sign(maker_key, seal_signed_part(unsigned))
    unsigned["signedValue"] = signature
    der: bytes = unsigned.dump(force=True)
    return der


def signature_make(
    *,
    seal_der: bytes,
    data: bytes,
    property_info: str,
    key: Sm2PrivateKey,
    cert: bytes,
    when: dt.datetime,
) -> bytes:
    """The DER ``SES_Signature`` over ``data`` (``dataHash`` = SM3(data))."""
    tbs = TBS_Sign(
        {
            "version": SES_VERSION,
            "eseal": SESeal.load(seal_der),
            "timeInfo": _utc(when),
            "dataHash": sm3(data),
            "propertyInfo": property_info,
        }
    )
    signature = _sm2.sign(key, tbs.dump())
    signed = SES_Signature(
        {
            "toSign": tbs,
            "cert": cert,
            "signatureAlgID": SM2_WITH_SM3,
            "signature": signature,
        }
    )
    der: bytes = signed.dump()
    return der


def seal_verify(seal: SESeal, maker_public: Sm2PublicKey) -> bool:
    if seal["signAlgID"].dotted != SM2_WITH_SM3:
        return False
    return _sm2.verify(maker_public, bytes(seal["signedValue"].native), seal_signed_part(seal))
