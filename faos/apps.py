"""The admin app with FAOS' own site as the default one (Django's documented way to replace admin.site)."""

from django.contrib.admin.apps import AdminConfig


class FaosAdminConfig(AdminConfig):
    default_site = "faos.admin_site.FaosAdminSite"
