from django.http import JsonResponse
from oauth2_provider.views.generic import ScopedProtectedResourceView


class HelloView(ScopedProtectedResourceView):
    """The site's API, protected as DOT's documentation shows: a token with ``read``."""

    required_scopes = ["read"]

    def get(self, request, *args, **kwargs):
        _valid, oauth = self.verify_request(request)  # the token, as the mixin just checked it
        user = oauth.access_token.user
        return JsonResponse(
            {
                "client_id": oauth.access_token.application.client_id,
                "user": user.get_username() if user else None,
            }
        )
