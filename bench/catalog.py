"""The licence type the benchmarks issue under: 国家市场监督管理总局's food-business licence,
issued by a city agency, published (call after `django.setup()`)."""

from typing import Any

# A surface of one free-text field: what the benchmarks that do not render fill in.
ONE_FIELD = {"type": "object", "properties": {"经营者名称": {"type": "string"}}}


def food_licence_type(*, actor: Any, surface_schema: dict, **extra: Any) -> Any:
    from shared.catalog import services as catalog
    from shared.demo.data import make_uscc

    license_type = catalog.license_type_create(
        actor=actor,
        type_code=make_uscc(dept="11", area="100000", body="00000013") + "001",
        name="食品经营许可证",
        definer_name="国家市场监督管理总局",
        definer_level="national",
        issuer_level="city",
        holder_category="legal",
        validity_max_days=1827,
        related_matters=[{"code": "M0001", "name": "食品经营许可"}],
        surface_schema=surface_schema,
        **extra,
    )
    catalog.license_type_publish(actor=actor, license_type=license_type)
    return license_type
