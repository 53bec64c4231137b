"""Spread the accounts every sale credits besides HQ revenue — the supplier's payable and the
pending earnings of the seller and its parent sites — over balance buckets, so concurrent sales
of one supplier or one site do not queue on one balance row until commit. Existing balance rows
stay in bucket 0; later legs spread. Sums are unchanged."""

from django.db import migrations

HOT = "UPDATE ledger_account SET is_hot = true WHERE kind IN ('site_pending', 'supplier_payable')"
COLD = "UPDATE ledger_account SET is_hot = false WHERE kind IN ('site_pending', 'supplier_payable')"


class Migration(migrations.Migration):
    dependencies = [("ledger", "0004_mirror_buckets")]
    operations = [migrations.RunSQL(HOT, COLD)]
