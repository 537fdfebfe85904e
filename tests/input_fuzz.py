"""Input fuzzing of every JSON-taking operation (POST, PUT, PATCH) of a library's API v1, at
either tier, with our own hypothesis strategies for what schema-driven fuzzing never sends:

- nesting: bodies and fields nested 1 to 100,000 deep, in lists and objects, balanced or not;
- Unicode: lone surrogates (as `\\uD800` escapes and as raw UTF-8 bytes), zero-width and bidi
  characters, C0/C1 control characters, NUL, astral characters (also as surrogate-pair
  escapes), non-characters and invalid UTF-8;
- numbers: integers around and far past signed 64 bits, negative, with thousands of digits,
  floats standing where integers belong, exponents that overflow, and NaN / Infinity tokens.

Each evil value replaces one or two fields of an otherwise plausible body built from the seeded
data (`tests.schema_fuzz`), so requests get past validation into the services behind it. Every
answer must be below 500 and, when 4xx, the one error shape `{"code", "message", "detail"}`.
Each example runs in a savepoint that is rolled back (as in the schema fuzz).
"""

import json
from collections import Counter
from datetime import timedelta
from urllib.parse import quote

import hypothesis.strategies as st
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from rest_framework.test import APIClient

from shared.domain.status import Action
from tests.schema_fuzz import (  # noqa: F401 - `headers` is the seeded module fixture
    ROLES,
    TARGETS,
    headers,
    rolled_back,
    schema,
)

pytestmark = pytest.mark.django_db

ERROR_KEYS = {"code", "message", "detail"}
DOCUMENT = schema.raw_schema
OPERATIONS = sorted(
    (method.upper(), path)
    for path, item in DOCUMENT["paths"].items()
    for method in item
    if method in ("post", "put", "patch")
)
# ~20 ms a request on this 2-core machine (~50 ms when it is busy): 1,200 requests per tier,
# 25 to 60 s.
FUZZ_BUDGET = 1200
MAX_EXAMPLES = max(10, FUZZ_BUDGET // max(1, len(OPERATIONS)))
STATS: Counter = Counter()

# --- strategies -------------------------------------------------------------------------------


class Raw(str):
    """JSON text written into the body as is (a number token, a deep nest)."""


surrogates = st.integers(0xD800, 0xDFFF).map(chr)
zero_width = st.sampled_from("\u200b\u200c\u200d\u2060\ufeff\u00ad\u180e")
bidi = st.sampled_from("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")
control = st.sampled_from([chr(c) for c in (*range(0x20), 0x7F, *range(0x80, 0xA0))])
astral = st.characters(min_codepoint=0x10000, max_codepoint=0x10FFFF)
noncharacters = st.sampled_from("\ufffe\uffff\ufdd0\U0001fffe\U0010ffff")
evil_char = st.one_of(
    surrogates, zero_width, bidi, control, astral, noncharacters, st.characters(codec="utf-8")
)


@st.composite
def evil_text(draw, base: str = "") -> str:
    """A plausible value with evil characters mixed in, or evil characters alone."""
    junk = "".join(draw(st.lists(evil_char, min_size=1, max_size=8)))
    if not base or draw(st.booleans()):
        return junk
    at = draw(st.integers(0, len(base)))
    return base[:at] + junk + base[at:]


INT64 = 2**63
evil_number = st.one_of(
    st.sampled_from(
        [INT64 - 1, INT64, -INT64, -INT64 - 1, 2**64, 10**30, -(10**30), 0, -1, 2**31, 2**53 + 1]
    ),
    st.integers(),  # hypothesis reaches far past 64 bits on its own
    st.integers(min_value=10**18, max_value=10**40),
    st.sampled_from([1.0, -1.0, 0.5, -0.0, 1e20, 1e308, 9.223372036854776e18, 5e-324]),
    st.sampled_from(
        ["1e400", "-1e400", "1E+999", "9" * 400, "-" + "9" * 5000, "1" + "0" * 400 + ".5"]
    ).map(Raw),
    st.sampled_from(["NaN", "Infinity", "-Infinity"]).map(Raw),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),  # numbers as strings
)


