"""Background work of after-sales: the buyer's email about a staff step (runs in the ticket's
site schema, sent after the step's transaction commits)."""

from __future__ import annotations

from celery import shared_task

from tenants.aftersales.emails import ticket_email_send


@shared_task(name="tenants.aftersales.tasks.ticket_email", ignore_result=True)
def ticket_email(event_id: int) -> bool:
    return ticket_email_send(event_id=event_id)
