"""Image styles: per-client access to signed image derivatives.

``fields.StyledImageField`` renders an image with the derivatives the calling
API client may see; ``views.derivative`` renders a derivative on its first
request and stores it; ``signing`` makes sure only issued URLs work.
"""
