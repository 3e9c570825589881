"""The approver's decision, the form of every plain approval step."""

from forms import register_form
from forms.common import DecisionFields


@register_form("decision")
class DecisionForm(DecisionFields):
    """Approve or reject, with a comment (required to reject, so the applicant learns why)."""
