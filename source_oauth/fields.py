"""Model fields of source_oauth."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db import models

from .secrets import hash_secret, is_stored_hash


class MultipleChoiceTextField(models.CharField):
    """A set of choices stored as one space-separated string, read as a list.

    Space-separated, like DOT's ``redirect_uris``, so that a plain
    ``__contains`` lookup filters by one value on every database backend
    (no value is a substring of another).
    """

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> list[str]:
        return self.to_python(value)

    def to_python(self, value: Any) -> list[str]:
        if value is None or value == "":
            return []
        if isinstance(value, str):
            return value.split()
        return list(value)

    def get_prep_value(self, value: Any) -> str:
        if isinstance(value, str):
            return value
        order = [choice for choice, _ in self.choices or ()]
        return " ".join(
            sorted(set(value or ()), key=lambda v: order.index(v) if v in order else 99)
        )

    def value_to_string(self, obj: models.Model) -> str:
        return self.get_prep_value(self.value_from_object(obj))

    def validate(self, value: Any, model_instance: models.Model | None) -> None:
        allowed = {choice for choice, _ in self.choices or ()}
        for item in value or ():
            if item not in allowed:
                raise forms.ValidationError(
                    self.error_messages["invalid_choice"],
                    code="invalid_choice",
                    params={"value": item},
                )
        if not self.blank and not value:
            raise forms.ValidationError(self.error_messages["blank"], code="blank")

    def formfield(self, **kwargs: Any) -> forms.Field:
        defaults = {
            "choices": self.choices,
            "required": not self.blank,
            "label": self.verbose_name,
            "help_text": self.help_text,
            "widget": forms.CheckboxSelectMultiple,
        }
        defaults.update(kwargs)
        for key in ("choices_form_class", "coerce", "empty_value", "max_length"):
            defaults.pop(key, None)
        return forms.MultipleChoiceField(**defaults)


class HashedSecretField(models.CharField):
    """Stores a client secret as a hash: a plain value assigned is hashed on save.

    A hash is kept as it is, including a legacy one adopted from DOT (see
    ``secrets``): hashing a hash would lock its client out.
    """

    def pre_save(self, model_instance: models.Model, add: bool) -> str:
        value = getattr(model_instance, self.attname) or ""
        if value and not is_stored_hash(value):
            value = hash_secret(value)
            setattr(model_instance, self.attname, value)
        return value
