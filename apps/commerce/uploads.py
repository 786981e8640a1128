"""Who may upload, and how much, enforced before any byte of an upload is read or kept.

``UploadLimitHandler`` is the first of FILE_UPLOAD_HANDLERS (settings), so it sees every
multipart body before anything reads it: the CSRF check (which looks for its token in the
form), ninja building a handler's arguments, a view's ``request.POST``.

1. Uploading files is for staff (the only uploads are data imports). For anyone else a
   multipart body larger than a form without files may be (DATA_UPLOAD_MAX_MEMORY_SIZE)
   is not read at all, and reading stops where a file begins (at most one read buffer
   past it): nothing of the file is kept, let alone written to a temporary file. The
   form fields before it still arrive, and the view or API handler answers 403 as usual.
2. A body larger than IMPORT_MAX_UPLOAD_BYTES (plus room for the form around the file)
   is not read at all, and a file that grows past the limit while streaming stops the
   upload before the next handler writes that chunk. Views and API handlers then answer
   413 with ``upload_refusal(request)``.
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

    def may_upload(self) -> bool:
        user = getattr(self.request, "user", None)
        return user is not None and user.is_staff

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        if not self.may_upload():
            form_limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
            if form_limit is not None and content_length > form_limit:
                # "Handled", with nothing in it: the body is never read.
                return QueryDict(encoding=encoding), MultiValueDict()
            return None
        if content_length > self.limit + FORM_OVERHEAD_BYTES:
            self._refuse(_refusal_text(content_length))
            # "Handled", with nothing in it: the body is never read.
            return QueryDict(encoding=encoding), MultiValueDict()
        return None

    def new_file(self, *args, **kwargs) -> None:
        if not self.may_upload():
            # connection_reset: the parser leaves the rest of the body unread.
            raise StopUpload(connection_reset=True)
        super().new_file(*args, **kwargs)

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
