"""Shared fixtures. Outside tests/e2e, Celery tasks run eagerly in the test process."""

import os
import time

import pytest
from django.conf import settings
from django.core.cache import caches

from faos.cache import is_redis
from faos.celery import app
from tests.factories import EditorFactory


def pytest_configure(config):
    """This run's own cache keys: a Redis cache may be shared with other test runs and with a `make run`. Passwords
    the tests make are hashed with MD5, as Django's testing docs advise: PBKDF2's 1,000,000 rounds cost 0.6 s a hash
    here, and ~150 tests make or check one. PBKDF2 stays in the list, so a hash a command made still checks."""
    settings.CACHES["default"]["KEY_PREFIX"] = f"faos-test-{os.getpid()}"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher", *settings.PASSWORD_HASHERS]


# Rough seconds a test takes on the 2-core CI machine, by marker (e2e: a real worker starts and stops; browser:
# Chromium). pytest-xdist hands out whole files (--dist loadfile) as its processes free up, in the order the files
# are collected (Makefile: --no-loadscope-reorder; its own order, most tests first, left the files of one or two
# 20-50 s tests to the end, one process working through them while the other waited).
COST = {"e2e": 6.0, "browser": 9.0}


@pytest.hookimpl(trylast=True)  # after pytest-django's own order, which this keeps within a file
def pytest_collection_modifyitems(config, items):
    """Under pytest-xdist, the costliest files first, so the cheap ones fill in at the end."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return
    weight: dict[str, float] = {}
    for item in items:
        cost = max((COST[m.name] for m in item.iter_markers() if m.name in COST), default=0.3)
        weight[item.location[0]] = weight.get(item.location[0], 0.0) + cost
    items.sort(key=lambda item: -weight[item.location[0]])  # a stable sort: a file keeps its tests' order


def clear_cache() -> None:
    """Empty this run's keys only: on Redis, cache.clear() would flush a whole database that others may use."""
    backend = caches["default"]
    if not is_redis(settings.CACHES["default"]):
        backend.clear()
        return
    client = backend._cache.get_client(write=True)
    keys = list(client.scan_iter(match=f"{backend.key_prefix}:*", count=1000))
    if keys:
        client.delete(*keys)


@pytest.fixture(autouse=True)
def eager_celery(request):
    """Run tasks inline unless the test drives a real worker (marked e2e)."""
    eager = request.node.get_closest_marker("e2e") is None
    previous = app.conf.task_always_eager
    # The app reads Django settings with the CELERY_ namespace, so set the namespaced key.
    app.conf.CELERY_TASK_ALWAYS_EAGER = eager
    yield
    app.conf.CELERY_TASK_ALWAYS_EAGER = previous


@pytest.fixture(autouse=True)
def fresh_cache():
    """Throttle and rate counters live in the cache: each test starts with none, so no test is throttled by another."""
    clear_cache()
    yield
    clear_cache()


@pytest.fixture
def throttle_rates(settings):
    """Set some of REST_FRAMEWORK's throttle rates for one test, e.g. throttle_rates(anon="1/minute")."""

    def set_rates(**rates):
        framework = settings.REST_FRAMEWORK
        merged = {**framework.get("DEFAULT_THROTTLE_RATES", {}), **rates}
        settings.REST_FRAMEWORK = {**framework, "DEFAULT_THROTTLE_RATES": merged}

    return set_rates


@pytest.fixture
def no_tasks(monkeypatch):
    """Nothing is sent to a worker (nor run eagerly): the test drives the runtime itself."""
    for module in ("services", "runtime.loop", "runtime.claim", "runtime.sweep"):
        monkeypatch.setattr(f"executions.{module}.enqueue", lambda *args, **kwargs: None)


@pytest.fixture
def admin_user(django_user_model):
    return django_user_model.objects.create_superuser("boss", "boss@example.com", "pw-boss-123")


@pytest.fixture
def ann():
    """A workflow editor (with bob, the two people of the four-eyes activation tests)."""
    return EditorFactory(username="ann", is_staff=True)


@pytest.fixture
def bob():
    """A second workflow editor, who may approve what ann asks for."""
    return EditorFactory(username="bob", is_staff=True)


@pytest.fixture(autouse=True, scope="session")
def flush_survives_a_deadlock_with_a_sweeping_worker():
    """Real workers keep sweeping between tests; the flush can deadlock with a sweep, and PostgreSQL then aborts one
    of the two, or a worker can add a row that points at one the flush deleted (its deferred foreign key check fails
    at the flush's commit). The sweep simply runs again; the flush is tried again too (a few times)."""
    from django.db import IntegrityError, OperationalError, connection

    ops_class = type(connection.ops)
    original = ops_class.execute_sql_flush

    def execute_sql_flush(self, sql_list):
        for attempt in range(5):
            try:
                return original(self, sql_list)
            except (OperationalError, IntegrityError) as exc:
                raced = isinstance(exc, IntegrityError) or "deadlock" in str(exc)
                if not raced or attempt == 4:
                    raise
                time.sleep(0.2 * (attempt + 1))

    ops_class.execute_sql_flush = execute_sql_flush
    yield
    ops_class.execute_sql_flush = original


# Kept by the flush: the rows post_migrate derives from the models (no test makes its own), so its post_migrate finds
# them there instead of writing them again; and Beat's one-row change marker, which a module's running Beat reads
# every tick: django-celery-beat does not see the first change after reading it missing (None, then a timestamp, is
# not "newer"), so a flush that deleted it could leave that Beat without its sweep until its 5-minute reload (a due
# timer then never woke: tests/e2e/test_templates_live.py). Deleting the tasks themselves by SQL sends no change: the
# next test puts its entries back through the ORM, which marks the change Beat then sees.
KEPT_BY_THE_FLUSH = {"django_content_type", "auth_permission", "django_celery_beat_periodictasks"}


