"""The landing page at `/` of a city node (issue #15 item 7): what this library is, each role's
sign-in, the public QR verifier; the demo's accounts only while the demo's setting is on."""

import json

import pytest
from django.conf import settings
from django.test import Client

pytestmark = pytest.mark.django_db


def test_the_node_landing_page_says_which_library_and_links_each_sign_in():
    page = Client().get("/").content.decode()
    assert settings.LIBRARY_NAME in page and "市级节点" in page
    assert f'data-testid="library-code">{settings.LIBRARY_CODE}<' in page
    assert 'href="/console/login/"' in page and "登录管理控制台" in page
    assert 'href="/holder/login/"' in page and "登录持证人服务" in page
    assert 'action="/verify/"' in page and '<label for="q">' in page
    assert "演示账户" not in page  # the demo's setting is off


def test_the_verifier_opens_the_verify_page_of_a_pasted_url_or_token():
    client = Client()
    pasted = client.get("/verify/", {"q": " http://127.0.0.1:8001/V/ABCDEFGH1234 "})
    assert pasted.status_code == 302 and pasted.url == "/v/ABCDEFGH1234"
    bare = client.get("/verify/", {"q": "abcdefgh-1234_XY"})
    assert bare.status_code == 302 and bare.url == "/v/abcdefgh-1234_XY"


def test_the_verifier_explains_what_it_needs_when_nothing_is_a_token():
    response = Client().get("/verify/", {"q": "不是网址"})
    assert response.status_code == 400
    page = response.content.decode()
    assert "请粘贴证照二维码中的核验网址" in page and 'aria-invalid="true"' in page


@pytest.fixture
def demo_credentials(settings, tmp_path):
    path = tmp_path / "410100.json"
    path.write_text(
        json.dumps(
            {
                "password": "Demo-secret-1",
                "issuer": {"token": "tok-issuer-secret", "username": "zz_scj_staff"},
                "console": {
                    "users": [
                        {
                            "username": "zz_scj_staff",
                            "role": "staff",
                            "agency_name": "郑州市市场监督管理局",
                            "totp_secret": "TOTPSECRETVALUE",
                        },
                        {"username": "zz_admin", "role": "library_admin", "agency_name": ""},
                    ]
                },
                "holder": {"username": "zz_holder", "totp_secret": "HOLDERSECRET"},
            }
        ),
        encoding="utf-8",
    )
    settings.DEMO_CREDENTIALS_FILE = str(path)
    return path


def test_in_the_demo_the_landing_page_lists_the_accounts_but_no_secret(demo_credentials):
    page = Client().get("/").content.decode()
    assert 'data-testid="demo-accounts"' in page
    assert "zz_scj_staff" in page and "经办人员" in page and "郑州市市场监督管理局" in page
    assert "zz_admin" in page and "库管理员" in page
    assert "zz_holder" in page and "持证人" in page
    assert "deploy/demo.py code 410100" in page
    for secret in ("Demo-secret-1", "tok-issuer-secret", "TOTPSECRETVALUE", "HOLDERSECRET"):
        assert secret not in page


def test_production_refuses_the_demo_setting():
    from shared.conf.env import ImproperlyConfiguredError
    from shared.conf.production import check_production_settings

    with pytest.raises(ImproperlyConfiguredError) as refused:
        check_production_settings({"DEMO_CREDENTIALS_FILE": "/var/demo/credentials/410100.json"})
    assert "DEMO_CREDENTIALS_FILE" in str(refused.value)
