"""The console across the tiers, in a real headless Chromium against real processes (a hub and
郑州's node, each its own gunicorn and Celery worker, over loopback HTTP): the seeded issuer
signs in with password and one-time code, issues a licence to the demo holder 张伟 through the
generated form (after its inline error for a bad holder code), takes a QR token, uploads a
bulk CSV with one bad row and watches the node's worker take the progress bar to 100 %, and
suspends the licence; the hub's operator sees the change arrive on the dashboard and the city
drill-down; the consumer queries the licence, the public /v/ page reads 暂扣, and the holder
sees the consumer's query under 谁使用了我的证照."""

import base64
import csv
import html
import io
import re
from datetime import timedelta

from django.utils import timezone
from django_otp.oath import totp
from playwright.sync_api import expect

from tests.console_browser import chromium, nav, sign_in  # noqa: F401
from tests.federation.harness import Library
from tests.support import make_uscc

CAUSE = "办理个体工商户变更登记，核验营业执照（联邦浏览器测试）"
SUSPEND_REASON = "经营场所与登记不符，责令整改"
NEXT_DD = "xpath=following-sibling::dd[1]"  # a <dt>'s value


def what_failed(page: str) -> str:
    """A Django error page's title and exception (its first 2,000 characters are CSS)."""
    pattern = r'<title>(.*?)</title>|class="exception_value">(.*?)</pre>'
    found = [
        html.unescape(m.group(1) or m.group(2)).strip() for m in re.finditer(pattern, page, re.S)
    ]
    return " | ".join(found) or page[:2000]


def one_time_code(secret: str) -> str:
    """RFC 6238 from the base32 secret in the credentials file (as `deploy/demo.py code`)."""
    return f"{totp(base64.b32decode(secret + '=' * (-len(secret) % 8))):06d}"


def secret_of(lib: Library, username: str) -> str:
    creds = lib.credentials()
    people = [*creds["console"]["users"], creds["holder"]]
    return next(p["totp_secret"] for p in people if p["username"] == username)


class Browsing:
    """Pages with a context (own cookies) per person; any 5xx answer is remembered."""

    def __init__(self, browser):
        self.browser = browser
        self.contexts: list = []
        self.server_errors: list[str] = []

    def page(self, lib: Library):
        context = self.browser.new_context(base_url=lib.url, locale="zh-CN")
        # 30 s: `make test` runs this beside two busy pytest-xdist suites on two cores, where one
        # POST was seen to take more than 15 s
        context.set_default_timeout(30_000)
        self.contexts.append(context)
        page = context.new_page()
        page.on(
            "response",
            lambda r: self.server_errors.append(f"{r.status} {r.url}") if r.status >= 500 else None,
        )
        return page

    def staff(self, lib: Library, username: str):
        page = self.page(lib)
        creds = lib.credentials()
        sign_in(page, username, one_time_code(secret_of(lib, username)), creds["password"])
        expect(page.get_by_test_id("username")).to_have_text(username)
        return page

    def close(self) -> None:
        for context in self.contexts:
            context.close()


def issue_to_the_holder(page, holder: dict, type_name: str, matter: str) -> str:
    nav(page, "证照目录").click()
    page.get_by_role("row", name=type_name).get_by_role("link", name="签发").click()
    page.get_by_label("证照编号（照面打印的编号）").fill("FB4101000000001")
    page.locator("#f-matter_code").select_option(matter)
    page.get_by_label("持证主体名称").fill(holder["name"])
    page.get_by_label("持证主体代码类型").select_option("111")
    code = holder["holder_code"]
    wrong = code[:-1] + ("0" if code[-1] != "0" else "1")
    page.get_by_label("持证主体代码", exact=False).last.fill(wrong)
    surface = {
        "名称": "郑州市金水区张伟便民超市",
        "类型": "个体工商户",
        "经营者": holder["name"],
        "组成形式": "个人经营",
        "经营场所": "郑州市金水区花园路 88 号",
        "经营范围": "日用百货零售",
        "注册日期": timezone.localdate().isoformat(),
    }
    for name, value in surface.items():
        page.locator(f'[name="surface__{name}"]').fill(value)
    page.get_by_role("button", name="签发", exact=True).click()
    # refused by the server, the reason beside the field
    expect(page.get_by_test_id("holder-code-error")).to_contain_text("校验位错误")
    page.get_by_label("持证主体代码", exact=False).last.fill(code)
    page.get_by_role("button", name="签发", exact=True).click()
    expect(page.get_by_test_id("status")).to_have_text("有效")
    return page.get_by_test_id("identifier").inner_text()


