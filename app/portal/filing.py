"""Filing a request from the portal: once per form page, its title, its business key
(retried if taken at the same moment), its attachments, the draft it came from, and a
termination roster uploaded as a file."""

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from werkzeug.datastructures import FileStorage

from app.formfields import describe, flat_errors
from app.portal.catalog import key_in_use, next_business_key
from app.portal.subjects import request_title
from app.web import perform
from forms.termination import TerminationEntry
from ledger.errors import DomainError, InvalidInput
from workflows.context import Env
from workflows.instances import start_instance
from workflows.models import ProcessDefinition, ProcessInstance
from workflows.procedures.termination import PROCESS_ID as TERMINATION
from workflows.procedures.termination import RosterInvalid, file_roster
from workflows.webstate import (
    MAX_ATTACHMENT_BYTES,
    attach_file,
    clean_file_name,
    delete_draft,
    filed_from,
    note_filing,
)

#: How often a start is tried with the next business key when the key was taken meanwhile.
KEY_ATTEMPTS = 3


class AttachmentTooLarge(DomainError):
    """An uploaded file over its limit (`megabytes`): nothing is filed."""

    status = 413
    code = "attachment_too_large"
    zh = "文件“{file}”超过 {megabytes} MB，申请未提交；请压缩或拆分后重新选择文件"
    en = (
        "The file '{file}' is larger than {megabytes} MB; nothing was filed. Make it smaller "
        "and choose the files again"
    )


@dataclass(frozen=True)
class Upload:
    """A file the user sent: its name and bytes."""

    file_name: str
    content: bytes


def read_upload(storage: FileStorage | None, limit: int) -> Upload | None:
    """The uploaded file, None if none was chosen; AttachmentTooLarge over `limit` bytes."""
    if storage is None or not storage.filename:
        return None
    name = clean_file_name(storage.filename)
    content = storage.read(limit + 1)
    if len(content) > limit:
        raise AttachmentTooLarge(file=name, megabytes=limit // (1024 * 1024))
    return Upload(name, content)


def read_attachments(files: list[FileStorage]) -> list[Upload]:
    """The chosen attachments; AttachmentTooLarge if one is over 5 MB."""
    uploads = (read_upload(storage, MAX_ATTACHMENT_BYTES) for storage in files)
    return [upload for upload in uploads if upload is not None]


@dataclass(frozen=True)
class Filed:
    """The request a form page filed; `again` when the page had filed it before (sent
    twice) and nothing new was filed."""

    instance: ProcessInstance
    again: bool = False


def once_per_page(
    env: Env, token: str | None, process_id: str, file: Callable[[], ProcessInstance]
) -> Filed:
    """File with `file()` (which notes `token` in its unit of work) unless the user filed
    `process_id` from the form page `token` before: then that request, filed `again`. The
    same page sent twice at the same moment is refused by the database or the engine for
    one of the two, which is then answered with the other's request. Without a token
    (None), every send files."""
    earlier = filed_from(env, token, process_id)
    if earlier is not None:
        return Filed(earlier, again=True)
    try:
        return Filed(file())
    except (DomainError, IntegrityError):
        earlier = filed_from(env, token, process_id)
        if earlier is None:
            raise
        return Filed(earlier, again=True)


@dataclass(frozen=True)
class Submission:
    """What a start form page sends to file: the data, the department filed for, the
    attachments, the draft it was filled from and the page's token (None: none)."""

    data: dict
    department_id: int | None
    uploads: list[Upload]
    draft_id: int | None = None
    token: str | None = None


def file_request(env: Env, definition: ProcessDefinition, submission: Submission) -> Filed:
    """File the request once per form page (`once_per_page`) with a new business key, store
    its attachments and delete the draft it was filed from, in one unit of work."""
    return once_per_page(
        env, submission.token, definition.process_id,
        lambda: _file_with_a_new_key(env, definition, submission),
    )  # fmt: skip


def _file_with_a_new_key(
    env: Env, definition: ProcessDefinition, submission: Submission
) -> ProcessInstance:
    """File with the next business key; a key taken by someone filing at the same moment
    is retried with the next one."""
    process_id, attempt = definition.process_id, 1
    while True:
        key = next_business_key(env.session, process_id, env.today)
        try:
            return perform(_file, env, definition, key, submission)
        except InvalidInput:
            if attempt == KEY_ATTEMPTS or not key_in_use(env.session, process_id, key):
                raise
            attempt += 1


def _file(
    env: Env, definition: ProcessDefinition, key: str, submission: Submission
) -> ProcessInstance:
    title = request_title(definition.name, submission.data)
    instance = start_instance(
        env, definition.process_id, key, submission.data, submission.department_id, title
    )
    note_filing(env, submission.token, instance)
    attach(env, instance, submission.uploads)
    if submission.draft_id is not None:
        delete_draft(env, submission.draft_id)
    return instance


def attach(env: Env, instance: ProcessInstance, uploads: list[Upload]) -> None:
    """Store `uploads` as the request's attachments, added by the acting user."""
    for upload in uploads:
        attach_file(env, instance, upload.file_name, upload.content)


def file_roster_upload(
    env: Env, upload: Upload | None, department_id: int | None, note: str, token: str | None
) -> Filed:
    """File a forced termination from an uploaded roster (CSV or XLSX), once per form page
    (`once_per_page`); RosterInvalid lists the rows with errors and nothing is filed. The
    roster is kept as an attachment."""

    def file_and_keep() -> ProcessInstance:
        if upload is None:
            raise InvalidInput(reason_zh="请选择名单文件", reason_en="choose a roster file")
        instance = file_roster(env, upload.file_name, upload.content, department_id, note)
        note_filing(env, token, instance)
        attach(env, instance, [upload])
        return instance

    return once_per_page(env, token, TERMINATION, lambda: perform(file_and_keep))


@dataclass(frozen=True)
class RowError:
    """One error of an uploaded roster: the sheet's row number, the column and the message."""

    row: int
    column: str
    message: str


def roster_errors(error: RosterInvalid) -> list[RowError]:
    """The errors of a refused roster by row number, with the columns' labels."""
    labels = {f.name: f.label for f in describe(TerminationEntry())}
    found = []
    for row in sorted(error.errors):
        for column, message in flat_errors(error.errors[row]).items():
            found.append(RowError(row, labels.get(column, ""), message))
    return found
