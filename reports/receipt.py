"""The receipt (回执) of a counter operation: what was done, for whom, by whom and when, with
the lines the counter showed, and boxes for the clerk's and the cardholder's signatures."""

from marshmallow import Schema, fields

from reports.formats import CampusDateTime
from reports.pdf import Document


class ReceiptSchema(Schema):
    operation = fields.String()
    holder = fields.String()
    record = fields.String()
    clerk = fields.String()
    at = CampusDateTime()
    rows = fields.List(fields.Tuple((fields.String(), fields.String())))


RECEIPT = Document("receipt.html", "校园卡业务回执", ReceiptSchema())
