"""Forms drawn from their schemas and posted fields read back into the data they load."""

import pytest
from werkzeug.datastructures import MultiDict

from app.formfields import describe, flat_errors, parse
from forms import get_form


@pytest.fixture
def request_ctx(app):
    with app.test_request_context("/"):
        yield


def test_nested_rows_are_read_back_in_order_and_blank_rows_dropped(request_ctx):
    posted = MultiDict({
        "reason": "科研项目", "people.1.name": "林雪", "people.0.name": "马文博",
        "people.0.id_number": "110108198506123015", "people.2.name": "", "csrf_token": "x",
    })  # fmt: skip
    data = parse(get_form("temporary_card_application"), posted)
    assert data["reason"] == "科研项目"
    assert [p["name"] for p in data["people"]] == ["马文博", "林雪"]
    assert "csrf_token" not in data


def test_unticked_and_blank_fields_are_left_to_the_schemas_defaults(request_ctx):
    form = MultiDict({"card_no": "20260001", "reason": "lost", "delegate.name": ""})
    data = parse(get_form("card_reissue"), form)
    assert data == {"card_no": "20260001", "reason": "lost"}
    assert get_form("card_reissue").load(data)["fee_from_balance"] is False


def test_unticked_required_checkbox_is_false(request_ctx):
    data = parse(get_form("merchant_application"), MultiDict({"merchant.name": "学苑超市"}))
    assert data["merchant"]["commercial"] is False


def test_ticked_checkbox_is_true(request_ctx):
    form = MultiDict({"decision": "approve", "certified": "true"})
    assert parse(get_form("department_certification"), form)["certified"] is True


def test_lines_field_is_split_into_a_list(request_ctx):
    form = MultiDict({"decision": "approve", "excluded": "2001, 2002\n2003"})
    assert parse(get_form("termination_review"), form)["excluded"] == ["2001", "2002", "2003"]


def test_fields_carry_labels_choices_values_and_errors(app):
    with app.test_request_context("/"):
        fields = describe(get_form("card_reissue"), {"reason": "lost"}, {"card_no": "必填"})
        by_name = {f.name: f for f in fields}
        assert by_name["card_no"].label == "需补办的卡号" and by_name["card_no"].error == "必填"
        assert ("lost", "遗失") in by_name["reason"].choices and by_name["reason"].value == "lost"
        assert by_name["delegate"].widget == "group"
        assert "delegate.evidence" in [f.name for f in by_name["delegate"].children]
    with app.test_request_context("/", headers={"Accept-Language": "en"}):
        by_name = {f.name: f for f in describe(get_form("card_reissue"))}
        assert by_name["card_no"].label == "Card to replace"
        assert ("lost", "Lost") in by_name["reason"].choices


def test_table_field_has_a_blank_row_after_the_filled_ones(request_ctx):
    people = describe(get_form("temporary_card_application"), {"people": [{"name": "林雪"}]})
    table = next(f for f in people if f.name == "people")
    assert table.widget == "table" and len(table.rows) == 2
    assert table.rows[0][0].name == "people.0.name" and table.rows[0][0].value == "林雪"
    assert table.children[0].name == "people.__index__.name"


def test_nested_errors_are_flattened_to_input_names_in_the_users_language(app):
    messages = {
        "people": {0: {"id_number": ["身份证号码无效 / invalid resident ID"]}},
        "_schema": ["表单有误 / form invalid"],
        "reason": ["必填 / required"],
    }
    with app.test_request_context("/"):
        flat = flat_errors(messages)
    assert flat == {"people.0.id_number": "身份证号码无效", "_schema": "表单有误", "reason": "必填"}
    with app.test_request_context("/", headers={"Accept-Language": "en"}):
        assert flat_errors(messages)["reason"] == "required"


@pytest.mark.parametrize(
    "posted",
    [{"reason": "x", "reason.y": "z"}, {"reason.y": "z", "reason": "x"},
     {"people.0": "b", "people.0.name": "林雪"}, {"people": "b"}],
)  # fmt: skip
def test_crafted_names_that_clash_are_ignored_not_a_crash(request_ctx, posted):
    data = parse(get_form("temporary_card_application"), MultiDict(posted))
    assert isinstance(data, dict)
