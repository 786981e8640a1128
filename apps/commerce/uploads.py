"""The upload size limit, enforced before any byte of an upload is kept.

``UploadLimitHandler`` is the first of FILE_UPLOAD_HANDLERS (settings): a request whose
body is larger than IMPORT_MAX_UPLOAD_BYTES (plus room for the form around the file) is
not read at all, and a file that grows past the limit while streaming stops the upload
before the next handler writes that chunk. Views and API handlers then answer 413 with
``upload_refusal(request)``.
"""

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.http import HttpRequest, QueryDict
from django.template.defaultfilters import filesizeformat
from django.utils.datastructures import MultiValueDict

# The multipart envelope and the small form fields that travel with a file.
FORM_OVERHEAD_BYTES = 64 * 1024


def upload_limit_text() -> str:
    return filesizeformat(settings.IMPORT_MAX_UPLOAD_BYTES)


def upload_refusal(request: HttpRequest) -> str:
    """Why this request's upload is refused ("" if it is not), without reading its body."""
    refused = getattr(request, "upload_refused", "")
    if refused:
        return refused
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > settings.IMPORT_MAX_UPLOAD_BYTES + FORM_OVERHEAD_BYTES:
        return _refusal_text(length)
    return ""


def _refusal_text(size: int | None = None) -> str:
    if size is None:
        return f"The file is larger than the upload limit of {upload_limit_text()}; nothing was stored."
    return (
        f"The upload is {filesizeformat(size)}, more than the limit of {upload_limit_text()}; "
        "nothing was stored."
    )


class UploadLimitHandler(FileUploadHandler):
    """Refuses uploads over IMPORT_MAX_UPLOAD_BYTES before the next handlers store them."""

    def __init__(self, request: HttpRequest | None = None) -> None:
        super().__init__(request)
        self.limit = settings.IMPORT_MAX_UPLOAD_BYTES

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        if content_length > self.limit + FORM_OVERHEAD_BYTES:
            self._refuse(_refusal_text(content_length))
            # "Handled", with nothing in it: the body is never read.
            return QueryDict(encoding=encoding), MultiValueDict()
        return None

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        if start + len(raw_data) > self.limit:
            self._refuse(_refusal_text())
            raise StopUpload(connection_reset=False)
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None

    def _refuse(self, message: str) -> None:
        if self.request is not None:
            self.request.upload_refused = message
