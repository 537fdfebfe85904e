"""Client of a provincial sector library (行业电子证照库, art. 9). Pure: no Django.

A sector library answers purpose-bound queries for the licence types its department serves
from its own system: `POST {base_url}/query` with the holder, the matter and the purpose, and
it answers `{"licenses": [...]}`. The hub asks it at query time and copies nothing.
`GET {base_url}/health` answers 2xx while the library is up (the operator's 检测 button).
"""

from dataclasses import dataclass
from typing import Any

import requests


class SectorUnavailableError(Exception):
    """The sector library did not answer, or answered something unusable; the message says
    which, in Chinese first (the hub's operators read it), then the cause as raised."""


def _why(exc: Exception) -> str:
    if isinstance(exc, requests.Timeout):
        label = "响应超时"
    elif isinstance(exc, requests.ConnectionError):
        label = "无法连接"
    elif isinstance(exc, requests.HTTPError) and exc.response is not None:
        label = f"应答 HTTP {exc.response.status_code}"
    elif isinstance(exc, requests.RequestException):
        label = "请求失败"
    else:
        label = "应答格式不正确"
    return f"{label}：{exc}"


@dataclass(frozen=True, slots=True, kw_only=True)
class SectorQuery:
    holder_code: str
    holder_code_type: str
    matter_code: str
    use_cause: str
    requester: str
    type_codes: tuple[str, ...] = ()


class SectorLibraryClient:
    def __init__(
        self, *, base_url: str, token: str = "", timeout: tuple[float, float] = (2.0, 5.0)
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout

    def query(self, query: SectorQuery) -> list[dict[str, Any]]:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        try:
            response = requests.post(
                self.base_url + "/query",
                json={
                    "holder": {"code": query.holder_code, "code_type": query.holder_code_type},
                    "matter_code": query.matter_code,
                    "use_cause": query.use_cause,
                    "requester": query.requester,
                    "type_codes": list(query.type_codes),
                },
                headers=headers,
                timeout=self.timeout,
            )
            response.raise_for_status()
            licenses = response.json()["licenses"]
        except (requests.RequestException, ValueError, KeyError, TypeError) as exc:
            raise SectorUnavailableError(_why(exc)) from exc
        if not isinstance(licenses, list):
            raise SectorUnavailableError("应答格式不正确：licenses 不是列表")
        return [item for item in licenses if isinstance(item, dict)]

    def health(self) -> None:
        """Returns if the library answers its health check (2xx), else raises
        SectorUnavailableError with why."""
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        try:
            response = requests.get(
                self.base_url + "/health", headers=headers, timeout=self.timeout
            )
            response.raise_for_status()
        except requests.RequestException as exc:
            raise SectorUnavailableError(_why(exc)) from exc
