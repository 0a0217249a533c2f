"""The demo web app's redirect URI: where the sign-in and consent flow of ``demo_setup`` ends.

A real client app would redeem the code from its back end; this page only
shows what arrived, for a person trying the flow by hand.
"""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache


@never_cache
def callback(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "demo/callback.html",
        {
            "code": request.GET.get("code", ""),
            "state": request.GET.get("state", ""),
            "error": request.GET.get("error", ""),
        },
    )
