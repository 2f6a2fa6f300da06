"""Report settings (``HOMESCOPE_REPORTS_*``): the schedule and the optional SMTP delivery."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ReportSettings(BaseSettings):
    """Validated at start-up, like the collector's own settings."""

    model_config = SettingsConfigDict(env_prefix="HOMESCOPE_REPORTS_", extra="forbid")

    #: How often the collector checks for a due weekly or monthly report (0: never).
    every_s: int = Field(default=3600, ge=0)
    #: Which scheduled reports to produce.
    periods: str = "week,month"
    #: Print a PDF (needs Chromium).
    pdf: bool = True
    #: How long one collector holds a report's lease while producing it.
    lease_s: int = Field(default=1800, ge=60)
    #: SMTP delivery: off while ``smtp_host`` or ``mail_to`` is empty.
    smtp_host: str = ""
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_starttls: bool = False
    smtp_user: str = ""
    smtp_password: str = ""
    mail_from: str = "homescope@localhost"
    #: Recipients, separated by commas.
    mail_to: str = ""

    @property
    def kinds(self) -> list[str]:
        return [k.strip() for k in self.periods.split(",") if k.strip()]

    @property
    def recipients(self) -> list[str]:
        return [a.strip() for a in self.mail_to.split(",") if a.strip()]
