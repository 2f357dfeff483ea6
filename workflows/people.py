"""People, their roles (groups) and API tokens: the services behind `faos_user` and `faos_token`.

`actor` is the person the command acts for (`--as`); None is the operator at the shell (the system), who may
do everything the admin's superuser may.
"""

from __future__ import annotations

import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import transaction
from rest_framework.authtoken.models import Token

from . import authz
from .groups import GROUPS, ensure_default_groups


def _groups(names: list[str]) -> list[Group]:
    """The groups by name (the default roles are created first); an unknown name is an error naming the known."""
    ensure_default_groups()
    found = {g.name: g for g in Group.objects.filter(name__in=names)}
    unknown = [n for n in names if n not in found]
    if unknown:
        known = ", ".join(sorted(set(GROUPS) | set(Group.objects.values_list("name", flat=True))))
        raise ValidationError({"group": f"no group named {', '.join(unknown)} (known: {known})"})
    return [found[n] for n in names]


def _require_superuser_for(actor, superuser: bool) -> None:
    if superuser and actor is not None and not actor.is_superuser:
        raise authz.Refused(f"permission error: {actor.get_username()} may not make a superuser")


@transaction.atomic
def person_add(*, username: str, email: str = "", groups=(), superuser=False, login=True, actor=None):
    """A new staff member in these groups; returns (user, password), the password None when `login` is off."""
    authz.require(actor, "add", get_user_model())
    _require_superuser_for(actor, superuser)
    User = get_user_model()
    if User.objects.filter(username=username).exists():
        raise ValidationError({"username": f"{username} exists already: use `faos_user change {username}`"})
    user = User(username=username, email=email, is_staff=True, is_superuser=superuser)
    password = secrets.token_urlsafe(12) if login else None
    user.set_password(password)  # None: an unusable password (API token only)
    user.full_clean(exclude=["password"])
    user.save()
    user.groups.add(*_groups(list(groups)))
    return user, password


@transaction.atomic
def person_change(*, user, add_groups=(), remove_groups=(), email=None, active=None, actor=None):
    """Put a person in or out of groups, change the e-mail, or (de)activate them."""
    authz.require(actor, "change", user)
    user.groups.add(*_groups(list(add_groups)))
    user.groups.remove(*_groups(list(remove_groups)))
    fields = {"email": email, "is_active": active}
    for field, value in fields.items():
        if value is not None:
            setattr(user, field, value)
    user.full_clean(exclude=["password"])
    user.save()
    return user


@transaction.atomic
def token_issue(*, user, rotate=False, actor=None) -> str:
    """A new API token for `user`; its key is returned once. An existing token is replaced only with `rotate`."""
    authz.require(actor, "add", Token)
    existing = Token.objects.filter(user=user).first()
    if existing is not None and not rotate:
        when = f"{existing.created:%Y-%m-%d %H:%M}"
        raise ValidationError({"token": f"{user} has a token since {when}: --rotate replaces it, --revoke ends it"})
    if existing is not None:
        authz.require(actor, "delete", existing)
        existing.delete()
    return Token.objects.create(user=user).key


def token_revoke(*, user, actor=None) -> bool:
    """Delete the person's API token (requests with it get 401 from now on); False if there was none."""
    existing = Token.objects.filter(user=user).first()
    if existing is None:
        return False
    authz.require(actor, "delete", existing)
    existing.delete()
    return True
