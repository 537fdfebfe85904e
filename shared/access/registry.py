"""Base-information comparison at issuance (art. 25): the holder's name and code against the
population registry (公民身份号码, 111) and the legal-entity registry (统一社会信用代码, 001).

`REGISTRY_ADAPTER` picks the adapter: `off` (the demo: no comparison) or `http`, which asks a
registry service at `REGISTRY_URL`:

    GET {REGISTRY_URL}/population/{code}       → 200 {"name": "张伟"} | 404
    GET {REGISTRY_URL}/legal-entities/{code}   → 200 {"name": "…有限公司"} | 404

A mismatch or an unknown holder blocks issuance with a clear error; a registry that does not
answer is a retryable error (503), never a silent pass.
"""

from __future__ import annotations

import json
import unicodedata
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Protocol

from django.conf import settings

from shared.core.errors import PermanentError, RetryableError
from shared.licenses.checks import holder_check_register

REGISTERS = {"111": "population", "001": "legal-entities"}
REGISTER_NAMES = {"111": "人口库", "001": "法人库"}


@dataclass(frozen=True, slots=True, kw_only=True)
class RegistryEntry:
    found: bool
    name: str = ""


class RegistryAdapter(Protocol):
    def lookup(self, *, code: str, code_type: str) -> RegistryEntry | None:
        """The registry's entry for the code; None when no registry covers this code type."""


class OffRegistry:
    def lookup(self, *, code: str, code_type: str) -> RegistryEntry | None:
        return None


class HttpRegistry:
    def __init__(self, base_url: str, timeout: float = 5.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def lookup(self, *, code: str, code_type: str) -> RegistryEntry | None:
        register = REGISTERS.get(code_type)
        if register is None:
            return None
        url = f"{self.base_url}/{register}/{urllib.parse.quote(code, safe='')}"
        request = urllib.request.Request(url, headers={"Accept": "application/json"})  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                body = json.loads(response.read().decode("utf-8"))
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return RegistryEntry(found=False)
            raise _unavailable(f"HTTP {exc.code}") from exc
        except (urllib.error.URLError, TimeoutError, OSError, ValueError) as exc:
            raise _unavailable(type(exc).__name__) from exc
        return RegistryEntry(found=True, name=str(body.get("name", "")))


def _unavailable(why: str) -> RetryableError:
    return RetryableError(
        "registry.unavailable", "人口库/法人库比对服务暂不可用，请稍后重试", {"reason": why}
    )


def registry_adapter() -> RegistryAdapter:
    kind = settings.REGISTRY_ADAPTER
    if kind == "http":
        return HttpRegistry(settings.REGISTRY_URL, settings.REGISTRY_TIMEOUT)
    return OffRegistry()


def same_name(a: str, b: str) -> bool:
    def norm(text: str) -> str:
        return "".join(unicodedata.normalize("NFKC", text).split())

    return norm(a) == norm(b)


def registry_check(*, holder_name: str, holder_code: str, holder_code_type: str) -> None:
    """Raise `holder.registry_not_found` / `holder.registry_mismatch` unless the registry
    agrees with the holder's name for this code (no registry for the code type: passes)."""
    entry = registry_adapter().lookup(code=holder_code, code_type=holder_code_type)
    if entry is None:
        return
    register = REGISTER_NAMES[holder_code_type]
    if not entry.found:
        raise PermanentError(
            "holder.registry_not_found",
            f"{register}中查无此持证主体代码，不能签发",
            {"code_type": holder_code_type},
        )
    if not same_name(entry.name, holder_name):
        raise PermanentError(
            "holder.registry_mismatch",
            f"持证主体名称与{register}登记的名称不一致，不能签发",
            {"code_type": holder_code_type, "given_name": holder_name},
        )


def register() -> None:
    holder_check_register(registry_check)
