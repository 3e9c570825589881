"""Requests as their printed forms (申请表), PDF/A in Chinese whatever the UI language, for
whoever may see the request: the form of its process where it has one (临时卡申请表, the
merchant forms, the reissue record, the termination roster), else the generic form of its
start form's data. The QR code leads to the request's page. Printing changes nothing."""

from collections.abc import Callable, Mapping

from flask import Blueprint
from flask_login import login_required

from app.display import process_name, request_data
from app.i18n import language
from app.instances.views import visible_instance
from app.portal.printing import signature_steps
from app.printouts.request_cards import card_reissue, forced_termination, temporary_card
from app.printouts.request_facts import Filed, common_parts, open_filed
from app.printouts.request_merchants import merchant_onboarding, merchant_revocation
from app.printouts.respond import pdf_response, stamp
from app.web import env
from ledger.models.people import mask_id_number
from reports.pdf import Document
from reports.request_cards import CARD_REISSUE, FORCED_TERMINATION, TEMPORARY_CARD
from reports.request_forms import generic_form
from reports.request_merchants import MERCHANT_ONBOARDING, MERCHANT_REVOCATION
from workflows.models import ProcessInstance

bp = Blueprint("printouts", __name__)

#: process id -> (its printed form, what gathers the form's data from the request).
FORMS: dict[str, tuple[Document, Callable[[Filed], dict]]] = {
    "temporary_card": (TEMPORARY_CARD, temporary_card),
    "card_reissue": (CARD_REISSUE, card_reissue),
    "forced_termination": (FORCED_TERMINATION, forced_termination),
    "merchant_onboarding": (MERCHANT_ONBOARDING, merchant_onboarding),
    "merchant_revocation": (MERCHANT_REVOCATION, merchant_revocation),
}


@bp.get("/requests/<int:instance_id>/form.pdf")
@login_required
def request_form(instance_id: int):
    """The request as its printed form (PDF/A), to print, sign and file; 404 for whoever may
    not see the request."""
    instance = visible_instance(instance_id)
    with language("zh"):
        document, data = request_printout(instance)
    printed = stamp(instance.business_key, "instances.show", instance_id=instance.id)
    return pdf_response(document, data, printed, f"{document.title}-{instance.business_key}")


def request_printout(instance: ProcessInstance) -> tuple[Document, dict]:
    """The printed form of `instance` and its data, in the UI language."""
    filed = open_filed(env(), instance)
    if instance.process_id in FORMS:
        document, gather = FORMS[instance.process_id]
        return document, gather(filed)
    name = process_name(instance.process_id, instance.definition.name)
    return generic_form(name), generic(filed)


def generic(filed: Filed) -> dict:
    """A request of any process: its start form's data under the form's labels (ID numbers
    masked, as on all paper), the decisions, and a signature box for each step it went to."""
    session, instance = filed.env.session, filed.instance
    return common_parts(filed) | {
        "data": request_data(session, instance, masked_id_numbers(filed.start)),
        "signers": signature_steps(session, instance.id),
    }  # fmt: skip


def masked_id_numbers(data):
    """`data` (a form's data: dicts, lists, values) with each ID number masked."""
    if isinstance(data, Mapping):
        return {
            key: mask_id_number(str(value))
            if key.endswith("id_number") and value
            else masked_id_numbers(value)
            for key, value in data.items()
        }
    if isinstance(data, list):
        return [masked_id_numbers(value) for value in data]
    return data
