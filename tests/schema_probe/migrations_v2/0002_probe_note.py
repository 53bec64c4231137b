"""The "new migration" a deploy brings: a column every schema must get."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("schema_probe", "0001_initial")]
    operations = [
        migrations.AddField(
            model_name="probe", name="note", field=models.CharField(max_length=20, null=True)
        ),
    ]
