"""A sign-in page for the authorization flow, for a host that has none.

The authorization endpoint sends a person who is not signed in to
``settings.LOGIN_URL`` (Django's default: ``/accounts/login/``). A host
without a page there adds one line::

    path("accounts/", include("source_oauth.login")),

which serves ``/accounts/login/`` (Django's ``LoginView`` with the accessible
``source_oauth/login.html`` page and ``SignInForm``) and ``/accounts/logout/``
(POST).
"""

from django.contrib.auth import views as auth_views
from django.urls import path

from .forms import SignInForm
from .views import user_facing

urlpatterns = [
    path(
        "login/",
        user_facing(
            auth_views.LoginView.as_view(
                template_name="source_oauth/login.html", authentication_form=SignInForm
            )
        ),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
]
