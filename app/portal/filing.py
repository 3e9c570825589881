"""Filing a request from the portal: its title, its business key (retried if taken at the
same moment), its attachments, the draft it came from, and a termination roster uploaded
as a file."""

from dataclasses import dataclass

from werkzeug.datastructures import FileStorage

from app.formfields import describe, flat_errors
from app.portal.catalog import key_in_use, next_business_key
from app.web import perform
from forms.termination import TerminationEntry
from ledger.errors import DomainError, InvalidInput
from workflows.context import Env
from workflows.instances import start_instance
from workflows.models import ProcessDefinition, ProcessInstance
from workflows.procedures.termination import RosterInvalid, file_roster
from workflows.webstate import MAX_ATTACHMENT_BYTES, attach_file, clean_file_name, delete_draft

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


def request_title(name: str, data: dict) -> str:
    """The request's title in lists: the process's name and whom or what it is about, as
    "临时卡申请：马文博等 2 人", "临时卡延期：卡号 20260001" or "商户接入：学苑超市". Titles
    are stored data, in Chinese like the processes' names."""
    subject = request_subject(data)
    return f"{name}：{subject}" if subject else name


def request_subject(data: dict) -> str:
    """Whom or what the form's `data` is about: the first person listed (and how many), a
    merchant's name, a card or a merchant code; "" if it names none yet."""
    for value in data.values():
        if isinstance(value, list) and value and isinstance(value[0], dict):
            first = value[0].get("name")
            if first:
                return str(first) if len(value) == 1 else f"{first}等 {len(value)} 人"
    for value in data.values():
        if isinstance(value, dict) and value.get("name"):
            return str(value["name"])
    if data.get("card_no"):
        return f"卡号 {data['card_no']}"
    if data.get("merchant_code"):
        return f"商户 {data['merchant_code']}"
    return ""


def file_request(
    env: Env,
    definition: ProcessDefinition,
    data: dict,
    department_id: int | None,
    uploads: list[Upload],
    draft_id: int | None = None,
) -> ProcessInstance:
    """File the request with a new business key, store its attachments and delete the draft
    it was filed from, in one unit of work. A key taken by someone filing at the same moment
    is retried with the next one."""
    attempt = 1
    while True:
        key = next_business_key(env.session, definition.process_id, env.today)
        try:
            return perform(_file, env, definition, key, data, department_id, uploads, draft_id)
        except InvalidInput:
            if attempt == KEY_ATTEMPTS or not key_in_use(env.session, definition.process_id, key):
                raise
            attempt += 1


def _file(env: Env, definition, key, data, department_id, uploads, draft_id) -> ProcessInstance:
    title = request_title(definition.name, data)
    instance = start_instance(env, definition.process_id, key, data, department_id, title)
    attach(env, instance, uploads)
    if draft_id is not None:
        delete_draft(env, draft_id)
    return instance


def attach(env: Env, instance: ProcessInstance, uploads: list[Upload]) -> None:
    """Store `uploads` as the request's attachments, added by the acting user."""
    for upload in uploads:
        attach_file(env, instance, upload.file_name, upload.content)


def file_roster_upload(
    env: Env, upload: Upload | None, department_id: int | None, note: str
) -> ProcessInstance:
    """File a forced termination from an uploaded roster (CSV or XLSX); RosterInvalid lists
    the rows with errors and nothing is filed. The roster is kept as an attachment."""
    if upload is None:
        raise InvalidInput(reason_zh="请选择名单文件", reason_en="choose a roster file")

    def file_and_keep() -> ProcessInstance:
        instance = file_roster(env, upload.file_name, upload.content, department_id, note)
        attach(env, instance, [upload])
        return instance

    return perform(file_and_keep)


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
