from django.apps import AppConfig


class SitesConfig(AppConfig):
    name = "shared.sites"
    label = "sites"
    verbose_name = "Sites"

    def ready(self) -> None:
        from django.db import transaction
        from django.db.models.signals import post_delete, post_save

        from shared.sites.models import Domain, Site
        from shared.sites.selectors import routes_forget

        def forget(**_kwargs: object) -> None:
            routes_forget()
            transaction.on_commit(routes_forget)  # a request may route between save and commit

        for model in (Site, Domain):  # weak=False: `forget` lives only in this call
            for signal in (post_save, post_delete):
                signal.connect(forget, sender=model, weak=False)
