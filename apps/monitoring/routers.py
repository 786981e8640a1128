"""Silk's and monitoring's own tables are read and written on the primary database only."""

PRIMARY_APPS = frozenset({"silk", "monitoring"})


class MonitoringPrimaryRouter:
    def db_for_read(self, model, **hints):
        return "default" if model._meta.app_label in PRIMARY_APPS else None

    def db_for_write(self, model, **hints):
        return "default" if model._meta.app_label in PRIMARY_APPS else None