def bulk_rows(header: list[str], matter: str, rows: int, bad: int) -> dict:
    today = timezone.localdate()
    fixed = {
        "持证主体代码类型": "001",
        "有效期起始": today.isoformat(),
        "有效期截止": (today + timedelta(days=365)).isoformat(),
        "办结时间": (timezone.localtime() - timedelta(hours=1)).strftime("%Y-%m-%d %H:%M"),
        "事项编码": matter,
    }
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for i in range(rows):
        values = fixed | {
            "证照编号": f"FBB{i:05d}",
            "持证主体名称": f"联邦批量企业{i}",
            "持证主体代码": make_uscc(dept="91", area="410100", body=f"FB{i:06d}"),
        }
        writer.writerow(
            [values.get(h, "" if (i == bad and h == "经营者名称") else f"值{i}") for h in header]
        )
    return {"name": "rows.csv", "mimeType": "text/csv", "buffer": out.getvalue().encode()}


def upload_with_one_bad_row(page, type_code: str, matter: str) -> None:
    nav(page, "批量签发").click()
    with page.expect_download() as template:
        page.get_by_role("listitem").filter(has_text=type_code).get_by_role(
            "link", name="下载 CSV 模板"
        ).click()
    header = next(csv.reader(io.StringIO(template.value.path().read_text(encoding="utf-8-sig"))))
    page.get_by_label("证照类型").select_option(type_code)
    page.get_by_label("CSV 或 XLSX 文件").set_input_files(bulk_rows(header, matter, 4, bad=2))
    page.get_by_role("button", name="上传并签发").click()
    # bulk.js follows the batch the node's Celery worker is issuing
    expect(page.get_by_test_id("batch-percent")).to_have_text("100%", timeout=60_000)
    expect(page.locator("#batch-progress")).to_have_attribute("value", "100")
    expect(page.get_by_test_id("batch-succeeded")).to_have_text("3")
    expect(page.get_by_test_id("batch-failed")).to_have_text("1")
    row = page.locator("#batch-errors tr")
    expect(row).to_have_count(1)
    expect(row.locator("td").first).to_have_text("4")  # the file's line: header, rows 0–2
    expect(row).to_contain_text("经营者名称")


