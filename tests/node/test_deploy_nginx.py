"""deploy/nginx: the library's nginx configuration passes `nginx -t`."""

import datetime
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

ROOT = Path(__file__).resolve().parents[2]
NGINX = ROOT / "deploy" / "nginx"


def self_signed(directory: Path) -> None:
    """server.crt/server.key and federation-ca.pem (the same self-signed certificate)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "dzzz.example.gov.cn")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    pem = cert.public_bytes(serialization.Encoding.PEM)
    (directory / "server.crt").write_bytes(pem)
    (directory / "federation-ca.pem").write_bytes(pem)
    (directory / "server.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


def installed(tmp_path: Path, conf: str | None = None) -> Path:
    """A main nginx.conf under tmp_path including elicense.conf with /etc/elicense → tmp_path."""
    etc = tmp_path / "etc"
    (etc / "tls").mkdir(parents=True)
    self_signed(etc / "tls")
    (tmp_path / "logs").mkdir()
    (etc / "nginx-proxy.conf").write_text((NGINX / "nginx-proxy.conf").read_text())
    text = conf if conf is not None else (NGINX / "elicense.conf").read_text()
    (etc / "elicense.conf").write_text(text.replace("/etc/elicense/", f"{etc}/"))
    main = tmp_path / "nginx.conf"
    main.write_text(
        f"pid {tmp_path}/nginx.pid;\n"
        f"error_log {tmp_path}/logs/error.log;\n"
        "events {}\n"
        "http {\n"
        f"    access_log {tmp_path}/logs/access.log;\n"
        f"    client_body_temp_path {tmp_path}/body;\n"
        f"    proxy_temp_path {tmp_path}/proxy;\n"
        f"    include {etc}/elicense.conf;\n"
        "}\n"
    )
    return main


def nginx_t(tmp_path: Path, main: Path) -> subprocess.CompletedProcess:
    nginx = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/sbin")
    assert nginx, "nginx is installed by deploy/system-packages.sh (nginx-light)"
    return subprocess.run(
        [
            nginx,
            "-t",
            "-p",
            str(tmp_path),
            "-e",
            str(tmp_path / "logs" / "error.log"),
            "-c",
            str(main),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_configuration_passes_nginx_t(tmp_path):
    result = nginx_t(tmp_path, installed(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr
    assert "[warn]" not in result.stderr, result.stderr


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("ssl_verify_client on;", "ssl_verify_client sometimes;"),
        ("limit_req zone=elicense_verify", "limit_req zone=nowhere"),
        ("/etc/elicense/tls/server.key", "/etc/elicense/tls/missing.key"),
    ],
)
def test_nginx_t_catches_a_broken_configuration(tmp_path, old, new):
    original = (NGINX / "elicense.conf").read_text()
    assert old in original
    result = nginx_t(tmp_path, installed(tmp_path, original.replace(old, new, 1)))
    assert result.returncode != 0


def _server(text: str, port: str) -> str:
    """The server block listening on `port`."""
    blocks = text.split("\nserver {")
    return next(b for b in blocks if f"listen {port} " in b or f"listen {port};" in b)


def test_mtls_guards_the_exchange_only():
    text = (NGINX / "elicense.conf").read_text()
    exchange = _server(text, "8443")
    public = _server(text, "443")
    assert "ssl_verify_client on;" in exchange
    assert "ssl_verify_client" not in public
    assert "location /api/v1/exchange/ {\n        proxy_pass" in exchange
    assert "location /api/v1/federation/ {\n        proxy_pass" in exchange
    # the public listener never proxies the exchange
    assert "location /api/v1/exchange/ {\n        return 403;" in public
    assert "location /api/v1/federation/ {\n        return 403;" in public


def test_the_public_verify_paths_are_rate_limited():
    public = _server((NGINX / "elicense.conf").read_text(), "443")
    for path in ("/api/v1/public/verify/", "/v/"):
        block = public.split(f"location {path} {{", 1)[1].split("}", 1)[0]
        assert "limit_req zone=elicense_verify" in block, path
    assert "location /static/" in public
