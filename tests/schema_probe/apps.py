from django.apps import AppConfig


class SchemaProbeConfig(AppConfig):
    name = "tests.schema_probe"
    label = "schema_probe"