def test_issue_bulk_suspend_then_hub_consumer_qr_and_holder_see_it(federation, chromium):  # noqa: F811
    hub, node = federation["hub"], federation["410100"]
    creds = node.credentials()
    holder = creds["holder"]
    personal, food = creds["consumer"]["grants"][1], creds["consumer"]["grants"][0]
    type_name = node.sql(
        "SELECT name FROM catalog_licensetype WHERE type_code = %s", (personal["type_code"],)
    )[0][0]
    browsing = Browsing(chromium)
    try:
        # 1–2. the issuer signs in with password + one-time code and issues through the form
        counter = browsing.staff(node, creds["issuer"]["username"])
        identifier = issue_to_the_holder(counter, holder, type_name, personal["matter_code"])
        assert node.sql(
            "SELECT count(*) FROM licenses_license WHERE number = 'FB4101000000001'"
        ) == [(1,)]
        # the answer itself is asserted (CI once saw no QR page within 30 s, and the logs that
        # would have said why were cut from its output): its status and how long it took
        with counter.expect_response(
            lambda r: r.url.endswith("/qr/") and r.request.method == "POST", timeout=60_000
        ) as answer:
            counter.get_by_role("button", name="生成二维码（新令牌，记入用证记录）").click()
        assert answer.value.status == 200, (answer.value.status, what_failed(answer.value.text()))
        qr_url = counter.get_by_test_id("qr-url").inner_text()
        # HTTP://HOST/V/<TOKEN>, upper case for the QR's alphanumeric mode
        assert qr_url.startswith(node.url.upper() + "/V/"), qr_url
        token = qr_url.rsplit("/", 1)[1]
        # 3. a bulk file with one bad row, issued by the node's worker
        upload_with_one_bad_row(counter, food["type_code"], food["matter_code"])
        # 4. suspend, behind the confirmation, with a reason
        counter.goto(f"/console/licences/{identifier}/")
        counter.get_by_role("link", name="暂扣").click()
        expect(counter.get_by_role("heading", name="确认暂扣")).to_be_visible()
        counter.get_by_label("暂扣原因").fill(SUSPEND_REASON)
        counter.get_by_role("button", name="确认暂扣").click()
        expect(counter.get_by_test_id("status")).to_have_text("暂扣")
        last_seq = node.sql("SELECT max(seq) FROM federation_outboxevent WHERE stream = '410000'")
        released = node.count("library_code = '410100' AND status NOT IN ('pending', 'returned')")

        # 5. the hub's operator: the dashboard, then 郑州 until its high-water mark is the node's
        watch = browsing.staff(hub, hub.credentials()["admin"]["username"])
        nav(watch, "汇聚总览").click()
        zhengzhou = watch.locator('section[data-city="410100"]')
        expect(zhengzhou.locator("dt", has_text="最近事件").locator(NEXT_DD)).not_to_have_text("—")
        zhengzhou.get_by_role("link").first.click()
        mark = watch.locator("dt", has_text="高水位").locator(NEXT_DD)

        def caught_up() -> bool:  # the node keeps writing (its files' `file.ready`): at least
            text = mark.inner_text()
            return text.isdigit() and int(text) >= last_seq[0][0]

        for _ in range(60):  # a bounded poll: the sweep delivers every second
            if caught_up():
                break
            watch.wait_for_timeout(500)
            watch.reload()
        assert caught_up(), (mark.inner_text(), last_seq)
        expect(watch.locator("dt", has_text="汇聚证照").locator(NEXT_DD)).to_contain_text(
            f"{released}（"
        )
        # nothing refused or dead-lettered (滞后 is allowed: the new files may still be fetched)
        expect(watch.locator("h1 .tag")).not_to_have_text("异常")
        assert hub.sql(
            "SELECT status FROM licenses_license WHERE identifier = %s", (identifier,)
        ) == [("suspended",)]

        # 6. the consumer's purpose-bound query shows it suspended
        desk = browsing.staff(node, creds["consumer"]["username"])
        nav(desk, "用证查询").click()
        desk.get_by_label("持证主体代码类型").select_option("111")
        desk.locator("#f-holder_code").fill(holder["holder_code"])
        desk.get_by_label("办理事项").select_option(personal["matter_code"])
        desk.get_by_label("用证事由").fill(CAUSE)
        desk.get_by_role("button", name="查询").click()
        found = desk.get_by_test_id("query-result").get_by_role("row").filter(has_text=identifier)
        expect(found).to_contain_text("暂扣")

        # 7. the QR's public page reads 暂扣
        public = browsing.page(node)
        public.goto(f"/v/{token}")
        expect(public.locator("dt", has_text="当前状态").locator(NEXT_DD)).to_have_text("暂扣")
        expect(public.locator("dt", has_text="证照标识").locator(NEXT_DD)).to_have_text(identifier)

        # 8. the holder signs in and sees that query among the uses of their licences
        mine = browsing.page(node)
        mine.goto("/")
        mine.get_by_role("link", name="登录持证人服务").click()
        mine.get_by_label("用户名").fill(holder["username"])
        mine.get_by_label("密码").fill(holder["password"])
        mine.get_by_label("动态口令").fill(one_time_code(holder["totp_secret"]))
        mine.get_by_role("button", name="登录").click()
        expect(
            mine.get_by_test_id("licences").get_by_role("row").filter(has_text=identifier)
        ).to_contain_text("暂扣")
        # one row per licence the query returned (the holder has the seeded one too)
        used = (
            mine.get_by_test_id("accesses")
            .get_by_role("row")
            .filter(has_text=CAUSE)
            .filter(has_text=identifier)
        )
        expect(used).to_contain_text(creds["consumer"]["agency_code"])
        expect(used).to_contain_text(creds["consumer"]["username"])
        assert browsing.server_errors == []
    finally:
        print("5xx answers seen:", browsing.server_errors)  # shown when the test fails
        browsing.close()
