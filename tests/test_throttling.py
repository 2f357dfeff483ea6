"""Throttles: API rates per client and per user, wrong tokens per client, and the admin login lockout."""

import pytest
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db
URL = "/api/workflows/"


def token_client(user=None, key=None):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key or Token.objects.create(user=user).key}")
    return client


def assert_throttled(response):
    assert response.status_code == 429 and int(response["Retry-After"]) > 0
    assert "throttled" in response.json()["detail"]


def test_api_throttles_anonymous_requests(throttle_rates):
    throttle_rates(anon="1/minute")  # DRF throttles after the permission check: the schema is what anyone may read
    assert APIClient().get("/api/schema/?format=json").status_code == 200
    assert_throttled(APIClient().get("/api/schema/?format=json"))


def test_api_throttles_each_user_on_their_own(throttle_rates, django_user_model):
    throttle_rates(user="3/minute")
    ada, bob = (django_user_model.objects.create_superuser(n, f"{n}@example.com", "pw") for n in ("ada", "bob"))
    client = token_client(ada)
    assert [client.get(URL).status_code for _ in range(3)] == [200, 200, 200]
    assert_throttled(client.get(URL))
    assert token_client(bob).get(URL).status_code == 200


def test_default_rates_leave_ordinary_use_alone(admin_user):
    client = token_client(admin_user)
    assert all(client.get(URL).status_code == 200 for _ in range(30))


def test_failed_token_attempts_are_throttled(throttle_rates, admin_user):
    throttle_rates(token_failures="3/minute")
    codes = [token_client(key=f"{n:040x}").get(URL).status_code for n in range(3)]
    assert codes == [401, 401, 401]
    right = Token.objects.create(user=admin_user).key
    refused = token_client(key=right).get(URL)
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    session = APIClient()
    session.force_login(admin_user)
    assert session.get(URL).status_code == 200  # a logged-in browser at the same address is not held back


def admin_login(username, password):
    return Client().post("/admin/login/", {"username": username, "password": password, "next": "/admin/"})


def test_admin_login_locks_out_after_repeated_failures(settings, admin_user, django_user_model):
    settings.AXES_FAILURE_LIMIT = 3
    assert [admin_login("boss", "wrong").status_code for _ in range(2)] == [200, 200]
    locked = admin_login("boss", "wrong")
    assert locked.status_code == 429 and int(locked["Retry-After"]) > 0
    refused = admin_login("boss", "pw-boss-123")
    assert refused.status_code == 429 and "_auth_user_id" not in refused.wsgi_request.session
    django_user_model.objects.create_superuser("ada", "ada@example.com", "pw-ada-123")
    assert admin_login("ada", "pw-ada-123").status_code == 302  # one guesser cannot lock out everybody


def test_a_successful_admin_login_resets_the_failures(settings, admin_user):
    settings.AXES_FAILURE_LIMIT = 3
    for _ in range(2):
        admin_login("boss", "wrong")
    assert admin_login("boss", "pw-boss-123").status_code == 302
    assert [admin_login("boss", "wrong").status_code for _ in range(2)] == [200, 200]


def test_the_test_clients_login_still_works(admin_user):
    client = Client()
    assert client.login(username="boss", password="pw-boss-123")
    assert client.get("/admin/").status_code == 200
