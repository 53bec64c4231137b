"""After-sales tickets of a site (site schema): the ticket, its timeline, its attachments and
the key re-issues it led to.

A ticket is about one order. Its timeline (`TicketEvent`) records every step, buyer's and
staff's: messages, status changes and resolutions, with actor and time. Attachments are files
in private storage (`tenants.aftersales.attachments`), never under MEDIA_URL. A re-issue
(`KeyReissue`) records the claim that a delivered key was invalid (the vault cannot void a sold
key) and the replacement sold under a derived order reference.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from tenants.orders.models import Order


class TicketKind(models.TextChoices):
    INVALID_KEY = "invalid_key", _("A key does not work")
    NOT_RECEIVED = "not_received", _("Not received")
    REFUND_REQUEST = "refund_request", _("Refund request")
    OTHER = "other", _("Something else")


class TicketStatus(models.TextChoices):
    OPEN = "open", _("Open: waiting for the shop")
    WAITING = "waiting", _("Waiting for the buyer")
    RESOLVED = "resolved", _("Resolved")


class Resolution(models.TextChoices):
    REISSUED = "reissued", _("Key re-issued")
    REFUNDED = "refunded", _("Refunded")
    REJECTED = "rejected", _("Rejected")


class Ticket(models.Model):
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="tickets")
    # Who the buyer is: the order's member account, or (guests) the order's email.
    buyer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="tickets",
    )
    email = models.EmailField()
    kind = models.CharField(max_length=16, choices=TicketKind.choices)
    status = models.CharField(
        max_length=16, choices=TicketStatus.choices, default=TicketStatus.OPEN
    )
    # The vault id of the key the buyer says does not work (invalid-key tickets).
    reported_key_id = models.BigIntegerField(null=True, blank=True)
    resolution = models.CharField(max_length=16, choices=Resolution.choices, blank=True)
    resolution_note = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-updated_at", "-id"]
        constraints = [
            # One ticket in progress per order: a second request goes to the open one.
            models.UniqueConstraint(
                fields=["order"], condition=~Q(status="resolved"), name="ticket_one_open_per_order"
            ),
            models.CheckConstraint(
                condition=Q(status="resolved", resolved_at__isnull=False) & ~Q(resolution="")
                | ~Q(status="resolved") & Q(resolution=""),
                name="ticket_resolved_has_resolution",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "-updated_at"], name="ticket_status_idx"),
            models.Index(fields=["buyer", "-created_at"], name="ticket_buyer_idx"),
        ]

    def __str__(self) -> str:
        return self.reference

    @property
    def reference(self) -> str:
        return f"T{self.pk:06d}" if self.pk else "T-new"

    @property
    def is_closed(self) -> bool:
        return self.status == TicketStatus.RESOLVED


class EventKind(models.TextChoices):
    OPENED = "opened", _("Opened")
    MESSAGE = "message", _("Message")
    STATUS = "status", _("Status changed")
    REISSUED = "reissued", _("Key re-issued")
    REFUNDED = "refunded", _("Refunded")
    REJECTED = "rejected", _("Rejected")


class ActorRole(models.TextChoices):
    BUYER = "buyer", _("Buyer")
    STAFF = "staff", _("Staff")
    SYSTEM = "system", _("System")


class TicketEvent(models.Model):
    """One step of a ticket's timeline, shown to the buyer and to staff."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=16, choices=EventKind.choices)
    actor = models.CharField(max_length=254)
    actor_role = models.CharField(max_length=8, choices=ActorRole.choices)
    body = models.TextField(blank=True)
    from_status = models.CharField(max_length=16, blank=True)
    to_status = models.CharField(max_length=16, blank=True)
    amount = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.ticket_id}: {self.kind} by {self.actor_role}"

    @property
    def to_label(self) -> str:
        return str(TicketStatus(self.to_status).label) if self.to_status else ""


class Attachment(models.Model):
    """A file sent with a message, in private storage under the site's and ticket's folder."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="attachments")
    event = models.ForeignKey(TicketEvent, on_delete=models.CASCADE, related_name="attachments")
    path = models.CharField(max_length=300, unique=True)
    name = models.CharField(max_length=120)
    content_type = models.CharField(max_length=64)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.size} bytes)"

    @property
    def is_image(self) -> bool:
        return self.content_type.startswith("image/")


class KeyReissue(models.Model):
    """A delivered key reported invalid and replaced: the claim against the invalid key's
    supplier, the replacement sold under `order_ref`, and the ledger transaction moving the
    cost from one supplier to the other (none when both are the same at the same cost)."""

    ticket = models.ForeignKey(Ticket, on_delete=models.PROTECT, related_name="reissues")
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="+")
    number = models.PositiveIntegerField()
    order_ref = models.CharField(max_length=100, unique=True)
    invalid_key_id = models.BigIntegerField()
    replacement_key_id = models.BigIntegerField()
    units = models.PositiveIntegerField(default=1)
    invalid_supplier_id = models.BigIntegerField()
    invalid_cost = models.DecimalField(max_digits=14, decimal_places=2)
    replacement_supplier_id = models.BigIntegerField()
    replacement_cost = models.DecimalField(max_digits=14, decimal_places=2)
    currency = models.CharField(max_length=3)
    ledger_transaction_id = models.BigIntegerField(null=True, blank=True)
    actor = models.CharField(max_length=254)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["order", "number"]
        constraints = [
            models.UniqueConstraint(fields=["order", "number"], name="key_reissue_number"),
            # A key is claimed invalid once per order.
            models.UniqueConstraint(
                fields=["order", "invalid_key_id"], name="key_reissue_once_per_key"
            ),
        ]

    def __str__(self) -> str:
        return f"Re-issue {self.number} of order {self.order_id}"
