"""Beat's database scheduler: django-celery-beat 2.8.1's, with its change detection and its reload made safe.

Change detection: the stock scheduler reloads its schedule when `PeriodicTasks.last_update` is later than the
value it saw last; when it last saw no row at all (the tracking table was emptied, as a test database flush
does), it compares the new value with itself and sees no change. A reload made while the tables were empty (its
forced reload every 5 minutes) then leaves Beat without the sweep until the next forced reload: due timers were
not woken for up to 5 minutes. Here a tracking row that appears after none counts as a change.

Reload: the stock scheduler reads the enabled tasks, then their schedules with one more query each kind
(`prefetch_related`). A schedule deleted and committed between the two (a schedule trigger removed, a task
deleted with its crontab) left a task without any: `model.schedule` raised AttributeError and the Beat process
died, and with it the sweep (no lease recovered, no timer woken) until someone restarted it. Here the tasks and
their schedules are one statement, one snapshot; and a task that has no schedule all the same is skipped with
a warning instead of taking Beat down.
"""

import logging

from django_celery_beat.schedulers import DatabaseScheduler as _DatabaseScheduler

logger = logging.getLogger(__name__)
SCHEDULES = ("interval", "crontab", "solar", "clocked")


class DatabaseScheduler(_DatabaseScheduler):
    def schedule_changed(self) -> bool:
        seen_none = self._last_timestamp is None and not self._initial_read
        changed = super().schedule_changed()
        return changed or (seen_none and self._last_timestamp is not None)

    def enabled_models_qs(self):
        return super().enabled_models_qs().prefetch_related(None).select_related(*SCHEDULES)

    def enabled_models(self):
        models = super().enabled_models()
        for model in models:
            if model.scheduler is None:
                logger.warning("periodic task %r has no schedule (deleted as Beat read it?): skipped", model.name)
        return [model for model in models if model.scheduler is not None]
