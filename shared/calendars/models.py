"""The operator-edited override table of the working-day calendar (DESIGN §4)."""

from django.db import models


class WorkdayOverride(models.Model):
    """One date whose working-day status the operator sets by hand (wins over the package)."""

    day = models.DateField("日期", unique=True)
    is_workday = models.BooleanField("是否工作日")
    note = models.CharField("说明", max_length=200, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "工作日调整"
        verbose_name_plural = "工作日调整"
        ordering = ["day"]

    def __str__(self) -> str:
        return f"{self.day}: {'工作日' if self.is_workday else '休息日'}"
