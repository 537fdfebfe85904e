from django.contrib import admin

from provincial_hub.aggregation.models import Witness
from shared.access.admin import ReadOnlyAdmin


@admin.register(Witness)
class WitnessAdmin(ReadOnlyAdmin):
    list_display = ("node_code", "tree_size", "status", "problem", "received_at")
    list_filter = ("status", "node_code")
