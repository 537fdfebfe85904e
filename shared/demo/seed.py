"""`seed_demo`: agencies, staff, tokens, published licence types and sample licences.

Safe to run twice: every object is looked up before it is created, and tokens are derived from
a secret (`demo_data.demo_seed_key`: the library's SECRET_KEY, never a public default), so a
second run finds what the first one made and writes the same credentials.
"""

import functools
import hashlib
import hmac
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone

from shared.accounts import services as accounts
from shared.accounts.models import Agency, ApiToken, User
from shared.catalog import services as catalog
from shared.catalog.models import LicenseType
from shared.conf.divisions import CITIES, PROVINCE_NAME
from shared.core.tier import is_hub, library_tier
from shared.demo import data
from shared.demo.access import seed_access_demo
from shared.demo.console import seed_console_demo
from shared.demo.delegation import seed_delegation_demo
from shared.demo.inspections import seed_inspections_demo
from shared.demo.notifications import seed_notifications_demo
from shared.demo.reviews import seed_reviews_demo
from shared.demo.supervision import supervisor_credentials
from shared.domain.status import Action
from shared.licenses.issuing import license_issue
from shared.licenses.models import License
from shared.licenses.services import license_act
from shared.licenses.validation import Holder

DEMO_PASSWORD = "Demo-123456"  # noqa: S105 - demo only, printed to the operator


def _library_index() -> int:
    codes = list(CITIES)
    return 0 if is_hub() else codes.index(settings.LIBRARY_CODE) + 1


def _place() -> str:
    return PROVINCE_NAME if is_hub() else CITIES[settings.LIBRARY_CODE]


def _agency_prefix() -> str:
    return "河南省" if is_hub() else CITIES[settings.LIBRARY_CODE]


def _demo_secret(username: str) -> str:
    mac = hmac.new(
        data.demo_seed_key(),
        f"demo:{settings.LIBRARY_CODE}:{username}".encode(),
        hashlib.sha256,
    )
    return "elc_demo_" + mac.hexdigest()[:40]


def _token_for(user: User) -> str:
    secret = _demo_secret(user.username)
    # Demo tokens expire as every token does (API_TOKEN_DEFAULT_DAYS); seeding again renews the
    # expiry of the token it finds, so a demo restarted months later still signs in.
    expires_at = accounts.token_default_expiry()
    ApiToken.objects.update_or_create(
        digest=ApiToken.digest_of(secret),
        defaults={"expires_at": expires_at},
        create_defaults={
            "user": user,
            "name": "demo",
            "prefix": secret[:12],
            "expires_at": expires_at,
        },
    )
    return secret


@functools.cache
def _password_hash() -> str:
    # One PBKDF2 run (about a second here) shared by every demo user, not one per user.
    return make_password(DEMO_PASSWORD)


def _user(username: str, agency: Agency | None, role: str, display_name: str) -> User:
    user = User.objects.filter(username=username).first()
    if user is None:
        user = accounts.user_create(
            actor=None, agency=agency, username=username, role=role, display_name=display_name
        )
        user.password = _password_hash()
        user.save(update_fields=["password"])
    return user


def _agencies() -> dict[str, Agency]:
    area = settings.LIBRARY_CODE
    level = Agency.Level.PROVINCE if is_hub() else Agency.Level.CITY
    found: dict[str, Agency] = {}
    for key, suffix, body, issuer, consumer, kind in data.AGENCIES:
        name = _agency_prefix() + ("药品监督管理局" if suffix == "药品监督管理局" else suffix)
        code = data.make_uscc(dept="11", area=area, body=area[2:6] + body)
        agency = Agency.objects.filter(code=code).first() or accounts.agency_create(
            actor=None,
            code=code,
            name=name,
            kind=kind,
            level=level,
            area_code=area,
            is_issuer=issuer,
            is_consumer=consumer,
        )
        found[key] = agency
    return found


def _types(agencies: dict[str, Agency], staff: dict[str, User]) -> list[LicenseType]:
    result = []
    offset = _library_index() * 10
    for spec in data.TYPES:
        definer_name, definer_code = data.DEFINERS[spec["definer"]]
        type_code = f"{definer_code}{offset + spec['seq']:03d}"
        license_type = LicenseType.objects.filter(type_code=type_code).first()
        if license_type is None:
            actor = staff[spec["issuer"]]
            license_type = catalog.license_type_create(
                actor=actor,
                type_code=type_code,
                name=spec["name"],
                definer_name=definer_name,
                definer_code=definer_code,
                definer_level=LicenseType.Level.NATIONAL,
                issuer_level=(LicenseType.Level.PROVINCE if is_hub() else LicenseType.Level.CITY),
                holder_category=spec["holder_category"],
                validity_max_days=spec["validity_max_days"],
                related_matters=[{"code": c, "name": n} for c, n in spec["matters"]],
                surface_schema=spec["surface_schema"],
                requires_review=spec["requires_review"],
                qr_validity_days=30,
                description=f"{spec['name']}（演示数据）",
            )
            license_type = catalog.license_type_publish(actor=actor, license_type=license_type)
        result.append(license_type)
    return result