@st.composite
def deep(draw) -> Raw:
    """A value nested `depth` levels deep in lists and objects, balanced or not."""
    depth = draw(st.one_of(st.integers(60, 70), st.integers(1, 3000), st.just(100_000)))
    kinds = draw(st.sampled_from(["list", "object", "mixed"]))
    leaf = draw(st.sampled_from(["1", '"x"', "null", "[]", "{}"]))
    if kinds == "list":
        opens, closes = "[" * depth, "]" * depth
    elif kinds == "object":
        opens, closes = '{"a":' * depth, "}" * depth
    else:
        opens = "".join("[" if i % 2 else '{"a":' for i in range(depth))
        closes = "".join("]" if i % 2 else "}" for i in reversed(range(depth)))
    if draw(st.integers(0, 9)) == 0:
        closes = closes[: len(closes) // 2]  # unbalanced
    return Raw(opens + leaf + closes)


evil_value = st.one_of(
    evil_text(),
    evil_number,
    deep(),
    st.lists(evil_number, min_size=1, max_size=3),
    st.dictionaries(evil_text(), evil_text(), min_size=1, max_size=2),  # evil keys too
)


def plausible() -> dict:
    """Values for the fields the operations take, aimed at the seeded data."""
    today = timezone.localdate()
    first = {k: v[0] for k, v in TARGETS.items() if v}
    return {
        **first,
        "number": "JY9999",
        "valid_from": today.isoformat(),
        "valid_to": (today + timedelta(days=365)).isoformat(),
        "until": (today + timedelta(days=30)).isoformat(),
        "case_completed_at": (timezone.now() - timedelta(minutes=5)).isoformat(),
        "mode": "online",
        "use_cause": "办理食品经营许可变更，核验原证",
        "reason": "核查需要",
        "outcome": "rejected",
        "fields": ["经营项目"],
        "name": "令牌",
        "holder_name": "郑州豫中食品有限公司",
        "pledgee": "中原银行",
        "expected_version": 1,
        "agency_code": first.get("code", ""),
        "items": [{"type_code": first.get("type_code", ""), "number": "PL9"}],
        "ids": [1],
        "stream": "410000",
        "keys": ["410100:x"],
        "scope": "410100",
        "level": 0,
        "prefixes": [],
    }


def _component(operation: dict, media_type: str) -> dict:
    content = operation.get("requestBody", {}).get("content", {})
    ref = content.get(media_type, {}).get("schema", {}).get("$ref", "")
    return DOCUMENT["components"]["schemas"].get(ref.rsplit("/", 1)[-1], {}) if ref else {}


def _properties(operation: dict) -> list[str]:
    component = _component(operation, "application/json")
    return list(component.get("properties", {})) or ["body", "events"]


def _form_only(operation: dict) -> dict:
    """The form fields of an operation that takes multipart only (an upload), else {}."""
    content = operation.get("requestBody", {}).get("content", {})
    if "application/json" in content or "multipart/form-data" not in content:
        return {}
    return _component(operation, "multipart/form-data").get("properties", {})


# The legacy upload's `metadata` field is the issue call's JSON, as a string.
ISSUE_FIELDS = list(
    DOCUMENT["components"]["schemas"].get("LicenseIssueRequest", {}).get("properties", {})
)


def dump(value, *, ensure_ascii: bool) -> bytes:
    """JSON bytes with `Raw` values written as is; lone surrogates as `\\uD800` escapes when
    `ensure_ascii`, else as (invalid) UTF-8 bytes."""
    raws: list[str] = []

    def mark(item):
        if isinstance(item, Raw):
            raws.append(item)
            return f"@@raw{len(raws) - 1}@@"
        if isinstance(item, dict):
            return {k: mark(v) for k, v in item.items()}
        if isinstance(item, list):
            return [mark(v) for v in item]
        return item

    text = json.dumps(mark(value), ensure_ascii=ensure_ascii)
    for index, raw in enumerate(raws):
        text = text.replace(f'"@@raw{index}@@"', raw)
    return text.encode("utf-8", "surrogatepass")


@st.composite
def evil_body(draw, fields: list[str]) -> bytes:
    """A plausible body for `fields` with one or two of them (or a part of one) made evil, or
    a body that is evil as a whole."""
    if draw(st.integers(0, 7)) == 0:
        return dump(draw(st.one_of(deep(), evil_number, evil_text())), ensure_ascii=True)
    values = plausible()
    body = {name: values[name] for name in fields if name in values}
    for name in draw(st.lists(st.sampled_from(fields), min_size=1, max_size=2, unique=True)):
        current = body.get(name)
        if isinstance(current, dict) and current and draw(st.booleans()):
            key = draw(st.sampled_from(sorted(current)))
            current = dict(current)
            current[key] = draw(st.one_of(evil_text(str(current[key])), evil_value))
            body[name] = current
        elif isinstance(current, str) and draw(st.booleans()):
            body[name] = draw(evil_text(current))
        else:
            body[name] = draw(evil_value)
    return dump(body, ensure_ascii=draw(st.booleans()))


PATH_VALUES = {
    "action": [a.value for a in Action],
    "decision": ["approve", "reject"],
}


@st.composite
def evil_form(draw, fields: dict) -> dict:
    """A multipart form for an upload: small files of several kinds, evil text as raw (maybe
    invalid) UTF-8 bytes, and evil JSON in a field that carries JSON."""
    values = plausible()
    form: dict = {}
    for name, spec in fields.items():
        if spec.get("format") == "binary":
            content = draw(
                st.sampled_from([b"%PDF-1.7\n%%EOF\n", b"\x89PNG\r\n\x1a\n", b"PK\x03\x04", b""])
            )
            kind = draw(st.sampled_from(["application/pdf", "image/png", "application/ofd", ""]))
            form[name] = SimpleUploadedFile("scan.bin", content, content_type=kind)
        elif name == "metadata":
            form[name] = draw(evil_body(ISSUE_FIELDS))
        else:
            text = draw(
                st.one_of(evil_text(str(values.get(name, ""))), st.just(str(values.get(name, "x"))))
            )
            form[name] = text.encode("utf-8", "surrogatepass")
    return form


@st.composite
def path_for(draw, template: str) -> str:
    path = template
    while "{" in path:
        name = path[path.index("{") + 1 : path.index("}")]
        seeded = TARGETS.get(name) or PATH_VALUES.get(name) or ["1"]
        value = draw(st.one_of(st.sampled_from(seeded), evil_text(str(seeded[0]))))
        path = path.replace("{" + name + "}", quote(str(value).encode("utf-8", "surrogatepass")))
    return path


# --- the test ---------------------------------------------------------------------------------


@pytest.fixture(scope="module", autouse=True)
def input_fuzz_report(request):
    STATS.clear()
    yield
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if STATS and reporter is not None and capture is not None:
        with capture.global_and_fixture_disabled():
            reporter.write("\n")
            reporter.write_line(
                f"input fuzz ({request.module.__name__}): {sum(STATS.values())} requests, "
                f"{len(OPERATIONS)} operations, {MAX_EXAMPLES} each; "
                f"by status {dict(sorted(STATS.items()))}"
            )


@pytest.mark.parametrize("method,template", OPERATIONS)
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[
        HealthCheck.data_too_large,
        HealthCheck.too_slow,
        HealthCheck.large_base_example,
        HealthCheck.function_scoped_fixture,
    ],
)
@given(data=st.data())
def test_evil_json_never_errors_and_answers_the_error_shape(
    method,
    template,
    headers,  # noqa: F811 - the seeded module fixture imported above
    data,
):
    operation = DOCUMENT["paths"][template][method.lower()]
    role = data.draw(st.sampled_from(ROLES), label="role")
    path = data.draw(path_for(template), label="path")
    auth = {f"HTTP_{k.upper()}": v for k, v in headers[role].items()}
    client = APIClient()
    form_fields = _form_only(operation)
    if form_fields and data.draw(st.booleans(), label="as a form"):
        form = data.draw(evil_form(form_fields), label="form")
        with rolled_back():
            response = client.post(path, form, format="multipart", **auth)  # uploads: POST
    else:
        body = data.draw(evil_body(_properties(operation)), label="body")
        with rolled_back():
            response = client.generic(method, path, body, content_type="application/json", **auth)
    STATS[response.status_code] += 1
    assert response.status_code < 500, (response.status_code, response.content[:500])
    if response.status_code >= 400:
        assert response["Content-Type"].startswith("application/json"), response.content[:200]
        answer = response.json()
        assert set(answer) == ERROR_KEYS, answer
        assert isinstance(answer["code"], str) and answer["code"]
        assert isinstance(answer["message"], str) and answer["message"]
        assert isinstance(answer["detail"], dict)


