"""The OFD package's names (namespace, paths, limits) and what a page is made of."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from xml.etree import ElementTree as ET  # noqa: N817
from zoneinfo import ZoneInfo

from shared.crypto._sm2 import Sm2PrivateKey

NS = "http://www.ofdspec.org/2016"
_Q = "{" + NS + "}"
PAGE_W_MM, PAGE_H_MM = 210, 297
SIGNS_DIR = "Doc_0/Signs/"
SIGNATURE_XML = "Doc_0/Signs/Sign_0/Signature.xml"
SIGNED_VALUE = "Doc_0/Signs/Sign_0/SignedValue.dat"
MAX_ENTRIES = 200
MAX_UNCOMPRESSED = 64 * 1024 * 1024
_FONT_FILE_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
DOCUMENT_ZONE = ZoneInfo("Asia/Shanghai")

ET.register_namespace("ofd", NS)


@dataclass(frozen=True, slots=True, kw_only=True)
class OfdText:
    x: float
    y: float  # top of the text box, from the top of the page (mm)
    text: str
    size: float  # font size in mm
    color: tuple[int, int, int] = (30, 30, 36)
    alpha: int = 255
    rotate: float = 0.0  # degrees, counter-clockwise about the box's top-left corner
    align: str = "left"  # left | center | right (x is then the centre / the right edge)


@dataclass(frozen=True, slots=True, kw_only=True)
class OfdImage:
    x: float
    y: float
    width: float
    height: float
    png: bytes  # PNG, or JPEG (recognised by its magic bytes)


@dataclass(frozen=True, slots=True, kw_only=True)
class OfdPage:
    title: str
    author: str
    texts: list[OfdText]
    images: list[OfdImage] = field(default_factory=list)
    custom: dict[str, str] = field(default_factory=dict)  # DocInfo CustomDatas (identifier, …)
    seal_box: tuple[float, float, float, float] = (140.0, 220.0, 42.0, 42.0)  # x, y, w, h mm
    creator: str = "河南省电子证照库"


@dataclass(frozen=True, slots=True, kw_only=True)
class OfdFont:
    """The page's font: a name, and the TrueType file embedded in the package (empty: named
    only, which a reader without that font installed cannot draw).

    ``name`` (``FontName``) has no spaces and names the file too (``<name>.ttf``): easyofd
    registers an embedded font under its file's name and looks it up by ``FontName``.
    """

    name: str
    family: str = ""  # FamilyName, e.g. "WenQuanYi Micro Hei"; default: the name
    data: bytes = b""
    advances: Mapping[str, float] = field(default_factory=dict)  # per character, in em


@dataclass(frozen=True, slots=True, kw_only=True)
class OfdSigner:
    key: Sm2PrivateKey
    certificate: bytes  # DER of the signer's SM2 certificate
    seal: bytes  # DER SESeal naming that certificate
    provider: str = "河南省电子证照库"
