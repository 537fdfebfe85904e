"""Signing staff in to the console in tests: a TOTP device with a known key, and the code it
shows now (RFC 6238, as an authenticator app computes it)."""

from binascii import unhexlify

from django.test import Client
from django_otp.oath import totp

from shared.access.otp import staff_totp_enrol

KEY = "3132333435363738393031323334353637383930"  # RFC 6238's test key, hex
PASSWORD = "Secret-12345"  # tests.support.make_user's


def enrol(user) -> None:
    staff_totp_enrol(actor=None, user=user, key=KEY)


def code_now() -> str:
    return f"{totp(unhexlify(KEY)):06d}"


def wrong_code() -> str:
    return "000000" if code_now() != "000000" else "111111"


def console_client(user, **client_options) -> Client:
    """A test client signed in to the console as `user` (password + one-time code)."""
    enrol(user)
    client = Client(**client_options)
    client.get("/console/login/")  # the form sets the CSRF cookie, as for a browser
    response = client.post(
        "/console/login/",
        {
            "username": user.username,
            "password": PASSWORD,
            "otp_token": code_now(),
            "csrfmiddlewaretoken": client.cookies["csrftoken"].value,
        },
    )
    assert response.status_code == 302, response.content.decode()[:500]
    return client
