"""The exchange client presents its client certificate to nginx's mTLS listener (issue #16).

Real nginx with deploy/nginx/elicense.conf (ports moved to free ones, the upstream pointed at
pytest-django's live server), a generated federation CA, a server certificate and client
certificates; the real client (`adapter_for`, `HttpDigests`) calls this library through it.
"""

import ast
import datetime
import ipaddress
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from django.core.exceptions import ImproperlyConfigured

from shared.core.errors import RetryableError
from shared.exchange.adapters import PermanentExchangeError, RetryableExchangeError
from shared.federation.keys import export_public, peer_register
from shared.federation.reconciliation import HttpDigests
from shared.federation.tls import exchange_tls
from shared.federation.transport import adapter_for

ROOT = Path(__file__).resolve().parents[2]
NGINX = ROOT / "deploy" / "nginx"


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _issue(
    cn: str,
    *,
    ca: tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None,
    server: bool = False,
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """A CA (ca=None) or a leaf signed by `ca`: a server certificate for 127.0.0.1 or a client
    certificate."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(ca[0].subject if ca else _name(cn))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca is None, path_length=None), critical=True)
    )
    if ca is None:
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        ).add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    else:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca[1].public_key()),
            critical=False,
        ).add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        if server:
            builder = builder.add_extension(
                x509.SubjectAlternativeName(
                    [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
                ),
                critical=False,
            )
    return builder.sign(ca[1] if ca else key, hashes.SHA256()), key


def _write(directory: Path, name: str, pair: tuple[x509.Certificate, ec.EllipticCurvePrivateKey]):
    (directory / f"{name}.crt").write_bytes(pair[0].public_bytes(serialization.Encoding.PEM))
    (directory / f"{name}.key").write_bytes(_pem_key(pair[1]))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _nginx_conf(etc: Path, upstream: str, ports: dict[str, int]) -> str:
    """deploy/nginx/elicense.conf with /etc/elicense → etc, the three listeners on free loopback
    ports (no IPv6 listeners) and the upstream at the live server."""
    text = (NGINX / "elicense.conf").read_text().replace("/etc/elicense/", f"{etc}/")
    replacements = {
        "server 127.0.0.1:8000 ": f"server {upstream} ",
        "    listen 80;\n": f"    listen 127.0.0.1:{ports['http']};\n",
        "    listen 443 ssl http2;\n": f"    listen 127.0.0.1:{ports['https']} ssl http2;\n",
        "    listen 8443 ssl;\n": f"    listen 127.0.0.1:{ports['exchange']} ssl;\n",
    }
    for old, new in replacements.items():
        assert old in text, old
        text = text.replace(old, new)
    return "\n".join(line for line in text.splitlines() if "listen [::]" not in line)


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> Path:
    """The federation CA, nginx's server certificate, this library's client certificate and one
    from a CA nginx does not trust."""
    directory = tmp_path_factory.mktemp("pki")
    ca = _issue("河南省电子证照联邦 CA (test)", ca=None)
    _write(directory, "ca", ca)
    _write(directory, "server", _issue("127.0.0.1", ca=ca, server=True))
    _write(directory, "client", _issue("410100", ca=ca))
    _write(directory, "rogue", _issue("410100", ca=_issue("someone else's CA", ca=None)))
    return directory


@pytest.fixture(scope="module")
def exchange_url(live_server, pki, tmp_path_factory):
    """nginx in front of the live server; the URL of its mTLS exchange listener."""
    nginx = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/sbin")
    assert nginx, "nginx is installed by deploy/system-packages.sh (nginx-light)"
    prefix = tmp_path_factory.mktemp("nginx")
    etc = prefix / "etc"
    (etc / "tls").mkdir(parents=True)
    (prefix / "logs").mkdir()
    for src, dst in (("server.crt", "server.crt"), ("server.key", "server.key")):
        shutil.copy(pki / src, etc / "tls" / dst)
    shutil.copy(pki / "ca.crt", etc / "tls" / "federation-ca.pem")
    shutil.copy(NGINX / "nginx-proxy.conf", etc / "nginx-proxy.conf")
    ports = {"http": _free_port(), "https": _free_port(), "exchange": _free_port()}
    upstream = live_server.url.removeprefix("http://")
    (etc / "elicense.conf").write_text(_nginx_conf(etc, upstream, ports))
    main = prefix / "nginx.conf"
    main.write_text(
        f"pid {prefix}/nginx.pid;\nerror_log {prefix}/logs/error.log;\nevents {{}}\n"
        f"http {{\n    access_log {prefix}/logs/access.log;\n"
        f"    client_body_temp_path {prefix}/body;\n    proxy_temp_path {prefix}/proxy;\n"
        f"    include {etc}/elicense.conf;\n}}\n"
    )
    process = subprocess.Popen(  # noqa: S603
        [
            nginx,
            "-p",
            str(prefix),
            "-c",
            str(main),
            "-e",
            str(prefix / "logs/error.log"),
            "-g",
            "daemon off;",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", ports["exchange"]), timeout=0.5).close()
            break
        except OSError:
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            assert time.monotonic() < deadline, "nginx did not start listening"
            time.sleep(0.1)
    yield f"https://127.0.0.1:{ports['exchange']}", prefix / "logs" / "access.log"
    process.terminate()
    process.wait(timeout=20)


@pytest.fixture
def peer(transactional_db, exchange_url):
    """This library registered as its own peer behind nginx: the client signs its tokens with
    its exchange key and the server verifies them with the same key, so a call that gets past
    nginx is answered 200 by Django."""
    exported = export_public()
    return peer_register(
        code=exported["code"],
        kid=exported["kid"],
        public_key_pem=exported["public_key_pem"],
        base_url=exchange_url[0],
    )


def _tls(settings, pki: Path, *, cert: str = "client", ca: bool = True) -> None:
    settings.EXCHANGE_TLS_CLIENT_CERT = str(pki / f"{cert}.crt") if cert else ""
    settings.EXCHANGE_TLS_CLIENT_KEY = str(pki / f"{cert}.key") if cert else ""
    settings.EXCHANGE_TLS_CA_BUNDLE = str(pki / "ca.crt") if ca else ""


def _access_lines(access_log: Path, count: int) -> list[str]:
    """The log's lines once there are `count` of them: nginx writes a line after the answer has
    gone, so under load the client can read the log before it (seen in a full run)."""
    deadline = time.monotonic() + 5
    while True:
        lines = access_log.read_text().strip().splitlines()
        if len(lines) >= count or time.monotonic() > deadline:
            return lines
        time.sleep(0.05)


def test_with_the_client_certificate_the_exchange_calls_get_through(
    settings, pki, peer, exchange_url
):
    # given this library's certificate from the federation CA
    _tls(settings, pki)
    access_log = exchange_url[1]
    before = len(access_log.read_text().strip().splitlines())
    # when the relay asks for the receiver's mark and reconciliation for its digests
    mark = adapter_for(peer).status()
    digests = HttpDigests(peer, scope=peer.code).digests(0, [])
    # then Django answered both, through nginx's mTLS listener
    assert mark == 0
    assert digests == {}
    status_line, digests_line = _access_lines(access_log, before + 2)[before:]
    assert f'"GET /api/v1/federation/status?node={peer.code} HTTP/1.1" 200' in status_line
    assert '"POST /api/v1/federation/digests/ HTTP/1.1" 200' in digests_line


@pytest.mark.parametrize(
    ("cert", "nginx_says"),
    [
        ("", "No required SSL certificate was sent"),
        ("rogue", "The SSL certificate error"),
    ],
)
def test_without_a_certificate_from_the_federation_ca_nginx_refuses(
    settings, pki, peer, exchange_url, cert, nginx_says
):
    # given no client certificate, or one from a CA nginx does not trust
    _tls(settings, pki, cert=cert)
    access_log = exchange_url[1]
    before = access_log.read_text()
    # when the relay calls the receiver, and reconciliation asks for digests
    with pytest.raises(PermanentExchangeError) as refused:
        adapter_for(peer).status()
    with pytest.raises(RetryableError) as unreachable:
        HttpDigests(peer, scope=peer.code).digests(0, [])
    # then nginx answered 400 itself both times: nothing reached Django
    assert refused.value.code == "http.400"
    assert unreachable.value.code == "federation.peer_unreachable"
    assert "400 Client Error" in unreachable.value.message
    new = _access_lines(access_log, len(before.strip().splitlines()) + 2)[
        len(before.strip().splitlines()) :
    ]
    assert len(new) == 2
    assert all('" 400 ' in line for line in new), new
    # nginx's own page says why (the same TLS arguments, the body read this time)
    page = requests.get(
        peer.base_url + "/api/v1/federation/status?node=" + peer.code, timeout=5, **exchange_tls()
    )
    assert page.status_code == 400
    assert nginx_says in page.text


def test_the_ca_bundle_verifies_the_receiver(settings, pki, peer):
    # given the client certificate but the system trust store, which lacks the federation CA
    _tls(settings, pki, ca=False)
    # when the relay calls the receiver
    with pytest.raises(RetryableExchangeError) as unreachable:
        adapter_for(peer).status()
    # then the receiver's certificate was refused by the client: retryable, never sent
    assert unreachable.value.code == "exchange.unreachable"
    assert "CERTIFICATE_VERIFY_FAILED" in unreachable.value.message


def test_a_key_without_its_certificate_is_refused(settings, pki):
    settings.EXCHANGE_TLS_CLIENT_CERT = ""
    settings.EXCHANGE_TLS_CLIENT_KEY = str(pki / "client.key")
    with pytest.raises(ImproperlyConfigured, match="EXCHANGE_TLS_CLIENT_CERT"):
        exchange_tls()


def test_unset_settings_send_no_certificate_and_trust_the_system_store(settings):
    settings.EXCHANGE_TLS_CLIENT_CERT = ""
    settings.EXCHANGE_TLS_CLIENT_KEY = ""
    settings.EXCHANGE_TLS_CA_BUNDLE = ""
    assert exchange_tls() == {"cert": None, "verify": True}
    settings.EXCHANGE_TLS_CLIENT_CERT = "/etc/elicense/tls/client.pem"
    assert exchange_tls() == {"cert": "/etc/elicense/tls/client.pem", "verify": True}


# Every module that calls another library (it signs a request token or a JSON body for one).
INTER_LIBRARY = {
    "shared/federation/transport.py",
    "shared/federation/reconciliation.py",
    "municipal_node/uplink/trust.py",
    "municipal_node/uplink/restore.py",
    "municipal_node/uplink/share.py",
    "provincial_hub/aggregation/files.py",
    "provincial_hub/aggregation/reconciliation.py",
}
HTTP_CALLS = {"get", "post", "put", "patch", "delete", "request", "Session"}


def _calls(tree: ast.AST, owner: str):
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and (
                (isinstance(node.func.value, ast.Name) and node.func.value.id == owner)
                or (isinstance(node.func.value, ast.Attribute) and node.func.value.attr == owner)
            )
        ):
            yield node


def _passes_tls(call: ast.Call) -> bool:
    return any(
        kw.arg is None
        and isinstance(kw.value, ast.Call)
        and isinstance(kw.value.func, ast.Name)
        and kw.value.func.id == "exchange_tls"
        for kw in call.keywords
    )


def test_every_inter_library_call_presents_the_certificate():
    callers = set()
    for tier in ("shared", "municipal_node", "provincial_hub"):
        for path in (ROOT / tier).rglob("*.py"):
            text = path.read_text()
            if (
                "signed_json(" in text or "request_token(" in text
            ) and "def request_token" not in text:
                callers.add(str(path.relative_to(ROOT)))
    # a new caller must be added above (and pass the TLS arguments); trust.py fetches the
    # hub's trust list, unsigned, from the exchange listener
    assert callers == INTER_LIBRARY - {"municipal_node/uplink/trust.py"}
    bare = []
    for name in sorted(INTER_LIBRARY):
        tree = ast.parse((ROOT / name).read_text())
        for owner in ("requests", "session"):
            for call in _calls(tree, owner):
                attr = call.func.attr  # type: ignore[attr-defined]
                if attr in HTTP_CALLS - {"Session"} and not _passes_tls(call):
                    bare.append(f"{name}:{call.lineno} {owner}.{attr}")
        adapters = [
            c
            for c in ast.walk(tree)
            if isinstance(c, ast.Call)
            and isinstance(c.func, ast.Name)
            and c.func.id == "HttpAdapter"
        ]
        bare += [f"{name}:{c.lineno} HttpAdapter" for c in adapters if not _passes_tls(c)]
    assert bare == []
