"""Queries to the provincial sector libraries, answered live at the hub (art. 9).

Their licences are never stored here nor sent to cities: each answer item says which library it
came from, and a library that does not answer is named in `unavailable` instead of failing the
whole query.
"""

from provincial_hub.aggregation.models import SectorLibrary
from shared.access.sources import SectorAnswer
from shared.exchange.sector import SectorLibraryClient, SectorQuery, SectorUnavailableError


def sector_query(
    *,
    holder_code: str,
    holder_code_type: str,
    matter_code: str,
    use_cause: str,
    requester: str,
    type_codes: list[str] | None = None,
) -> SectorAnswer:
    answer = SectorAnswer()
    for library in SectorLibrary.objects.filter(active=True).order_by("code"):
        wanted = [t for t in library.type_codes if not type_codes or t in type_codes]
        if not wanted:
            continue
        client = SectorLibraryClient(base_url=library.base_url, token=library.token)
        try:
            items = client.query(
                SectorQuery(
                    holder_code=holder_code,
                    holder_code_type=holder_code_type,
                    matter_code=matter_code,
                    use_cause=use_cause,
                    requester=requester,
                    type_codes=tuple(wanted),
                )
            )
        except SectorUnavailableError:
            answer.unavailable.append(library.code)
            continue
        for item in items:
            if item.get("type_code") in wanted:
                answer.licenses.append(
                    item
                    | {
                        "library_code": library.code,
                        "library_name": library.name,
                        "source": "sector",
                    }
                )
    return answer
