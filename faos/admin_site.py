"""The admin as FAOS' product UI: sections in the product's order and page titles in its words.

The site replaces django.contrib.admin's default one (faos.apps.FaosAdminConfig), so every
`@admin.register` lands here. The index and the side bar share `get_app_list`: the daily work first
(Workflows, Executions, Approvals, Activations, Tasks, Integrations), then building blocks, people, and the tables
FAOS keeps in step by itself (Celery Beat's schedules, API tokens) last, under "System".
"""

from django.apps import apps
from django.contrib import admin
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.options import IS_POPUP_VAR
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext

# (key, heading, note, [(app_label, object_name, label or None)]): the order is the order shown.
SECTIONS = (
    (
        "work",
        "Work",
        "",
        [
            ("workflows", "Workflow", None),
            ("executions", "Execution", None),
            ("executions", "Approval", None),
            ("workflows", "ActivationRequest", "Activations"),  # the inbox's second tab: versions to approve
            ("executions", "Task", None),
            ("integrations", "Connection", "Integrations"),
            ("executions", "Notification", None),
        ],
    ),
    (
        "build",
        "Building blocks",
        "",
        [
            ("workflows", "WorkflowTemplate", None),
            ("workflows", "Trigger", None),
            ("workflows", "Agent", None),
            ("integrations", "Connection", "Connections"),
            ("integrations", "KnowledgeArticle", None),
            ("workflows", "WorkflowVersion", None),
        ],
    ),
    ("people", "People", "", [("auth", "User", None), ("auth", "Group", None)]),
)
SYSTEM_APPS = ("django_celery_beat", "authtoken", "axes")  # every model of these apps goes under System
SYSTEM_FIRST = ("PeriodicTask", "CrontabSchedule", "IntervalSchedule")  # what a repair most likely needs, first
SYSTEM_NOTE = "Managed by FAOS: schedules follow triggers; add API tokens here."
# Where a section entry points instead of the model's list (the Integrations catalog, not the bare list).
ENTRY_URLS = {("integrations", "Connection", "Integrations"): "admin:integrations_connection_services"}


def short_datetime(value) -> str:
    """ "02 Dec 14:05" (the year only when not this one), the full time on hover: lists stay within 1280 px."""
    if value is None:
        return "—"
    at = timezone.localtime(value)
    shown = f"{at:%d %b %H:%M}" if at.year == timezone.localtime().year else f"{at:%d %b %Y %H:%M}"
    return format_html('<span class="faos-nowrap" title="{}">{}</span>', at.isoformat(timespec="seconds"), shown)


class ProductTitles:
    """Page titles in the product's words: "Workflows", "New workflow", the object's own name."""

    def get_list_title(self):
        """A ModelAdmin's own `list_title` (not defined here: this class comes first), else the plural."""
        return getattr(self, "list_title", None) or str(self.opts.verbose_name_plural).capitalize()

    def changelist_view(self, request, extra_context=None):
        if IS_POPUP_VAR not in request.GET:  # a picker pop-up keeps Django's "Select workflow"
            extra_context = {"title": self.get_list_title(), **(extra_context or {})}
        return super().changelist_view(request, extra_context=extra_context)

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if not context.get("is_popup"):
            named = str(obj) if obj is not None and not add else f"New {self.opts.verbose_name}"
            context.update(title=named, subtitle=None)  # the name is the heading; no second heading repeats it
        return super().render_change_form(request, context, add=add, change=change, form_url=form_url, obj=obj)


class RowCheckbox:
    """A list row's action checkbox as Django's widget writes it, without its three templates (150 on a page)."""

    def action_checkbox(self, obj):
        label = format_html(gettext("Select this object for an action - {}"), str(obj))
        return format_html(
            '<input type="checkbox" name="{}" value="{}" class="action-select" aria-label="{}">',
            ACTION_CHECKBOX_NAME,
            str(obj.pk),
            label,
        )


class FaosAdminSite(admin.AdminSite):
    """Django's admin site with FAOS' sections and titles."""

    site_header = site_title = "FAOS Workflows"
    index_title = "Home"

    def register(self, model_or_iterable, admin_class=None, **options):
        """Every ModelAdmin, ours and Django's (users, Beat), gets the product's page titles and cheap checkboxes."""
        admin_class = admin_class or admin.ModelAdmin
        if not issubclass(admin_class, ProductTitles):
            own_checkbox = admin_class.action_checkbox is not admin.ModelAdmin.action_checkbox  # kept as written
            mixins = (ProductTitles,) if own_checkbox else (ProductTitles, RowCheckbox)
            admin_class = type(admin_class.__name__, (*mixins, admin_class), {"__module__": admin_class.__module__})
        return super().register(model_or_iterable, admin_class, **options)

    def get_app_list(self, request, app_label=None):
        """One app's page keeps Django's shape; the index and the side bar get FAOS' sections."""
        if app_label is not None:
            return self._mark_open_page(request, super().get_app_list(request, app_label))
        models = {
            (app["app_label"], model["object_name"]): model
            for app in self._build_app_dict(request).values()
            for model in app["models"]
        }
        sections = [self._section(key, name, note, entries, models) for key, name, note, entries in SECTIONS]
        placed = {(app_label, name) for *_, entries in SECTIONS for app_label, name, _ in entries}
        rest = sorted((key for key in models if key not in placed), key=lambda key: str(models[key]["name"]))
        system = [key for key in rest if key[0] in SYSTEM_APPS]
        system.sort(key=lambda key: SYSTEM_FIRST.index(key[1]) if key[1] in SYSTEM_FIRST else len(SYSTEM_FIRST))
        # A model no section names (a new app's) still shows, under "More", rather than vanishing.
        more = [(*key, None) for key in rest if key[0] not in SYSTEM_APPS]
        sections.append(self._section("more", "More", "", more, models))
        sections.append(self._section("system", "System", SYSTEM_NOTE, [(*key, None) for key in system], models))
        return self._mark_open_page(request, [section for section in sections if section["models"]])

    @staticmethod
    def _mark_open_page(request, sections):
        """The entry whose page this is: the longest address the path starts with (the Integrations catalog
        lives under the connections' list, and only it is the open page there)."""
        entries = [entry for section in sections for entry in section["models"] if entry.get("admin_url")]
        matching = [entry for entry in entries if request.path.startswith(entry["admin_url"])]
        for entry in entries:
            entry["current"] = False
        if matching:
            max(matching, key=lambda entry: len(entry["admin_url"]))["current"] = True
        return sections

    def _section(self, key, name, note, entries, models):
        """The listed models this person may see, in the listed order."""
        chosen = [self._entry(models[a, o], a, label) for a, o, label in entries if (a, o) in models]
        return {"name": name, "app_label": key, "app_url": "", "note": note, "has_module_perms": True, "models": chosen}

    def _entry(self, model, app_label, label):
        entry = dict(model)
        if label:
            entry["name"] = label
        url_name = ENTRY_URLS.get((app_label, model["object_name"], label))
        if url_name and model.get("admin_url"):
            try:
                entry["admin_url"] = reverse(url_name, current_app=self.name)
            except NoReverseMatch:  # the page is gone: the plain list still works
                pass
        return entry

    def app_index(self, request, app_label, extra_context=None):
        """An app's own page is titled with its name ("Executions"), not "Executions administration"."""
        try:
            title = str(apps.get_app_config(app_label).verbose_name)
        except LookupError:  # Django answers 404 for it
            return super().app_index(request, app_label, extra_context)
        return super().app_index(request, app_label, {"title": title, **(extra_context or {})})
