"""Demo data for the annual inspection (网络年检, art. 26): a type with a window (1 January –
30 June), three licences, and two submissions — the demo holder's, waiting for the issuer,
and one the issuer submitted on a company's behalf and approved.

Safe to run twice like `seed_demo`: what exists is found, not made again. The licences are
issued now, so the window they are held to is next year's (shared.inspections.suspension):
the demo suspends nothing.
"""

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from shared.accounts.models import User
from shared.catalog import services as catalog
from shared.catalog.models import LicenseType
from shared.conf.divisions import CITIES
from shared.core.tier import is_hub
from shared.demo import data
from shared.inspections.models import Inspection
from shared.inspections.services import inspection_approve, inspection_submit
from shared.licenses.issuing import license_issue
from shared.licenses.models import License
from shared.licenses.validation import Holder

NAME = "特种设备使用登记证"
WINDOW = ("01-01", "06-30")
# The smallest valid files of each kind: a material is checked by its content.
PDF = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"


def _type(issuer: User) -> LicenseType:
    index = 0 if is_hub() else list(CITIES).index(settings.LIBRARY_CODE) + 1
    type_code = f"{data.DEFINERS['samr'][1]}{index * 10 + 9:03d}"
    found = LicenseType.objects.filter(type_code=type_code).first()
    if found is not None:
        return found
    created = catalog.license_type_create(
        actor=issuer,
        type_code=type_code,
        name=NAME,
        definer_name=data.DEFINERS["samr"][0],
        definer_level=LicenseType.Level.NATIONAL,
        issuer_level=LicenseType.Level.PROVINCE if is_hub() else LicenseType.Level.CITY,
        holder_category=LicenseType.HolderCategory.BOTH,
        validity_max_days=1461,
        related_matters=[{"code": "11410100MB0000009X0001", "name": "特种设备使用登记"}],
        surface_schema={
            "type": "object",
            "properties": {
                "使用单位": {"type": "string", "minLength": 1, "maxLength": 200},
                "设备类别": {"type": "string", "minLength": 1, "maxLength": 200},
            },
            "required": ["使用单位", "设备类别"],
            "additionalProperties": False,
        },
        annual_inspection=True,
        inspection_window_start=WINDOW[0],
        inspection_window_end=WINDOW[1],
        description=f"{NAME}（演示数据：每年 {WINDOW[0]} 至 {WINDOW[1]} 网络年检）",
    )
    return catalog.license_type_publish(actor=issuer, license_type=created)


def _licences(issuer: User, license_type: LicenseType, holder: Holder) -> list[License]:
    held = list(License.objects.filter(license_type=license_type).order_by("pk"))
    if held:
        return held
    area, today = settings.LIBRARY_CODE, timezone.localdate()
    holders = [holder] + [
        Holder(
            name=f"{data.COMPANIES[i]}",
            code=data.make_uscc(dept="91", area=area, body=f"9{i}{area[2:4]}T567"),
            code_type="001",
        )
        for i in (0, 2)
    ]
    return [
        license_issue(
            actor=issuer,
            type_code=license_type.type_code,
            number=f"TSSB{area}{n:04d}",
            holder=who,
            valid_from=today,
            valid_to=today + timedelta(days=1460),
            mode="online",
            case_completed_at=timezone.now() - timedelta(minutes=5),
            surface={"使用单位": who.name, "设备类别": "电梯"},
        )
        for n, who in enumerate(holders, start=1)
    ]


def seed_inspections_demo(
    *, issuer: User, reviewer: User, holder: dict[str, Any]
) -> dict[str, Any]:
    """The type, its licences and the two submissions; what the README's curl names."""
    license_type = _type(issuer)
    person = Holder(name=holder["name"], code=holder["holder_code"], code_type="111")
    licences = _licences(issuer, license_type, person)
    if not Inspection.objects.filter(license__license_type=license_type).exists():
        holder_user = User.objects.get(username=holder["username"])
        inspection_submit(
            actor=holder_user,
            identifier=licences[0].identifier,
            note="设备运行正常，定期检验合格",
            files=[("定期检验报告.pdf", PDF)],
        )
        on_behalf = inspection_submit(
            actor=issuer,
            identifier=licences[1].identifier,
            note="窗口代为提交",
            files=[("现场照片.png", PNG)],
        )
        inspection_approve(actor=reviewer, inspection_id=on_behalf.pk, reason="材料齐全")
    return {
        "type_code": license_type.type_code,
        "window": list(WINDOW),
        "identifiers": [lic.identifier for lic in licences],
    }
