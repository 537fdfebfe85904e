"""Other sources the share query asks besides this library (art. 9): the provincial sector
libraries, which only the hub reaches. The hub registers its source in its AppConfig.ready;
elsewhere the query asks nobody else and the answer is empty."""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class SectorAnswer:
    """Licences from other libraries (each item names its library) and the libraries that did
    not answer: they are named here instead of failing the whole query."""

    licenses: list[dict[str, Any]] = field(default_factory=list)
    unavailable: list[str] = field(default_factory=list)


SectorSource = Callable[..., SectorAnswer]
_source: SectorSource | None = None


def sector_source_register(source: SectorSource) -> None:
    global _source
    _source = source


def sector_query(
    *,
    holder_code: str,
    holder_code_type: str,
    matter_code: str,
    use_cause: str,
    requester: str,
    type_codes: list[str] | None = None,
) -> SectorAnswer:
    if _source is None:
        return SectorAnswer()
    return _source(
        holder_code=holder_code,
        holder_code_type=holder_code_type,
        matter_code=matter_code,
        use_cause=use_cause,
        requester=requester,
        type_codes=type_codes,
    )
