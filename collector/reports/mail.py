"""Reports by e-mail: a short text, the HTML as the body's alternative, the PDF attached.

Plain ``smtplib`` in a thread (the event loop keeps ingesting); STARTTLS and a login when
configured. Failures raise :class:`MailError` with the server's answer.
"""

from __future__ import annotations

import asyncio
import smtplib
from email.message import EmailMessage

from collector.reports.build import HTML, PDF, Built
from collector.reports.settings import ReportSettings


class MailError(RuntimeError):
    """The report could not be handed to the SMTP server."""


def message(built: Built, settings: ReportSettings) -> EmailMessage:
    """The e-mail of one report."""
    p = built.report.period
    h = built.report.headline
    msg = EmailMessage()
    msg["Subject"] = f"homescope report: {p.title}"
    msg["From"] = settings.mail_from
    msg["To"] = ", ".join(settings.recipients)
    msg.set_content(
        f"homescope report {p.name} ({p.first} to {p.last}).\n"
        f"Gateways reporting: {h.get('gateways')}; availability {h.get('availability_pct')} %;"
        f" mean Wi-Fi score {h.get('wifi_score')}; outliers {h.get('outliers')}.\n"
        "The full report is attached as PDF and in the collector's report archive (/reports).\n"
    )
    if HTML in built.files:
        msg.add_alternative(built.files[HTML].decode("utf-8"), subtype="html")
    if PDF in built.files:
        msg.add_attachment(built.files[PDF], maintype="application", subtype="pdf", filename=f"{p.name}.pdf")
    return msg


def _send(msg: EmailMessage, settings: ReportSettings) -> None:
    try:
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=60) as smtp:
            if settings.smtp_starttls:
                smtp.starttls()
            if settings.smtp_user:
                smtp.login(settings.smtp_user, settings.smtp_password)
            smtp.send_message(msg)
    except (OSError, smtplib.SMTPException) as exc:
        raise MailError(
            f"mailing the report to {settings.smtp_host}:{settings.smtp_port} failed: {exc}"
        ) from exc


async def mail(built: Built, settings: ReportSettings) -> bool:
    """Send ``built`` if delivery is configured; whether it was sent."""
    if not (settings.smtp_host and settings.recipients):
        return False
    await asyncio.to_thread(_send, message(built, settings), settings)
    return True