def _sample_licenses(
    types: list[LicenseType], staff: dict[str, User], reviewers: dict[str, User]
) -> int:
    created = 0
    area = settings.LIBRARY_CODE
    today = timezone.localdate()
    for t_index, (spec, license_type) in enumerate(zip(data.TYPES, types, strict=True)):
        actor = staff[spec["issuer"]]
        if License.objects.filter(license_type=license_type).exists():
            continue
        for h_index in range(3):
            if spec["holder_category"] == "person":
                name, birth, seq = data.PEOPLE[h_index]
                holder = Holder(
                    name=name,
                    code=data.make_citizen_id(area=area[:4] + "02", birth=birth, seq=seq),
                    code_type="111",
                )
            else:
                name = data.COMPANIES[(t_index + h_index) % len(data.COMPANIES)]
                holder = Holder(
                    name=f"{_place()}{name}",
                    code=data.make_uscc(
                        dept="91", area=area, body=f"{t_index}{h_index}{area[2:4]}5678"
                    ),
                    code_type="001",
                )
            max_days = spec["validity_max_days"]
            lic = license_issue(
                actor=actor,
                type_code=license_type.type_code,
                number=f"DEMO{area}{t_index + 1:02d}{h_index + 1:04d}",
                holder=holder,
                valid_from=today,
                valid_to=today + timedelta(days=max_days - 1) if max_days else None,
                mode="online",
                case_completed_at=timezone.now() - timedelta(minutes=5),
                matter_code=spec["matters"][0][0],
                surface=data.sample_surface(spec["name"], holder.name, _place()),
            )
            if spec["requires_review"] and h_index < 2:
                license_act(
                    actor=reviewers[spec["issuer"]],
                    identifier=lic.identifier,
                    action=Action.approve,
                )
            created += 1
    return created


@transaction.atomic
def _issuer_and_consumer(
    agencies: dict[str, Agency],
    staff: dict[str, User],
    reviewers: dict[str, User],
    types: list[LicenseType],
    grants: Any,
) -> dict[str, Any]:
    """The credentials document's issuer (市场监管局) and consumer (政务服务中心) entries."""
    return {
        "issuer": {
            "token": _token_for(staff["scj"]),
            "agency_code": agencies["scj"].code,
            "username": staff["scj"].username,
            "reviewer_token": _token_for(reviewers["scj"]),
            "type_codes": [t.type_code for t in types if t.issuer_id == agencies["scj"].pk],
        },
        "consumer": {
            "token": _token_for(staff["zwzx"]),
            "agency_code": agencies["zwzx"].code,
            "username": staff["zwzx"].username,
            "grants": grants,
        },
    }


def seed_demo() -> dict[str, Any]:
    """Create the demo data of this library; return the credentials document (DESIGN §8)."""
    prefix = "hub" if is_hub() else f"c{settings.LIBRARY_CODE}"
    agencies = _agencies()
    staff = {
        key: _user(f"{prefix}_{key}_1", agency, User.Role.STAFF, f"{agency.name}经办人")
        for key, agency in agencies.items()
    }
    reviewers = {
        key: _user(f"{prefix}_{key}_2", agency, User.Role.STAFF, f"{agency.name}审核人")
        for key, agency in agencies.items()
    }
    agency_admin = _user(
        f"{prefix}_scj_admin", agencies["scj"], User.Role.AGENCY_ADMIN, "市场监管局单位管理员"
    )
    admin = _user(f"{prefix}_admin", None, User.Role.LIBRARY_ADMIN, "库管理员")
    types = _types(agencies, staff)
    _sample_licenses(types, staff, reviewers)
    # Sharing (issue #5): the consumer's grants, a holder with a one-time-code device, uses.
    access = seed_access_demo(
        consumer=staff["zwzx"],
        consumer_agency=agencies["zwzx"],
        admin=admin,
        types=types,
        password=DEMO_PASSWORD,
        prefix=prefix,
    )
    seed_reviews_demo(consumer=staff["zwzx"], access=access)  # review requests (issue #12)
    # notifications (issue #14): e-mail addresses, a licence expiring in 30 days, its reminder
    seed_notifications_demo(holder=access["holder"], issuer=staff["scj"], types=types)
    return {
        "library": {
            "tier": library_tier(),
            "code": settings.LIBRARY_CODE,
            "name": settings.LIBRARY_NAME,
        },
        **_issuer_and_consumer(agencies, staff, reviewers, types, access["grants"]),
        "holder": access["holder"],
        # a legal person that delegated to the holder (issue #14; docs/holders.md)
        "legal_person": seed_delegation_demo(
            holder=access["holder"], password=DEMO_PASSWORD, prefix=prefix
        ),
        "inspections": seed_inspections_demo(
            issuer=staff["scj"], reviewer=reviewers["scj"], holder=access["holder"]
        ),
        "admin": {"token": _token_for(admin), "username": admin.username},
        "agency_admin": {
            "token": _token_for(agency_admin),
            "agency_code": agencies["scj"].code,
            "username": agency_admin.username,
        },
        "password": DEMO_PASSWORD,
        "console": seed_console_demo([*staff.values(), *reviewers.values(), agency_admin, admin]),
        **supervisor_credentials(user=_user, token=_token_for),  # the hub's supervisor
    }
