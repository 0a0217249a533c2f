"""A host whose login page is sent with ``Referrer-Policy: no-referrer`` (check W003).

``/accounts/login/`` is Django's LoginView with the host's own template, as
such a host serves it when ``SECURE_REFERRER_POLICY = "no-referrer"`` (the
live server's SecurityMiddleware read its setting at start-up, so the view
sets the header the middleware would). ``/accounts/login-wrapped/`` is the
same view wrapped in ``user_facing``, the fix W003's hint gives.
"""

from django.contrib.auth.views import LoginView
from django.template import engines
from django.urls import include, path

from source_oauth.views import user_facing

PAGE = engines["django"].from_string(
    "<!DOCTYPE html><title>Sign in</title><main><form method='post'>{% csrf_token %}"
    "{{ form.as_p }}<input type='hidden' name='next' value='{{ next }}'>"
    "<button>Sign in</button></form></main>"
)


class HostLoginView(LoginView):
    def get_template_names(self):
        return PAGE  # the host's template: none of source_oauth's


def no_referrer(view):
    def wrapper(request, *args, **kwargs):
        response = view(request, *args, **kwargs)
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        return response

    return wrapper


login = no_referrer(HostLoginView.as_view())

urlpatterns = [
    path("accounts/login/", login, name="login"),
    path("accounts/login-wrapped/", user_facing(login), name="login-wrapped"),
    path("", include("source_oauth.urls")),
]
