"""Beat's database scheduler, with django-celery-beat 2.8.1's change detection fixed.

The stock scheduler reloads its schedule when `PeriodicTasks.last_update` is later than the value it saw last;
when it last saw no row at all (the tracking table was emptied, as a test database flush does), it compares the
new value with itself and sees no change. A reload made while the tables were empty (its forced reload every
5 minutes) then leaves Beat without the sweep until the next forced reload: due timers were not woken for up to
5 minutes. Here a tracking row that appears after none counts as a change.
"""

from django_celery_beat.schedulers import DatabaseScheduler as _DatabaseScheduler


class DatabaseScheduler(_DatabaseScheduler):
    def schedule_changed(self) -> bool:
        seen_none = self._last_timestamp is None and not self._initial_read
        changed = super().schedule_changed()
        return changed or (seen_none and self._last_timestamp is not None)
