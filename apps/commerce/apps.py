from django.apps import AppConfig


class CommerceConfig(AppConfig):
    name = "apps.commerce"
    label = "commerce"
    verbose_name = "Commerce (TPC-H)"

    def ready(self) -> None:
        # Imported here, as Django's own apps do: the receivers need the app registry.
        from apps.commerce import receivers

        receivers.connect()
