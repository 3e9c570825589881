"""`flask users create` and `flask users list`."""

import pytest


@pytest.fixture
def cli(app):
    """`cli(*args)`: run a `flask` command against `app`."""
    runner = app.test_cli_runner()
    return lambda *args: runner.invoke(args=list(args))


def test_create_and_list_users(cli, make_department):
    make_department("CS")
    result = cli(
        "users", "create", "zhang", "--password", "pw-123456", "--display-name", "张老师",
        "--role", "dept_approver:CS", "--role", "card_office",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "已创建用户 zhang" in result.output
    cli("users", "create", "admin", "--password", "pw", "--role", "admin")
    listing = cli("users", "list").output.splitlines()
    assert listing == [
        "admin\tadmin\tactive\tadmin",
        "zhang\t张老师\tactive\tdept_approver@CS,card_office",
    ]


def test_created_user_can_log_in(cli, client, login):
    cli("users", "create", "wang", "--password", "pw-123456")
    assert login(client, "wang", "pw-123456").status_code == 302


@pytest.mark.parametrize(
    ("args", "exit_code", "message"),
    [
        (["--role", "janitor"], 2, "未知角色 janitor"),
        (["--role", "hr:NOPE"], 1, "未知部门代码 NOPE"),
    ],
)
def test_create_refuses_bad_roles(cli, args, exit_code, message):
    result = cli("users", "create", "zhao", "--password", "pw", *args)
    assert result.exit_code == exit_code
    assert message in result.output
    assert cli("users", "list").output == ""


def test_create_refuses_a_taken_username(cli):
    cli("users", "create", "zhou", "--password", "pw")
    result = cli("users", "create", "zhou", "--password", "pw")
    assert result.exit_code == 1
    assert "用户名 zhou 已存在" in result.output