@pytest.fixture(autouse=True, scope="session")
def flush_deletes_rather_than_truncates():
    """A transactional test's flush empties ~45 nearly empty tables: DELETE does it in 15-45 ms here, TRUNCATE in
    0.3-0.7 s (it makes new files for every table and index; ~480 flushes a run). Django's foreign keys are deferred
    on PostgreSQL, so the order of the DELETEs does not matter within the flush's transaction. The same transaction
    puts the default groups back (a data migration made them), so the flush needs no post_migrate: its content types
    and permissions were kept, and its ~100 queries cost 0.1-0.2 s a flush."""
    from django.core.management.commands import flush
    from django.db import connection

    if connection.vendor != "postgresql":
        yield
        return
    ops_class = type(connection.ops)
    original, original_signal = ops_class.sql_flush, flush.emit_post_migrate_signal
    kept = []  # set by a flush that kept what post_migrate makes, read by its post_migrate

    def sql_flush(self, style, tables, *, reset_sequences=False, allow_cascade=False):
        kept.clear()
        if reset_sequences or not tables:  # `manage.py flush` itself: Django's TRUNCATE, then post_migrate
            return original(self, style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade)
        kept.append(True)
        emptied = [table for table in tables if table not in KEPT_BY_THE_FLUSH]
        deletes = [f"DELETE FROM {self.quote_name(table)}" for table in emptied]
        return ["SET CONSTRAINTS ALL DEFERRED", *deletes, *default_groups_sql()]

    def emit_post_migrate_signal(*args, **kwargs):
        if not kept:
            original_signal(*args, **kwargs)

    ops_class.sql_flush = sql_flush
    flush.emit_post_migrate_signal = emit_post_migrate_signal
    yield
    ops_class.sql_flush, flush.emit_post_migrate_signal = original, original_signal


def default_groups_sql() -> list[str]:
    """workflows.groups.ensure_default_groups as two INSERTs (its names and codenames are plain identifiers)."""
    from workflows.groups import GROUPS

    names = ", ".join(f"('{name}')" for name in GROUPS)
    granted = ", ".join(
        f"('{name}', '{app}', '{codename}')"
        for name, by_app in GROUPS.items()
        for app, codenames in by_app.items()
        for codename in codenames
    )
    return [
        f"INSERT INTO auth_group (name) VALUES {names}",
        "INSERT INTO auth_group_permissions (group_id, permission_id) SELECT g.id, p.id"
        f" FROM (VALUES {granted}) AS w (name, app, codename) JOIN auth_group g ON g.name = w.name"
        " JOIN django_content_type t ON t.app_label = w.app"
        " JOIN auth_permission p ON p.content_type_id = t.id AND p.codename = w.codename",
    ]


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """The test database's commits don't wait for the disk: it is thrown away, and every transactional test's
    commits and flushes would otherwise wait for an fsync each. Worker processes connect later and inherit it.
    At the end, sessions still on it are ended, so that it can be dropped."""
    from django.db import connection

    if connection.vendor != "postgresql":
        yield
        return
    with django_db_blocker.unblock():
        name = connection.ops.quote_name(connection.settings_dict["NAME"])
        with connection.cursor() as cursor:
            cursor.execute(f"ALTER DATABASE {name} SET synchronous_commit TO off")
        connection.close()  # its next session starts with the database's setting
    yield
    with django_db_blocker.unblock():
        end_other_sessions()


def end_other_sessions() -> None:
    """End every other session on the test database: a connection a test's thread opened and never closed stays
    checked out of the pool until the process exits, and PostgreSQL refuses to drop a database in use (pytest-django
    then leaves it behind with a warning)."""
    from django.db import DatabaseError, connection

    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
    except DatabaseError:  # a role that may not end other roles' sessions: the drop warns as before
        pass
    connection.close()


@pytest.fixture(autouse=True, scope="session")
def default_groups_survive_a_flush():
    """A transactional test's flush empties every table, the default groups (a data migration) too. In one process
    pytest-django runs those tests last; pytest-xdist hands tests out in its own order, so the groups are made
    again after each flush, once the permissions of every app are back (the last app's post_migrate; on
    PostgreSQL the flush itself puts them back, see flush_deletes_rather_than_truncates)."""
    from django.apps import apps
    from django.db.models.signals import post_migrate

    from workflows.groups import ensure_default_groups

    last = [config for config in apps.get_app_configs() if config.models_module][-1]

    def restore(sender, **kwargs):
        if sender is last:
            ensure_default_groups()

    post_migrate.connect(restore, weak=False, dispatch_uid="faos-tests-default-groups")
    yield
    post_migrate.disconnect(dispatch_uid="faos-tests-default-groups")


@pytest.fixture(autouse=True, scope="session")
def broker_epoch_marked():
    """The broker's epoch key is there before any sweep runs, as on a broker that lost nothing: a test's sweep then
    re-sends only what its own test made stale, never everything told (executions.runtime.routing)."""
    from executions.runtime.routing import BROKER_EPOCH_KEY
    from faos.celery import app

    with app.connection_for_write() as conn:
        if conn.transport.driver_type == "redis":
            conn.default_channel.client.set(BROKER_EPOCH_KEY, "tests", nx=True)
