"""Spread the member-money mirror accounts (SITE_WALLETS, SITE_COMMISSIONS) over balance buckets
like the other hot accounts, and let a transaction choose the bucket its hot legs land in
(`kameng.balance_bucket`, set by `shared.ledger.services.balance_bucket`)."""

from django.db import migrations

APPLY = r"""
CREATE OR REPLACE FUNCTION ledger_leg_apply() RETURNS trigger AS $$
DECLARE
    acct record;
    chosen text;
    target_bucket smallint := 0;
BEGIN
    SELECT currency, is_hot INTO acct FROM ledger_account WHERE id = NEW.account_id;
    IF acct.currency <> NEW.currency THEN
        RAISE EXCEPTION 'leg currency % differs from account % currency %',
            NEW.currency, NEW.account_id, acct.currency USING ERRCODE = 'check_violation';
    END IF;
    IF acct.is_hot THEN
        chosen := nullif(current_setting('kameng.balance_bucket', true), '');
        IF chosen IS NULL THEN
            target_bucket := floor(random() * 16)::smallint;
        ELSE
            target_bucket := (chosen::integer % 16)::smallint;
        END IF;
    END IF;
    INSERT INTO ledger_accountbalance (account_id, bucket, balance)
         VALUES (NEW.account_id, target_bucket, NEW.amount)
    ON CONFLICT (account_id, bucket)
      DO UPDATE SET balance = ledger_accountbalance.balance + EXCLUDED.balance;
    RETURN NEW;
END $$ LANGUAGE plpgsql;
"""

PREVIOUS = r"""
CREATE OR REPLACE FUNCTION ledger_leg_apply() RETURNS trigger AS $$
DECLARE
    acct record;
    target_bucket smallint := 0;
BEGIN
    SELECT currency, is_hot INTO acct FROM ledger_account WHERE id = NEW.account_id;
    IF acct.currency <> NEW.currency THEN
        RAISE EXCEPTION 'leg currency % differs from account % currency %',
            NEW.currency, NEW.account_id, acct.currency USING ERRCODE = 'check_violation';
    END IF;
    IF acct.is_hot THEN
        target_bucket := floor(random() * 16)::smallint;
    END IF;
    INSERT INTO ledger_accountbalance (account_id, bucket, balance)
         VALUES (NEW.account_id, target_bucket, NEW.amount)
    ON CONFLICT (account_id, bucket)
      DO UPDATE SET balance = ledger_accountbalance.balance + EXCLUDED.balance;
    RETURN NEW;
END $$ LANGUAGE plpgsql;
"""

# Existing balance rows stay in bucket 0; later legs spread. Sums are unchanged.
HOT = "UPDATE ledger_account SET is_hot = true WHERE kind IN ('site_wallets', 'site_commissions')"
COLD = "UPDATE ledger_account SET is_hot = false WHERE kind IN ('site_wallets', 'site_commissions')"


class Migration(migrations.Migration):
    dependencies = [("ledger", "0003_settlement")]
    operations = [migrations.RunSQL(APPLY, PREVIOUS), migrations.RunSQL(HOT, COLD)]
