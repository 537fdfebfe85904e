"""What `seed_demo` creates: realistic agencies and licence types for a library, and the key
its tokens and one-time-code secrets are derived from."""

import os
import secrets
from typing import Any

from django.conf import settings

from shared.conf.env import INSECURE_SECRET_PREFIX, var_dir
from shared.domain.holder_codes import citizen_id_check, org_code_check, uscc_check


def demo_seed_key() -> bytes:
    """The key demo API tokens and holder TOTP secrets are derived from (so seeding twice writes
    the same credentials).

    SECRET_KEY when it is a real secret (the demo generates one per library); with the public
    development default, a random key kept 0600 in VAR_DIR/keys/demo-seed.key instead: a token
    derived from a published default would be a published token.
    """
    if not settings.SECRET_KEY.startswith(INSECURE_SECRET_PREFIX):
        return settings.SECRET_KEY.encode()
    path = var_dir() / "keys" / f"demo-seed-{settings.LIBRARY_CODE}.key"
    if not path.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:  # O_EXCL: two processes seeding at once keep the first one's key
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w", encoding="ascii") as out:
                out.write(secrets.token_hex(32))
    return path.read_text(encoding="ascii").strip().encode()


def make_uscc(*, dept: str, area: str, body: str) -> str:
    """A USCC with valid GB 11714 and GB 32100 checks (demo agencies and holders)."""
    first17 = dept + area + body + org_code_check(body)
    return first17 + uscc_check(first17)


def make_citizen_id(*, area: str, birth: str, seq: str) -> str:
    first17 = area + birth + seq
    return first17 + citizen_id_check(first17)


# National definers of the demo licence types (codes are made-up but checksum-valid).
DEFINERS = {
    "samr": ("国家市场监督管理总局", make_uscc(dept="11", area="100000", body="00000013")),
    "mot": ("中华人民共和国交通运输部", make_uscc(dept="11", area="100000", body="00000018")),
    "mohurd": (
        "中华人民共和国住房和城乡建设部",
        make_uscc(dept="11", area="100000", body="00000020"),
    ),
    "nmpa": ("国家药品监督管理局", make_uscc(dept="11", area="100000", body="00000055")),
}

AGENCIES = [
    # key, name suffix, org-code body, issuer, consumer, kind
    ("scj", "市场监督管理局", "1001", True, False, "department"),
    ("jtj", "交通运输局", "1002", True, False, "department"),
    ("zjj", "住房和城乡建设局", "1003", True, False, "department"),
    ("yjj", "药品监督管理局", "1004", True, False, "department"),
    ("zwzx", "政务服务中心", "2001", False, True, "service_centre"),
]

_STRING = {"type": "string", "minLength": 1, "maxLength": 200}


def _schema(required: list[str], optional: list[str] = ()) -> dict[str, Any]:  # type: ignore[assignment]
    properties = {name: dict(_STRING) for name in [*required, *optional]}
    return {
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }


TYPES: list[dict[str, Any]] = [
    {
        "seq": 1,
        "name": "食品经营许可证",
        "definer": "samr",
        "issuer": "scj",
        "holder_category": "legal",
        "requires_review": False,
        "validity_max_days": 1827,
        "matters": [("11410100MB0000001X0001", "食品经营许可（新办）")],
        "surface_schema": _schema(
            ["经营者名称", "法定代表人", "住所", "经营场所", "主体业态", "经营项目"],
            ["日常监督管理机构", "投诉举报电话"],
        ),
    },
    {
        "seq": 2,
        "name": "道路运输经营许可证",
        "definer": "mot",
        "issuer": "jtj",
        "holder_category": "legal",
        "requires_review": True,
        "validity_max_days": 1461,
        "matters": [("11410100MB0000002X0001", "道路普通货物运输经营许可")],
        "surface_schema": _schema(["业户名称", "地址", "经济类型", "经营范围"]),
    },
    {
        "seq": 3,
        "name": "建筑施工企业安全生产许可证",
        "definer": "mohurd",
        "issuer": "zjj",
        "holder_category": "legal",
        "requires_review": True,
        "validity_max_days": 1096,
        "matters": [("11410100MB0000003X0001", "建筑施工企业安全生产许可（新办）")],
        "surface_schema": _schema(["单位名称", "主要负责人", "单位地址", "经济类型", "许可范围"]),
    },
    {
        "seq": 4,
        "name": "药品经营许可证",
        "definer": "nmpa",
        "issuer": "yjj",
        "holder_category": "legal",
        "requires_review": False,
        "validity_max_days": 1827,
        "matters": [("11410100MB0000004X0001", "药品零售企业许可")],
        "surface_schema": _schema(
            [
                "企业名称",
                "注册地址",
                "法定代表人",
                "企业负责人",
                "质量负责人",
                "经营方式",
                "经营范围",
            ],
            ["仓库地址"],
        ),
    },
    {
        "seq": 5,
        "name": "个体工商户营业执照",
        "definer": "samr",
        "issuer": "scj",
        "holder_category": "person",
        "requires_review": False,
        "validity_max_days": None,
        "matters": [("11410100MB0000005X0001", "个体工商户设立登记")],
        "surface_schema": _schema(
            ["名称", "类型", "经营者", "组成形式", "经营场所", "经营范围", "注册日期"]
        ),
    },
]

# Sample holders (legal persons get USCCs, people get citizen IDs; all checksum-valid).
COMPANIES = [
    "豫中食品有限公司",
    "黄河物流股份有限公司",
    "中原建工集团有限公司",
    "仲景大药房连锁有限公司",
]
PEOPLE = [("张伟", "19850312", "123"), ("李娜", "19900607", "246"), ("王强", "19781123", "357")]


def sample_surface(type_name: str, holder_name: str, city: str) -> dict[str, str]:
    samples = {
        "食品经营许可证": {
            "经营者名称": holder_name,
            "法定代表人": "赵建国",
            "住所": f"河南省{city}中原路 88 号",
            "经营场所": f"河南省{city}中原路 88 号一层",
            "主体业态": "食品销售经营者（商场超市）",
            "经营项目": "散装食品销售，预包装食品销售，保健食品销售",
        },
        "道路运输经营许可证": {
            "业户名称": holder_name,
            "地址": f"河南省{city}物流大道 16 号",
            "经济类型": "有限责任公司",
            "经营范围": "道路普通货物运输，货物专用运输（集装箱）",
        },
        "建筑施工企业安全生产许可证": {
            "单位名称": holder_name,
            "主要负责人": "孙立新",
            "单位地址": f"河南省{city}建设路 1 号",
            "经济类型": "有限责任公司",
            "许可范围": "建筑施工",
        },
        "药品经营许可证": {
            "企业名称": holder_name,
            "注册地址": f"河南省{city}人民路 20 号",
            "法定代表人": "周敏",
            "企业负责人": "周敏",
            "质量负责人": "吴芳",
            "经营方式": "零售（连锁）",
            "经营范围": "中药饮片、中成药、化学药制剂、抗生素制剂、生化药品、生物制品",
        },
        "个体工商户营业执照": {
            "名称": f"{city}{holder_name}便民超市",
            "类型": "个体工商户",
            "经营者": holder_name,
            "组成形式": "个人经营",
            "经营场所": f"河南省{city}文化路 12 号",
            "经营范围": "日用百货、预包装食品零售",
            "注册日期": "2024年03月15日",
        },
    }
    return samples[type_name]