PAGED = sorted(
    path
    for path, item in DOCUMENT["paths"].items()
    if any(p.get("name") == "limit" for p in item.get("get", {}).get("parameters", []))
)
evil_page = st.one_of(
    evil_number.map(str),
    st.sampled_from(["９" * 30, "0" * 5000 + "1", "1_000", " 7 ", "", "-0", "+5"]),
    evil_text(),
)


@pytest.mark.parametrize("path", PAGED)
@settings(
    max_examples=15,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_evil_paging_never_errors_and_answers_the_error_shape(
    path,
    headers,  # noqa: F811 - the seeded module fixture imported above
    data,
):
    role = data.draw(st.sampled_from(ROLES), label="role")
    query = {
        name: data.draw(evil_page, label=name)
        for name in data.draw(st.sets(st.sampled_from(["limit", "offset"]), min_size=1))
    }
    auth = {f"HTTP_{k.upper()}": v for k, v in headers[role].items()}
    encoded = "&".join(f"{k}={quote(v.encode('utf-8', 'surrogatepass'))}" for k, v in query.items())
    with rolled_back():
        response = APIClient().get(f"{path}?{encoded}", **auth)
    STATS[response.status_code] += 1
    assert response.status_code < 500, (response.status_code, response.content[:500])
    if response.status_code >= 400:
        answer = response.json()
        assert set(answer) == ERROR_KEYS and isinstance(answer["detail"], dict), answer
